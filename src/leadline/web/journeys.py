"""The buyer's journeys: the list, one journey's steps and signals, YAML export, edit and import,
the editor (a journey's steps and exit signals as a form, web.journey_editor), and moving a
person or an account's buying group to a step by hand. Thin: reads through
journeys.selectors, writes through journeys.services."""

from __future__ import annotations

from typing import Any

import yaml
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core.models import Account, Person
from leadline.core.permissions import (
    access_journey_edit,
    access_journey_move,
    access_journeys,
)
from leadline.journeys.models import Journey, JourneyStep
from leadline.journeys.selectors import journey_places, journey_yaml, journeys_now
from leadline.journeys.services import (
    MAX_STEPS,
    JourneyChangedMeanwhile,
    JourneyImportError,
    journey_import,
    journey_move,
    journey_remove,
    journey_save,
    step_drop_refusal,
)
from leadline.web.access import account_in_view, is_htmx, page, person_in_view
from leadline.web.journey_editor import KNOWN_EVENTS, Draft

YAML_MAX_BYTES = 100 * 1024
NOTE_MAX_CHARS = 2000


# Reading --------------------------------------------------------------------------------------


@require_GET
@page(access_journeys)
def journeys_list(request: HttpRequest) -> HttpResponse:
    context = {
        "nav": "journeys",
        "journeys": journeys_now(),
        "may_edit": access_journey_edit(request.user),
    }
    return render(request, "web/journey_list.html", context)


@require_GET
@page(access_journeys)
def journey_detail(request: HttpRequest, slug: str) -> HttpResponse:
    found = journeys_now(slug=slug)
    if not found:
        raise Http404("No such journey")
    context = {
        "nav": "journeys",
        "now": found[0],
        "journey": found[0].journey,
        "may_edit": access_journey_edit(request.user),
    }
    return render(request, "web/journey_detail.html", context)


@require_GET
@page(access_journeys)
def journey_export(request: HttpRequest, slug: str) -> HttpResponse:
    journey = get_object_or_404(Journey, slug=slug)
    response = HttpResponse(journey_yaml(journey), content_type="text/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{journey.slug}.yaml"'
    return response


# Editing --------------------------------------------------------------------------------------


class YamlProblem(ValueError):
    """YAML that cannot be read; the message says where."""


def _yaml_load(text: str) -> Any:
    if len(text.encode()) > YAML_MAX_BYTES:
        raise YamlProblem(f"The YAML is larger than {YAML_MAX_BYTES // 1024} KB.")
    if not text.strip():
        raise YamlProblem("The YAML is empty.")
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "cannot be read"
        raise YamlProblem(f"YAML syntax error{where}: {problem}.") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML syntax error: {exc}.") from exc


def _import(text: str, *, actor: Any, slug: str | None = None) -> Journey:
    """Read the YAML and import it; `slug`: the journey this page edits, which it must stay.
    Raises YamlProblem or JourneyImportError."""
    data = _yaml_load(text)
    if slug is not None and isinstance(data, dict):
        given = data.get("slug")
        if given in (None, ""):
            data["slug"] = slug
        elif slugify(str(given)) != slug:
            raise JourneyImportError(
                f"slug: this page edits “{slug}”; to make a new journey, use Import"
            )
    return journey_import(data=data, actor=actor)


@require_http_methods(["GET", "POST"])
@page(access_journey_edit)
def journey_edit(request: HttpRequest, slug: str) -> HttpResponse:
    journey = get_object_or_404(Journey, slug=slug)
    text = journey_yaml(journey)
    error = ""
    status = 200
    if request.method == "POST":
        text = request.POST.get("yaml", "")
        try:
            saved = _import(text, actor=request.user, slug=journey.slug)
        except (YamlProblem, JourneyImportError) as exc:
            error, status = str(exc), 400
        else:
            messages.success(request, f"Journey “{saved.name}” saved.")
            return redirect("web:journey", slug=saved.slug)
    context = {"nav": "journeys", "journey": journey, "text": text, "error": error}
    return render(request, "web/journey_edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@page(access_journey_edit)
def journey_import_page(request: HttpRequest) -> HttpResponse:
    text = ""
    error = ""
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        text = request.POST.get("yaml", "")
        try:
            if upload is not None:
                if upload.size is not None and upload.size > YAML_MAX_BYTES:
                    raise YamlProblem(f"The file is larger than {YAML_MAX_BYTES // 1024} KB.")
                try:
                    text = upload.read(YAML_MAX_BYTES + 1).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise YamlProblem("The file is not UTF-8 text.") from exc
            saved = _import(text, actor=request.user)
        except (YamlProblem, JourneyImportError) as exc:
            error, status = str(exc), 400
        else:
            messages.success(request, f"Journey “{saved.name}” imported.")
            return redirect("web:journey", slug=saved.slug)
    context = {"nav": "journeys", "text": text, "error": error, "max_kb": YAML_MAX_BYTES // 1024}
    return render(request, "web/journey_import.html", context, status=status)


# Moving someone by hand -----------------------------------------------------------------------


def _move(
    request: HttpRequest, *, slug: str, person: Person | None, account: Account | None
) -> HttpResponse:
    subject: Person | Account = person if person is not None else account  # type: ignore[assignment]
    journey = get_object_or_404(Journey, slug=slug)
    note = request.POST.get("note", "").strip()
    raw_step = request.POST.get("step", "")
    step = (
        journey.steps.filter(pk=int(raw_step)).first()
        if raw_step.isascii() and raw_step.isdigit() and len(raw_step) < 16
        else None
    )
    taking_off = request.POST.get("action") == "take_off"
    error = done = ""
    if len(note) > NOTE_MAX_CHARS:
        error = f"The note can be at most {NOTE_MAX_CHARS} characters."
    elif taking_off:
        try:
            journey_remove(
                journey=journey,
                removed_by=request.user,  # type: ignore[arg-type]
                person=person,
                account=account,
                note=note,
            )
            done = f"Taken off {journey.name}."
        except ValueError as exc:
            error = f"Not taken off: {exc}."
    elif step is None:
        error = "Choose one of the journey's steps."
    else:
        try:
            journey_move(
                journey=journey,
                to_step=step,
                moved_by=request.user,  # type: ignore[arg-type]
                person=person,
                account=account,
                note=note,
            )
            done = _moved_words(step)
        except ValueError as exc:
            error = f"Not moved: {exc}."
    detail = reverse("web:person" if person is not None else "web:account", args=[subject.pk])
    if done and not is_htmx(request):
        messages.success(request, done)
        return redirect(f"{detail}#journeys")
    context: dict[str, Any] = {
        "nav": "people" if person is not None else "accounts",
        "journeys": journey_places(person=person, account=account),
        "may_move_journeys": True,
        "subject_kind": "person" if person is not None else "account",
        "subject": subject,
        "subject_url": detail,
        "move_error": error,
        "move_journey": journey.slug,
        "move_note": note if error else "",
        "move_step": step.pk if (error and step is not None) else None,
        "announcement": error or done,
        "fragment": is_htmx(request),
    }
    status = 400 if error else 200
    # htmx swaps the section; without JavaScript a refused move gets a page of its own with
    # the problem and the form again (the move succeeded: back to the page, above).
    template = "web/_person_journeys.html" if is_htmx(request) else "web/journey_move.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _moved_words(step: JourneyStep) -> str:
    return f"Moved to “{step.name}” ({step.journey.name})."


@require_POST
@page(access_journey_move)
def person_journey_move(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    person = person_in_view(request, pk=pk, merged_into__isnull=True)
    return _move(request, slug=slug, person=person, account=None)


@require_POST
@page(access_journey_move)
def account_journey_move(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    account = account_in_view(request, pk=pk, merged_into__isnull=True)
    return _move(request, slug=slug, person=None, account=account)


# The editor: a journey's steps and exit signals as a form ---------------------------------------


@require_http_methods(["GET", "POST"])
@page(access_journey_edit)
def journey_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@require_http_methods(["GET", "POST"])
@page(access_journey_edit)
def journey_editor(request: HttpRequest, slug: str) -> HttpResponse:
    return _editor(request, get_object_or_404(Journey, slug=slug))


def _editor(request: HttpRequest, journey: Journey | None) -> HttpResponse:
    """GET: the form. POST with action=save (or none: Enter in a field): check and save through
    journey_save, the YAML import's own checks. Any other action (add, remove, move a step or a
    signal) changes the form and shows it again, nothing saved: htmx swaps the form in place, a
    plain POST gets the page."""
    if request.method == "GET":
        draft = Draft.from_journey(journey) if journey is not None else Draft.blank()
        return _editor_page(request, journey, draft)

    draft = Draft.from_post(request.POST, editing=journey is not None)
    action = request.POST.get("action") or "save"
    if action.startswith("preview-"):
        signal = draft.signal_at(action)
        if signal is None:
            return HttpResponse("No such exit signal.", status=400, content_type="text/plain")
        words, problem = signal.preview()
        return render(
            request, "web/_journey_signal_preview.html", {"words": words, "problem": problem}
        )
    status = 200
    if action == "save":
        try:
            saved = journey_save(
                data=draft.as_data(),
                actor=request.user,  # type: ignore[arg-type]
                journey=journey,
                step_ids=draft.step_ids(),
                unchanged_since=draft.version_time() if journey is not None else None,
            )
        except JourneyChangedMeanwhile as exc:
            # Saving again means "mine over theirs": the form now carries their version.
            assert journey is not None
            journey.refresh_from_db(fields=["updated_at"])
            draft.version = journey.updated_at.isoformat()
            draft.add_problems(exc.problems)
            status = 409
        except JourneyImportError as exc:
            draft.add_problems(exc.problems)
            status = 400
        else:
            verb = "created" if journey is None else "saved"
            messages.success(request, f"Journey “{saved.name}” {verb}.")
            url = reverse("web:journey", args=[saved.slug])
            if is_htmx(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
        draft.announcement = (
            f"Nothing was saved: {len(draft.problems())} problem"
            f"{'' if len(draft.problems()) == 1 else 's'} to fix."
        )
    elif not draft.act(action, refusal=lambda step_id: _refusal(journey, step_id)):
        status = 400
        draft.announcement = "That button is not on this form any more; nothing changed."
    return _editor_page(request, journey, draft, status=status)


def _refusal(journey: Journey | None, step_id: int) -> str:
    """Why the editor's "Remove step" is refused for a stored step: the import's own rule."""
    step = journey.steps.filter(pk=step_id).first() if journey is not None else None
    return step_drop_refusal(step) if step is not None else ""


def _editor_page(
    request: HttpRequest, journey: Journey | None, draft: Draft, *, status: int = 200
) -> HttpResponse:
    if journey is not None:
        found = journeys_now(slug=journey.slug)
        draft.add_counts({s.step.pk: (s.people, s.accounts) for now in found for s in now.steps})
    events = set(KNOWN_EVENTS)
    events.update(s.event for step in draft.steps for s in step.signals if s.event)
    events.update(s.event for s in draft.start_signals if s.event)
    fragment = is_htmx(request) and request.method == "POST"
    draft.place_focus()
    context = {
        "nav": "journeys",
        "journey": journey,
        "draft": draft,
        "problems": draft.problems(),
        "form_url": (
            reverse("web:journey_editor", args=[journey.slug])
            if journey is not None
            else reverse("web:journey_new")
        ),
        "events": sorted(events),
        "max_steps": MAX_STEPS,
        "fragment": fragment,
    }
    template = "web/_journey_editor.html" if fragment else "web/journey_editor.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
