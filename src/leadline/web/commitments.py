"""Promises made to prospects in the staff UI: the "Promises made" part of the conversation form,
the Promises card on a person's page (keep or cancel, by htmx), and the promises report.
Thin: reads through commitments.selectors and insight.commitments, writes through
commitments.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BoundField
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from leadline.commitments.models import Commitment
from leadline.commitments.selectors import person_commitments
from leadline.commitments.services import (
    REASON_MAX_CHARS,
    WHAT_MAX_CHARS,
    Promise,
    commitment_cancel,
    commitment_keep,
)
from leadline.core import clock
from leadline.core.models import Person
from leadline.core.permissions import (
    access_commitment_settle,
    access_commitments_report,
    access_people,
)
from leadline.web.access import is_htmx, page, person_in_view

# How many promises the conversation form takes at once.
PROMISE_ROWS = 3


# The "Promises made" part of the conversation form ------------------------------------------------


def _what(n: int) -> forms.CharField:
    return forms.CharField(
        label=f"Promise {n}",
        required=False,
        max_length=WHAT_MAX_CHARS,
        widget=forms.TextInput(
            attrs={"placeholder": "Send the pricing" if n == 1 else "", "autocomplete": "off"}
        ),
    )


def _due(n: int) -> forms.DateField:
    return forms.DateField(
        label=f"Due by (promise {n})",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date."},
    )


class PromisesPart(forms.Form):
    """Mixed into the conversation form: up to PROMISE_ROWS promises made in it, each what and
    the date it is due by (the end of that day, where the one logging it works). Rows left
    empty are no promise."""

    promise_1_what = _what(1)
    promise_1_due = _due(1)
    promise_2_what = _what(2)
    promise_2_due = _due(2)
    promise_3_what = _what(3)
    promise_3_due = _due(3)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # After the conversation's own fields, in the form and in its error summary.
        for name in [n for n in self.fields if n.startswith("promise_")]:
            self.fields[name] = self.fields.pop(name)

    def promise_rows(self) -> list[dict[str, BoundField]]:
        return [
            {"what": self[f"promise_{n}_what"], "due": self[f"promise_{n}_due"]}
            for n in range(1, PROMISE_ROWS + 1)
        ]

    def promises_open(self) -> bool:
        """Whether the part shows open: something was typed in it."""
        return self.is_bound and any(
            self.data.get(self.add_prefix(name), "").strip()
            for name in self.fields
            if name.startswith("promise_")
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        today = timezone.localdate(clock.now())
        for n in range(1, PROMISE_ROWS + 1):
            what_name, due_name = f"promise_{n}_what", f"promise_{n}_due"
            what = (cleaned.get(what_name) or "").strip()
            due = cleaned.get(due_name)
            if what and due is None and due_name not in self.errors:
                self.add_error(due_name, "Give the date it is due by.")
            elif due is not None and not what:
                self.add_error(what_name, "Say what was promised.")
            elif due is not None and due < today:
                self.add_error(due_name, "That date is past: a promise is due today or later.")
        return cleaned

    def promises(self) -> list[Promise]:
        """The promises typed in (after is_valid)."""
        found = []
        for n in range(1, PROMISE_ROWS + 1):
            what = (self.cleaned_data.get(f"promise_{n}_what") or "").strip()
            due = self.cleaned_data.get(f"promise_{n}_due")
            if what and due is not None:
                found.append(Promise(what=what, due_on=due))
        return found

    def promise_errors(self, exc: ValidationError) -> None:
        """The service's refusal ("<n>.<field>": ...) on the fields of the row it names."""
        rows = [n for n in range(1, PROMISE_ROWS + 1) if self._row_filled(n)]
        for key, problems in exc.message_dict.items():
            index, _, field = key.partition(".")
            if index.isdigit() and 0 < int(index) <= len(rows):
                n = rows[int(index) - 1]
                name = f"promise_{n}_what" if field == "what" else f"promise_{n}_due"
            else:
                name = None
            for problem in problems:
                self.add_error(name, problem)

    def _row_filled(self, n: int) -> bool:
        data = self.cleaned_data
        return bool((data.get(f"promise_{n}_what") or "").strip() and data.get(f"promise_{n}_due"))


def promised_words(promised: list[Commitment]) -> str:
    """What to add to "Call logged." when promises came with it (nothing when none did)."""
    if not promised:
        return ""
    n = len(promised)
    return f" {n} promise{'s' if n != 1 else ''} recorded: see Promises."


# The Promises card on a person's page -------------------------------------------------------------


def commitments_context(request: HttpRequest, *, person: Person) -> dict[str, Any]:
    """What the person page needs for its Promises card."""
    found = person_commitments(person=person)
    user = request.user
    return {
        "commitments": found,
        "commitments_settle_ids": {c.pk for c in found.to_do if access_commitment_settle(user, c)},
    }


def _card(
    request: HttpRequest, *, person: Person, said: str = "", status: int = 200
) -> HttpResponse:
    """The card's body again, and what happened announced (htmx)."""
    context = commitments_context(request, person=person)
    context.update({"person": person, "fragment": True, "commitments_status": said})
    response = render(request, "web/_person_commitments.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _done(request: HttpRequest, *, person: Person, said: str, status: int = 200) -> HttpResponse:
    if is_htmx(request):
        return _card(request, person=person, said=said, status=status)
    if status >= 400:
        messages.error(request, said)
    else:
        messages.success(request, said)
    return redirect(reverse("web:person", args=[person.pk]) + "#commitments")


def _settleable(request: HttpRequest, pk: int) -> Commitment:
    commitment = get_object_or_404(
        Commitment.objects.select_related("person", "promised_by"), pk=pk
    )
    if not access_commitment_settle(request.user, commitment):
        raise PermissionDenied
    return commitment


@require_GET
@page(access_people)
def person_commitments_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The card's body (htmx: after a conversation with promises was logged on the page)."""
    person = person_in_view(request, pk=pk, merged_into__isnull=True)
    if not is_htmx(request):
        return redirect(reverse("web:person", args=[person.pk]) + "#commitments")
    return _card(request, person=person)


@require_POST
@page(access_commitment_settle)
def commitment_kept(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _settleable(request, pk)
    try:
        commitment_keep(commitment=commitment, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        said = " ".join(exc.messages)
        return _done(request, person=commitment.person, said=said, status=400)
    how = "on time" if commitment.kept_on_time else "late"
    said = f"Kept {how}: {commitment.what}."
    return _done(request, person=commitment.person, said=said)


@require_POST
@page(access_commitment_settle)
def commitment_cancelled(request: HttpRequest, pk: int) -> HttpResponse:
    commitment = _settleable(request, pk)
    reason = request.POST.get("reason", "")[: REASON_MAX_CHARS + 1]
    try:
        commitment_cancel(
            commitment=commitment,
            actor=request.user,  # type: ignore[arg-type]
            reason=reason,
        )
    except ValidationError as exc:
        said = "Not cancelled: " + " ".join(exc.messages)
        return _done(request, person=commitment.person, said=said, status=400)
    return _done(request, person=commitment.person, said=f"Cancelled: {commitment.what}.")


# The promises report ------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    start = forms.DateField(
        label="Made from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date."},
    )
    end = forms.DateField(
        label="to",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date."},
    )


def _period(form: PeriodForm, *, tz: dt.tzinfo) -> tuple[dt.date, dt.date, list[str]]:
    """The period asked for; what is missing or wrong falls back, with a note saying so."""
    from leadline.insight.commitments import DEFAULT_DAYS, MAX_DAYS, default_period

    start, end = default_period(tz=tz)
    notes: list[str] = []
    if not form.is_valid():
        notes.append(f"Those dates could not be read; showing the last {DEFAULT_DAYS} days.")
        return start, end, notes
    asked_start, asked_end = form.cleaned_data["start"], form.cleaned_data["end"]
    if asked_end is not None:
        end = asked_end
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if asked_start is not None:
        start = asked_start
    if end < start:
        notes.append("The period ended before it began; the dates are swapped.")
        start, end = end, start
    if (end - start).days + 1 > MAX_DAYS:
        start = end - dt.timedelta(days=MAX_DAYS - 1)
        notes.append(f"The report reads at most {MAX_DAYS} days; it starts on {start:%d %b %Y}.")
    return start, end, notes


@require_GET
@page(access_commitments_report)
def commitments_report(request: HttpRequest) -> HttpResponse:
    from leadline.insight.commitments import commitments_report as report

    zone = timezone.get_current_timezone()
    start, end, notes = _period(PeriodForm(request.GET), tz=zone)
    form = PeriodForm(initial={"start": start, "end": end})
    context = {
        "nav": "commitments",
        "report": report(start=start, end=end, tz=zone),
        "form": form,
        "notes": notes,
        "zone_name": str(zone),
    }
    return render(request, "web/commitment_report.html", context)


urlpatterns = [
    path(
        "people/<int:pk>/commitments/",
        person_commitments_card,
        name="person_commitments",
    ),
    path("commitments/<int:pk>/kept/", commitment_kept, name="commitment_kept"),
    path("commitments/<int:pk>/cancel/", commitment_cancelled, name="commitment_cancel"),
    path("commitments/report/", commitments_report, name="commitments_report"),
]
