"""Contact pressure, do-not-contact and marketing emails: the contact settings page, marketing
emails (write, preview, send, follow the send), and the person page's "Contact" card."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadline.core.models import Person, User
from leadline.core.permissions import (
    access_newsletters,
    access_outreach_settings,
    access_person_edit,
)
from leadline.core.selectors import merge_survivor
from leadline.journeys.models import JourneyStep
from leadline.outreach import selectors, services
from leadline.outreach.models import (
    Audience,
    ContactChannel,
    ContactPolicy,
    DoNotContact,
    Newsletter,
    NewsletterStatus,
    RecipientStatus,
)
from leadline.web.access import is_htmx, page, person_in_view

# Engagement's lifecycle stages (its contract); a marketing email can go to one of them.
LIFECYCLE_STAGES = (
    ("subscriber", "Subscriber"),
    ("engaged", "Engaged"),
    ("marketing_qualified", "Marketing-qualified"),
    ("sales_accepted", "Sales-accepted"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("recycled", "Recycled"),
    ("disqualified", "Disqualified"),
)
PROGRESS_EVERY = "2s"


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _errors_onto(form: forms.BaseForm, exc: ValidationError, rename: dict[str, str]) -> None:
    problems = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, errors in problems.items():
        field = rename.get(name, name)
        form.add_error(field if field in form.fields else None, errors)


# Contact settings -------------------------------------------------------------------------------


class PolicyForm(forms.ModelForm[ContactPolicy]):
    class Meta:
        model = ContactPolicy
        fields = ["weekly_cap", "quiet_start", "quiet_end", "weekends_quiet", "default_time_zone"]
        labels = {
            "weekly_cap": "Most touches per person in any 7 days",
            "quiet_start": "Quiet from",
            "quiet_end": "Quiet until",
            "weekends_quiet": "Weekends are quiet",
            "default_time_zone": "Time zone when theirs is unknown",
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }


class DoNotContactForm(forms.Form):
    who = forms.CharField(
        label="Person", max_length=254, help_text="Their email address, or #id (e.g. #123)"
    )
    channel = forms.ChoiceField(label="Channel", choices=ContactChannel.choices)
    reason = forms.CharField(label="Why", max_length=300, required=False)

    def clean_who(self) -> Person:
        who = self.cleaned_data["who"].strip()
        people = Person.objects.all()
        if who.lstrip("#").isdigit():
            person = people.filter(pk=int(who.lstrip("#"))).first()
        else:
            person = people.filter(emails__email=who.lower()).first()
        if person is None:
            raise ValidationError("Nobody with that email address or id.")
        return merge_survivor(person)


def _settings_page(
    request: HttpRequest, *, policy_form: PolicyForm, dnc_form: DoNotContactForm
) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    context = {
        "nav": "outreach_settings",
        "policy_form": policy_form,
        "dnc_form": dnc_form,
        "q": query,
        "blocked": selectors.do_not_contact_list(query=query)[:200],
        "unsubscribed": selectors.unsubscribed_people(),
    }
    return render(request, "web/outreach_settings.html", context)


@require_http_methods(["GET", "POST"])
@page(access_outreach_settings)
def contact_settings(request: HttpRequest) -> HttpResponse:
    policy = selectors.contact_policy()
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.contact_policy_update(changes=changes, actor=_user(request))
        except ValidationError as exc:
            _errors_onto(form, exc, {})
        else:
            messages.success(request, "Contact limits saved.")
            return redirect("web:outreach_settings")
    return _settings_page(request, policy_form=form, dnc_form=DoNotContactForm())


@require_POST
@page(access_outreach_settings)
def do_not_contact_add(request: HttpRequest) -> HttpResponse:
    form = DoNotContactForm(request.POST)
    if not form.is_valid():
        policy_form = PolicyForm(instance=selectors.contact_policy())
        return _settings_page(request, policy_form=policy_form, dnc_form=form)
    person = form.cleaned_data["who"]
    services.do_not_contact_set(
        person=person,
        channel=form.cleaned_data["channel"],
        reason=form.cleaned_data["reason"],
        source="by_hand",
        actor=_user(request),
    )
    messages.success(request, f"{person} is on the do-not-contact list.")
    return redirect("web:outreach_settings")


@require_POST
@page(access_outreach_settings)
def do_not_contact_remove(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(DoNotContact.objects.select_related("person"), pk=pk)
    services.do_not_contact_lift(person=row.person, channel=row.channel, actor=_user(request))
    messages.success(request, f"{row.person} may be contacted by {row.get_channel_display()}.")
    return redirect("web:outreach_settings")


# The person page's "Contact" card ---------------------------------------------------------------


def person_contact_context(request: HttpRequest, *, person: Person) -> dict[str, Any]:
    """For web.views.person_detail: what the Contact card shows, and whether this viewer may
    change it."""
    context = selectors.person_contact(person=person)
    context["may_change_contact"] = access_person_edit(request.user)
    return context


CONTACT_ACTIONS = ("block", "allow", "unsubscribe", "resubscribe")


@require_POST
@page(access_person_edit)
def person_contact_change(request: HttpRequest, pk: int) -> HttpResponse:
    """Block or allow a channel, or record an unsubscribe the person asked for another way."""
    person = person_in_view(request, pk=pk)
    action = request.POST.get("action", "")
    channel = request.POST.get("channel", "")
    actor = _user(request)
    if action not in CONTACT_ACTIONS or (
        action in ("block", "allow") and channel not in ContactChannel.values
    ):
        return HttpResponse("Unknown action or channel.", status=400)
    if action == "block":
        services.do_not_contact_set(
            person=person,
            channel=channel,
            reason=request.POST.get("reason", "").strip()[:300],
            source="by_hand",
            actor=actor,
        )
    elif action == "allow":
        services.do_not_contact_lift(person=person, channel=channel, actor=actor)
    elif action == "unsubscribe":
        services.contact_unsubscribe(person=person, method="by_hand", actor=actor)
    else:
        services.contact_resubscribe(person=person, method="by_hand", actor=actor)
    if is_htmx(request):
        context = {"person": person, **person_contact_context(request, person=person)}
        return render(request, "web/_person_contact.html", context)
    return redirect("web:person", pk=person.pk)


# Marketing emails -------------------------------------------------------------------------------


class NewsletterForm(forms.Form):
    name = forms.CharField(label="Name (only we see it)", max_length=200, required=False)
    subject = forms.CharField(label="Subject", max_length=200)
    text = forms.CharField(
        label="Text",
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Merge fields: {{ first_name }}, {{ last_name }}, {{ full_name }}, "
        "{{ company }}. The unsubscribe link is added at the end.",
    )
    html = forms.CharField(
        label="HTML version (optional)",
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text="Same merge fields; their values are escaped.",
    )
    audience = forms.ChoiceField(
        label="Who gets it",
        choices=[c for c in Audience.choices if c[0] != Audience.PEOPLE],
        widget=forms.RadioSelect,
        initial=Audience.CONSENTED,
    )
    stage = forms.ChoiceField(
        label="Lifecycle stage", choices=[("", "—"), *LIFECYCLE_STAGES], required=False
    )
    step = forms.ModelChoiceField(
        label="Journey step",
        queryset=JourneyStep.objects.select_related("journey").order_by(
            "journey__name", "position"
        ),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        audience = data.get("audience")
        if audience == Audience.LIFECYCLE and not data.get("stage"):
            self.add_error("stage", "Choose the stage.")
        if audience == Audience.JOURNEY_STEP and not data.get("step"):
            self.add_error("step", "Choose the step.")
        return data

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        audience = data["audience"]
        value = ""
        if audience == Audience.LIFECYCLE:
            value = data["stage"]
        elif audience == Audience.JOURNEY_STEP:
            value = str(data["step"].pk)
        return {
            "name": data["name"],
            "subject": data["subject"],
            "text": data["text"],
            "html": data["html"],
            "audience": audience,
            "audience_value": value,
        }

    @classmethod
    def initial_from(cls, newsletter: Newsletter) -> dict[str, Any]:
        initial: dict[str, Any] = {
            n: getattr(newsletter, n) for n in ("name", "subject", "text", "html", "audience")
        }
        if newsletter.audience == Audience.LIFECYCLE:
            initial["stage"] = newsletter.audience_value
        if newsletter.audience == Audience.JOURNEY_STEP and newsletter.audience_value.isdigit():
            initial["step"] = int(newsletter.audience_value)
        return initial


NEWSLETTER_RENAME = {"audience_value": "audience"}


@require_GET
@page(access_newsletters)
def newsletters(request: HttpRequest) -> HttpResponse:
    context = {"nav": "outreach_newsletters", "newsletters": selectors.newsletters_list()}
    return render(request, "web/outreach_newsletters.html", context)


@require_http_methods(["GET", "POST"])
@page(access_newsletters)
def newsletter_new(request: HttpRequest) -> HttpResponse:
    form = NewsletterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            newsletter = services.newsletter_create(**form.values(), actor=_user(request))
        except ValidationError as exc:
            _errors_onto(form, exc, NEWSLETTER_RENAME)
        else:
            return redirect("web:outreach_newsletter", pk=newsletter.pk)
    context = {"nav": "outreach_newsletters", "form": form, "newsletter": None}
    return render(request, "web/outreach_newsletter_form.html", context)


@require_http_methods(["GET", "POST"])
@page(access_newsletters)
def newsletter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, pk=pk)
    if newsletter.status != NewsletterStatus.DRAFT:
        messages.info(request, "This email has been sent; make a copy to change it.")
        return redirect("web:outreach_newsletter", pk=pk)
    form = NewsletterForm(request.POST or None, initial=NewsletterForm.initial_from(newsletter))
    if request.method == "POST" and form.is_valid():
        try:
            services.newsletter_update(
                newsletter=newsletter, changes=form.values(), actor=_user(request)
            )
        except ValidationError as exc:
            _errors_onto(form, exc, NEWSLETTER_RENAME)
        else:
            messages.success(request, "Saved.")
            return redirect("web:outreach_newsletter", pk=pk)
    context = {"nav": "outreach_newsletters", "form": form, "newsletter": newsletter}
    return render(request, "web/outreach_newsletter_form.html", context)


def _progress_context(newsletter: Newsletter) -> dict[str, Any]:
    recipients = newsletter.recipients.all()
    total = recipients.count()
    sent = recipients.filter(status=RecipientStatus.SENT).count()
    return {
        "newsletter": newsletter,
        "report": selectors.newsletter_report(newsletter=newsletter),
        "total": total,
        "sent": sent,
        "decided": recipients.exclude(
            Q(status=RecipientStatus.WAITING) & Q(next_try_at__isnull=True)
        ).count(),
        "poll": newsletter.status in (NewsletterStatus.QUEUED, NewsletterStatus.SENDING),
        "poll_every": PROGRESS_EVERY,
    }


@require_GET
@page(access_newsletters)
def newsletter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter.objects.select_related("created_by"), pk=pk)
    context: dict[str, Any] = {"nav": "outreach_newsletters", **_progress_context(newsletter)}
    if newsletter.status == NewsletterStatus.DRAFT:
        audience = services.newsletter_audience(newsletter=newsletter)
        sample_id = request.GET.get("person", "")
        sample = (
            audience.filter(pk=int(sample_id)).first() if sample_id.isdigit() else None
        ) or audience.first()
        context["audience_count"] = audience.count()
        context["audience_sample"] = audience[:20]
        context["sample"] = sample
        if sample is not None:
            subject, text, html = services.newsletter_render(newsletter=newsletter, person=sample)
            context["preview"] = {"subject": subject, "text": text, "html": html}
    return render(request, "web/outreach_newsletter.html", context)


@require_GET
@page(access_newsletters)
def newsletter_progress(request: HttpRequest, pk: int) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, pk=pk)
    context = _progress_context(newsletter)
    # 286: htmx stops polling once the send is done (and still shows this last answer).
    status = 200 if context["poll"] else 286
    return render(request, "web/_outreach_progress.html", context, status=status)


@require_POST
@page(access_newsletters)
def newsletter_send(request: HttpRequest, pk: int) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, pk=pk)
    try:
        services.newsletter_send(newsletter=newsletter, actor=_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Sending: each person gets it when the contact limits allow.")
    return redirect("web:outreach_newsletter", pk=pk)


@require_POST
@page(access_newsletters)
def newsletter_copy(request: HttpRequest, pk: int) -> HttpResponse:
    newsletter = get_object_or_404(Newsletter, pk=pk)
    copy = services.newsletter_copy(newsletter=newsletter, actor=_user(request))
    messages.success(request, "Copied: change it and send it again.")
    return redirect("web:outreach_newsletter_edit", pk=copy.pk)


urlpatterns: list[URLPattern] = [
    path("contact-settings/", contact_settings, name="outreach_settings"),
    path(
        "contact-settings/do-not-contact/",
        do_not_contact_add,
        name="outreach_do_not_contact_add",
    ),
    path(
        "contact-settings/do-not-contact/<int:pk>/remove/",
        do_not_contact_remove,
        name="outreach_do_not_contact_remove",
    ),
    path("people/<int:pk>/contact/", person_contact_change, name="outreach_person_contact"),
    path("marketing-emails/", newsletters, name="outreach_newsletters"),
    path("marketing-emails/new/", newsletter_new, name="outreach_newsletter_new"),
    path("marketing-emails/<int:pk>/", newsletter_detail, name="outreach_newsletter"),
    path("marketing-emails/<int:pk>/edit/", newsletter_edit, name="outreach_newsletter_edit"),
    path(
        "marketing-emails/<int:pk>/progress/",
        newsletter_progress,
        name="outreach_newsletter_progress",
    ),
    path("marketing-emails/<int:pk>/send/", newsletter_send, name="outreach_newsletter_send"),
    path("marketing-emails/<int:pk>/copy/", newsletter_copy, name="outreach_newsletter_copy"),
]
