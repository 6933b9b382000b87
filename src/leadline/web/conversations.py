"""Conversations and pain points in the staff UI: log a call, meeting, email or note from a
person's or an account's page, confirm or reject the pain points it suggests, and keep the
pain-point catalogue. Thin: reads through journeys.selectors, writes through
journeys.conversations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.commitments.services import conversation_log_with_commitments
from leadline.core import clock
from leadline.core.models import Account, Person, User
from leadline.core.permissions import (
    access_pain_point_edit,
    access_pain_points,
    access_person_edit,
)
from leadline.core.selectors import (
    account_people,
    account_people_first,
    account_roster,
    person_account,
)
from leadline.journeys.conversations import (
    pain_point_create,
    pain_point_decide,
    pain_point_update,
)
from leadline.journeys.models import (
    Conversation,
    ConversationKind,
    ConversationPainPoint,
    PainPoint,
    PainStatus,
    Visibility,
)
from leadline.journeys.selectors import (
    conversation_item,
    pain_point_products,
    pain_point_tallies,
    pains_said,
)
from leadline.relationships.memory import (
    TIMELINE_SHOW,
    account_timeline_all,
    account_timeline_people,
    conversations_of_visible,
    may_read,
    pains_said_visible,
)
from leadline.web import choices
from leadline.web.access import account_in_view, is_htmx, page, person_in_view
from leadline.web.choices import offer_first
from leadline.web.commitments import PromisesPart, promised_words

SUMMARY_MAX_CHARS = 5000
QUOTES_MAX_CHARS = 5000
# A conversation is logged once it happened; a few minutes' grace for clocks that differ.
FUTURE_GRACE = dt.timedelta(minutes=5)
# Who may read it, in the words of the one logging it (relationships.memory applies it).
VISIBILITY_CHOICES = [
    (Visibility.COMPANY.value, "Everyone"),
    (Visibility.TEAM.value, "My team (personal context)"),
    (Visibility.AUTHOR.value, "Only me and managers"),
]


# Logging a conversation --------------------------------------------------------------------------


class ConversationForm(PromisesPart, forms.Form):  # commitments: the "Promises made" part
    kind = forms.ChoiceField(
        choices=ConversationKind.choices, initial=ConversationKind.CALL, label="What kind"
    )
    occurred_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"required": "Say when it happened.", "invalid": "Enter a date and time."},
    )
    people = forms.ModelMultipleChoiceField(
        queryset=Person.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Who took part",
        error_messages={"required": "Choose at least one person who took part."},
    )
    sellers = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="From our side",
    )
    summary = forms.CharField(
        label="What was talked about",
        max_length=SUMMARY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say what was talked about, in a sentence or two."},
    )
    quotes = forms.CharField(
        label="Their words",
        required=False,
        max_length=QUOTES_MAX_CHARS,
        help_text="What they said, as they said it: one quote a line. Pain points are suggested "
        "from these words first.",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "“Month-end takes us twelve days.”"}
        ),
    )
    private = forms.BooleanField(
        label="Hide from outside callers",
        required=False,
        help_text="Staff only: outside callers never see it.",
    )
    visibility = forms.ChoiceField(
        label="Who may read it",
        choices=VISIBILITY_CHOICES,
        initial=Visibility.COMPANY,
        widget=forms.RadioSelect,
        required=False,  # not chosen: everyone (company memory)
        help_text="Calls, meetings and emails are company memory: everyone sees the whole "
        "history. A note of personal context is for the team that owns the relationship.",
        error_messages={"invalid_choice": "Choose who may read it."},
    )

    def __init__(
        self, *args: Any, people: QuerySet[Person], seller: User | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["people"].queryset = people  # type: ignore[attr-defined]
        # The one logging it first: it is most often their own conversation.
        me = seller.pk if seller is not None else None
        self.fields["sellers"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(is_active=True)
            .annotate(is_me=Case(When(pk=me, then=Value(0)), default=Value(1)))
            .order_by("is_me", "first_name", "last_name", "username")
        )
        if not self.is_bound:
            self.initial.setdefault("occurred_at", timezone.localtime(clock.now()))
            if seller is not None:
                self.initial.setdefault("sellers", [seller.pk])

    def clean_visibility(self) -> str:
        return str(self.cleaned_data.get("visibility") or Visibility.COMPANY)

    def clean_occurred_at(self) -> dt.datetime:
        at: dt.datetime = self.cleaned_data["occurred_at"]
        if at > clock.now() + FUTURE_GRACE:
            raise ValidationError("That is in the future: log a conversation once it happened.")
        return at

    def error_summary(self) -> list[dict[str, str]]:
        """Each problem named by its field, linking to the input that needs attention."""
        summary = []
        for name, errors in self.errors.items():
            if name == "__all__":
                summary += [{"label": "", "message": str(e), "anchor": ""} for e in errors]
                continue
            field = self[name]
            grouped = name in ("people", "sellers", "visibility")
            anchor = f"{field.auto_id}_0" if grouped else field.auto_id
            summary += [
                {"label": str(field.label), "message": str(e), "anchor": anchor} for e in errors
            ]
        return summary


def _people_choices(*, person: Person | None, account: Account | None) -> QuerySet[Person]:
    """Who may have taken part: the account's people (on a person's page, their colleagues at
    their company, and themselves)."""
    if account is None:
        return Person.objects.filter(pk=person.pk) if person is not None else Person.objects.none()
    plus = [person.pk] if person is not None else []
    chosen = Person.objects.filter(account_people("pk", account=account, plus=plus)).filter(
        Q(merged_into__isnull=True) | Q(pk__in=plus)
    )
    return chosen.order_by("last_name", "first_name", "pk")


def _conversation_form(
    request: HttpRequest, *, person: Person | None, account: Account | None, data: Any = None
) -> ConversationForm:
    form = ConversationForm(
        data,
        people=_people_choices(person=person, account=account),
        seller=request.user if isinstance(request.user, User) else None,
        auto_id="conversation-%s",
    )
    if data is None and person is not None:
        form.initial["people"] = [person.pk]
    # At a company of thousands, the first CHOICES_SHOWN by name (and this person), counted
    # from the account's roster (read once for the page).
    keep = [person.pk if person is not None else None]
    if account is None:
        offer_first(form.fields["people"], keep=keep)
        return form
    first, total = account_people_first(account=account, limit=choices.CHOICES_SHOWN)
    if person is not None and person.pk not in account_roster(account).live():
        total += 1
    offer_first(form.fields["people"], keep=keep, total=total, first=first)
    return form


def conversations_context(
    request: HttpRequest,
    *,
    person: Person | None = None,
    account: Account | None = None,
    form: ConversationForm | None = None,
) -> dict[str, Any]:
    """What the person and account pages need for the Conversations section (and, on a
    person's page, "What they said hurts")."""
    if person is not None:
        account = person_account(person)
        subject_kind = "person"
        log_url = reverse("web:person_conversation_new", args=[person.pk])
    elif account is not None:
        subject_kind = "account"
        log_url = reverse("web:account_conversation_new", args=[account.pk])
    else:
        raise ValueError("a person or an account")
    subject: Person | Account = person if person is not None else account  # type: ignore[assignment]
    may_log = access_person_edit(request.user)
    context: dict[str, Any] = {
        "conversations": (
            conversations_of_visible(user=request.user, person=person)
            if person is not None
            else conversations_of_visible(user=request.user, account=account)
        ),
        "conversation_subject": subject,
        "conversation_subject_kind": subject_kind,
        "conversation_log_url": log_url,
        "may_log_conversations": may_log,
        "may_decide_pains": may_log,
        # Given after a refused log; else fetched when the panel opens (`_log`, htmx).
        "conversation_form": form,
    }
    if person is not None:
        context["pains_said"] = pains_said_visible(
            user=request.user, said=pains_said(person=person)
        )
    return context


def _logged_words(conversation: Conversation, suggested: int) -> str:
    said = f"{conversation.get_kind_display()} logged."
    if suggested:
        said += (
            f" {suggested} pain point{'s' if suggested != 1 else ''} suggested from what was"
            " said: confirm or reject below."
        )
    return said


def _log(request: HttpRequest, *, person: Person | None, account: Account | None) -> HttpResponse:
    detail = (
        reverse("web:person", args=[person.pk])
        if person is not None
        else reverse("web:account", args=[account.pk])  # type: ignore[union-attr]
    )
    form_account = person_account(person) if person is not None else account
    if request.method == "GET":
        form = _conversation_form(request, person=person, account=form_account)
        if is_htmx(request):  # the form alone, into the page's Conversations panel
            response = render(
                request,
                "web/_conversation_form.html",
                {"form": form, "conversation_log_url": request.path},
            )
            patch_vary_headers(response, ["HX-Request"])
            return response
        return _log_page(request, person=person, account=account, form=form, detail=detail)
    form = _conversation_form(request, person=person, account=form_account, data=request.POST)
    conversation = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            conversation, promised = conversation_log_with_commitments(
                promises=form.promises(),
                promised_to=person,
                kind=data["kind"],
                summary=data["summary"],
                quotes=data["quotes"],
                people=list(data["people"]),
                sellers=list(data["sellers"]),
                account=form_account,
                occurred_at=data["occurred_at"],
                logged_by=request.user,
                private=data["private"],
                visibility=data["visibility"],
            )
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            form.add_error(field if field in form.fields else None, message or str(exc))
        except ValidationError as exc:  # a promise the commitments service refused
            form.promise_errors(exc)
    if conversation is None:
        if not is_htmx(request):
            return _log_page(
                request, person=person, account=account, form=form, detail=detail, status=400
            )
        return _section(
            request,
            person=person,
            account=account,
            form=form,
            status=400,
            said="Not logged: "
            + " ".join(f"{e['label']}: {e['message']}" for e in form.error_summary()),
        )
    said = _logged_words(conversation, conversation.pain_points.count()) + promised_words(promised)
    if not is_htmx(request):
        messages.success(request, said)
        return redirect(f"{detail}#conversation-{conversation.pk}")
    return _section(request, person=person, account=account, said=said, focus=conversation.pk)


def _section(
    request: HttpRequest,
    *,
    person: Person | None,
    account: Account | None,
    form: ConversationForm | None = None,
    status: int = 200,
    said: str = "",
    focus: int | None = None,
) -> HttpResponse:
    """The Conversations section's body again, and what happened announced (htmx)."""
    context = conversations_context(request, person=person, account=account, form=form)
    context.update(
        {
            "fragment": True,
            "conversation_status": said,
            "conversation_focus": focus,
            "conversation_errors": form.error_summary() if form is not None else [],
            "conversation_open": status >= 400,
        }
    )
    response = render(request, "web/_person_conversations.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _log_page(
    request: HttpRequest,
    *,
    person: Person | None,
    account: Account | None,
    form: ConversationForm,
    detail: str,
    status: int = 200,
) -> HttpResponse:
    """The form on a page of its own: without JavaScript, and after a refused plain post."""
    context = {
        "nav": "people" if person is not None else "accounts",
        "subject": person if person is not None else account,
        "subject_kind": "person" if person is not None else "account",
        "subject_url": detail,
        "conversation_form": form,
        "conversation_log_url": request.path,
        "conversation_errors": form.error_summary() if form.is_bound else [],
    }
    response = render(request, "web/conversation_new.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@page(access_person_edit)
def person_conversation_new(request: HttpRequest, pk: int) -> HttpResponse:
    person = person_in_view(request, pk=pk, merged_into__isnull=True)
    return _log(request, person=person, account=None)


@require_http_methods(["GET", "POST"])
@page(access_person_edit)
def account_conversation_new(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_in_view(request, pk=pk, merged_into__isnull=True)
    return _log(request, person=None, account=account)


# Company memory: the account's whole timeline ------------------------------------------------


TIMELINE_PEOPLE_SHOWN = 100
# The account timeline lists the newest TIMELINE_SHOWN events; "Show older" adds as many again,
# up to TIMELINE_SHOWN_MAX (a company of thousands has tens of thousands).
TIMELINE_SHOWN = 50
TIMELINE_SHOWN_MAX = 500


def account_timeline_context(request: HttpRequest, *, account: Account) -> dict[str, Any]:
    """The account page's timeline: every event of the account and of the people who are or
    were its members, as the user may see them; narrowed by ?show= (TIMELINE_SHOW) and
    ?with=<person id> (one of its people)."""
    show = request.GET.get("show", "all")
    if show not in TIMELINE_SHOW:
        show = "all"
    # The filter offers the first TIMELINE_PEOPLE_SHOWN members by name; ?with= may name any.
    members = account_timeline_people(account=account)
    people, _ = account_people_first(account=account, limit=TIMELINE_PEOPLE_SHOWN, live=False)
    raw = request.GET.get("with", "")
    chosen = members.filter(pk=int(raw)).first() if raw.isdigit() else None
    if chosen is not None and chosen not in people:
        people.append(chosen)
    raw_shown = request.GET.get("events", "")
    shown = int(raw_shown) if raw_shown.isdigit() else TIMELINE_SHOWN
    shown = min(max(shown, TIMELINE_SHOWN), TIMELINE_SHOWN_MAX)
    events = list(
        account_timeline_all(
            account=account, user=request.user, show=show, person=chosen, limit=shown + 1
        )
    )
    truncated = len(events) > shown
    events = events[:shown]
    return {
        "timeline": events,
        "timeline_truncated": truncated,
        "timeline_older": truncated and shown < TIMELINE_SHOWN_MAX,
        "timeline_more": shown + TIMELINE_SHOWN,
        "timeline_show": show,
        "timeline_show_choices": [(key, label) for key, (label, _) in TIMELINE_SHOW.items()],
        "timeline_people": people,
        "timeline_with": chosen,
        "timeline_narrowed": show != "all" or chosen is not None,
    }


def account_timeline_fragment(request: HttpRequest, *, account: Account) -> HttpResponse | None:
    """The timeline's body alone when htmx asks for it (the filter changed); else None."""
    if not (is_htmx(request) and request.GET.get("part") == "timeline"):
        return None
    context = {"account": account, "fragment": True}
    context.update(account_timeline_context(request, account=account))
    response = render(request, "web/_account_timeline.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# Confirming or rejecting a suggested pain point --------------------------------------------------


def _decided_words(suggestion: ConversationPainPoint) -> str:
    name = suggestion.pain_point.name
    if suggestion.status == PainStatus.CONFIRMED:
        return f"Confirmed: {name}. It shows under “What they said hurts”."
    return f"Rejected: {name}."


@require_POST
@page(access_person_edit)
def suggestion_decide(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = get_object_or_404(
        ConversationPainPoint.objects.select_related("pain_point", "conversation"), pk=pk
    )
    if not may_read(user=request.user, conversation=suggestion.conversation):
        raise Http404("no such suggestion")
    decision = request.POST.get("decision", "")
    if decision not in ("confirm", "reject"):
        return HttpResponse("Say confirm or reject.", status=400, content_type="text/plain")
    pain_point_decide(
        suggestion=suggestion,
        confirmed=decision == "confirm",
        decided_by=request.user,  # type: ignore[arg-type]
    )
    said = _decided_words(suggestion)
    people = suggestion.conversation.people.all()
    person = _posted(request, "person", people)
    account = _posted(request, "account", Account.objects.all())
    if not is_htmx(request):
        messages.success(request, said)
        if person is not None:
            return redirect(reverse("web:person", args=[person.pk]) + "#conversations")
        if account is not None:
            return redirect(reverse("web:account", args=[account.pk]) + "#conversations")
        first = people.first()
        return redirect(reverse("web:person", args=[first.pk]) if first else "web:people")
    item = conversation_item(suggestion.conversation_id)
    suggestion = next(s for s in item.suggestions if s.pk == suggestion.pk) if item else suggestion
    context = {
        "suggestion": suggestion,
        "conversation_subject": person or account,
        "conversation_subject_kind": "person" if person is not None else "account",
        "may_decide_pains": True,
        "decided_now": True,
        "conversation_status": said,
        "pains_said": (
            pains_said_visible(user=request.user, said=pains_said(person=person))
            if person is not None
            else None
        ),
    }
    response = render(request, "web/_pain_point_suggestion.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _posted(request: HttpRequest, name: str, among: QuerySet[Any]) -> Any:
    raw = request.POST.get(name, "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 16):
        return None
    return among.filter(pk=int(raw)).first()


# The pain-point catalogue ------------------------------------------------------------------------


class PainPointForm(forms.Form):
    name = forms.CharField(
        label="Pain point",
        max_length=200,
        help_text="As a buyer would name it: “Month-end close takes too long”.",
        error_messages={"required": "Give the pain point a name."},
    )
    product = forms.CharField(
        label="Product",
        max_length=120,
        required=False,
        help_text="Empty: it applies to any product.",
        widget=forms.TextInput(attrs={"list": "pain-point-products", "autocomplete": "off"}),
    )
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    phrases = forms.CharField(
        label="Phrases buyers use",
        required=False,
        help_text="One a line. A conversation that says one of them (any case, whole words) "
        "suggests this pain point.",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "month-end\nclosing the books"}),
    )


class PainPointEditForm(PainPointForm):
    is_active = forms.BooleanField(
        label="Active: suggest it in new conversations",
        required=False,
    )


def _add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    for name, problems in exc.message_dict.items():
        for problem in problems:
            form.add_error(name if name in form.fields else None, problem)


@require_GET
@page(access_pain_points)
def pain_points(request: HttpRequest) -> HttpResponse:
    return _catalogue(request, PainPointForm(auto_id="pain-new-%s"))


def _catalogue(request: HttpRequest, form: PainPointForm, *, status: int = 200) -> HttpResponse:
    tallies = pain_point_tallies()
    groups: dict[str, list[Any]] = {}
    for tally in tallies:
        groups.setdefault(tally.pain_point.product, []).append(tally)
    context = {
        "nav": "pain_points",
        "groups": sorted(groups.items(), key=lambda item: (item[0] != "", item[0].lower())),
        "total": len(tallies),
        "may_edit": access_pain_point_edit(request.user),
        "form": form,
        "products": pain_point_products(),
        "errors": form.errors and status >= 400,
    }
    return render(request, "web/pain_points.html", context, status=status)


@require_POST
@page(access_pain_point_edit)
def pain_point_new(request: HttpRequest) -> HttpResponse:
    form = PainPointForm(request.POST, auto_id="pain-new-%s")
    if form.is_valid():
        try:
            made = pain_point_create(created_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, f"Pain point “{made.name}” added.")
            return redirect(reverse("web:pain_points") + f"#pain-{made.pk}")
    return _catalogue(request, form, status=400)


@require_http_methods(["GET", "POST"])
@page(access_pain_point_edit)
def pain_point_edit(request: HttpRequest, pk: int) -> HttpResponse:
    pain_point = get_object_or_404(PainPoint, pk=pk)
    status = 200
    if request.method == "POST":
        form = PainPointEditForm(request.POST, auto_id="pain-%s")
        if form.is_valid():
            try:
                pain_point_update(
                    pain_point=pain_point,
                    changes=form.cleaned_data,
                    changed_by=request.user,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, f"Pain point “{pain_point.name}” saved.")
                return redirect(reverse("web:pain_points") + f"#pain-{pain_point.pk}")
        status = 400
        pain_point.refresh_from_db()
    else:
        form = PainPointEditForm(
            initial={
                name: getattr(pain_point, name)
                for name in ("name", "product", "description", "phrases", "is_active")
            },
            auto_id="pain-%s",
        )
    (tally,) = pain_point_tallies(pk=pain_point.pk)
    context = {
        "nav": "pain_points",
        "pain_point": pain_point,
        "tally": tally,
        "form": form,
        "products": pain_point_products(),
    }
    return render(request, "web/pain_point_edit.html", context, status=status)


@require_POST
@page(access_pain_point_edit)
def pain_point_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn a pain point off (no new suggestions; its history stays) or on again."""
    pain_point = get_object_or_404(PainPoint, pk=pk)
    active = request.POST.get("active") == "1"
    pain_point_update(
        pain_point=pain_point,
        changes={"is_active": active},
        changed_by=request.user,  # type: ignore[arg-type]
    )
    verb = "turned on" if active else "turned off: it is no longer suggested"
    messages.success(request, f"Pain point “{pain_point.name}” {verb}.")
    return redirect(reverse("web:pain_points") + f"#pain-{pain_point.pk}")
