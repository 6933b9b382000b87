"""The buying committee on the account page: the graph, the coverage warnings, and the forms
that add people, change their part, stance or influence, link them and take them off."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from leadline.core.models import Account, Person
from leadline.core.permissions import access_person_edit
from leadline.core.selectors import account_people, account_people_first
from leadline.journeys.committee import (
    committee_of,
    stakeholder_add,
    stakeholder_link_add,
    stakeholder_remove,
    stakeholder_update,
)
from leadline.journeys.models import Influence, LinkKind, Part, Stakeholder, Stance
from leadline.web import choices
from leadline.web.access import account_in_view, is_htmx, page
from leadline.web.choices import offer_first
from leadline.web.committee_graph import committee_graph


class StakeholderAddForm(forms.Form):
    person = forms.ModelChoiceField(queryset=Person.objects.none(), label="Who")
    part = forms.ChoiceField(choices=Part.choices, label="Their part in the decision")
    stance = forms.ChoiceField(choices=Stance.choices, initial=Stance.UNKNOWN, label="Stance")
    influence = forms.ChoiceField(
        choices=Influence.choices, initial=Influence.MEDIUM, label="Influence"
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        taken = Stakeholder.objects.filter(account=account, decision="").values("person_id")
        people = Person.objects.filter(
            account_people("pk", account=account), merged_into__isnull=True
        ).exclude(pk__in=taken)
        self.fields["person"].queryset = people.order_by("last_name", "first_name")  # type: ignore[attr-defined]
        # A company of thousands: the first ones by name, counted from the account's roster.
        left_out = list(taken.values_list("person_id", flat=True))
        first, total = account_people_first(
            account=account, limit=choices.CHOICES_SHOWN, leave_out=left_out
        )
        offer_first(self.fields["person"], total=total, first=first)


class StakeholderChangeForm(forms.Form):
    part = forms.ChoiceField(choices=Part.choices)
    stance = forms.ChoiceField(choices=Stance.choices)
    influence = forms.ChoiceField(choices=Influence.choices)


class LinkForm(forms.Form):
    source = forms.ModelChoiceField(queryset=Stakeholder.objects.none(), label="Who")
    kind = forms.ChoiceField(choices=LinkKind.choices, label="How")
    target = forms.ModelChoiceField(queryset=Stakeholder.objects.none(), label="Whom")

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = Stakeholder.objects.filter(account=account, decision="").select_related("person")
        self.fields["source"].queryset = members  # type: ignore[attr-defined]
        self.fields["target"].queryset = members  # type: ignore[attr-defined]


def committee_context(request: HttpRequest, account: Account, **forms_given: Any) -> dict[str, Any]:
    committee = committee_of(account=account)
    return {
        "account": account,
        "committee": committee,
        "graph": committee_graph(committee),
        "may_edit_committee": access_person_edit(request.user),
        "add_form": forms_given.get("add_form") or StakeholderAddForm(account=account),
        "link_form": forms_given.get("link_form") or LinkForm(account=account),
        "committee_rows": [
            (
                m,
                StakeholderChangeForm(
                    initial={
                        "part": m.stakeholder.part,
                        "stance": m.stakeholder.stance,
                        "influence": m.stakeholder.influence,
                    },
                    prefix=f"s{m.stakeholder.pk}",
                ),
            )
            for m in committee.members
        ],
    }


def _answer(
    request: HttpRequest, account: Account, *, said: str = "", status: int = 200, **given: Any
) -> HttpResponse:
    """The section again for htmx (with what happened, announced); the page for a plain post."""
    if is_htmx(request):
        context = committee_context(request, account, **given)
        context["committee_error" if status >= 400 else "committee_status"] = said
        return render(request, "web/_account_committee.html", context, status=status)
    if said:
        (messages.success if status < 400 else messages.error)(request, said)
    return redirect(reverse("web:account", args=[account.pk]) + "#committee")


@require_POST
@page(access_person_edit)
def committee_add(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_in_view(request, pk=pk)
    form = StakeholderAddForm(request.POST, account=account)
    if not form.is_valid():
        return _answer(request, account, add_form=form, status=400, said="Check the form.")
    try:
        stakeholder_add(account=account, added_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
    except ValueError as exc:
        return _answer(request, account, add_form=form, status=400, said=str(exc))
    return _answer(request, account, said=f"{form.cleaned_data['person']} added to the committee.")


@require_POST
@page(access_person_edit)
def committee_change(request: HttpRequest, pk: int, stakeholder_id: int) -> HttpResponse:
    stakeholder = get_object_or_404(Stakeholder, pk=stakeholder_id, account_id=pk)
    if request.POST.get("remove"):
        stakeholder_remove(stakeholder=stakeholder, removed_by=request.user)  # type: ignore[arg-type]
        return _answer(request, stakeholder.account, said=f"{stakeholder.person} taken off.")
    form = StakeholderChangeForm(request.POST, prefix=f"s{stakeholder.pk}")
    if not form.is_valid():
        return _answer(request, stakeholder.account, status=400, said="Check the form.")
    stakeholder_update(stakeholder=stakeholder, changed_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
    return _answer(request, stakeholder.account, said=f"{stakeholder.person} updated.")


@require_POST
@page(access_person_edit)
def committee_link(request: HttpRequest, pk: int) -> HttpResponse:
    account = account_in_view(request, pk=pk)
    form = LinkForm(request.POST, account=account)
    if not form.is_valid():
        return _answer(request, account, link_form=form, status=400, said="Check the form.")
    try:
        link = stakeholder_link_add(added_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
    except ValueError as exc:
        return _answer(request, account, link_form=form, status=400, said=str(exc))
    return _answer(request, account, said=f"Noted: {link}.")
