"""The public unsubscribe page, reached by the signed link in every marketing and cadence mail.

GET only shows (mail scanners follow links: a GET must never unsubscribe). A POST from the page's
own form changes something, CSRF-checked as usual. A POST whose body is
"List-Unsubscribe=One-Click" is RFC 8058's one-click unsubscribe, sent by the mail program
without any cookie or token: the signature in the URL is the authority, so that POST alone is
exempt from the CSRF check. A tampered or unknown link gets 404 and changes nothing.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from leadline.core.models import Person
from leadline.core.permissions import public
from leadline.core.selectors import merge_survivor, person_email
from leadline.outreach.models import ContactChannel, ContactPurpose, ContactState, DoNotContact
from leadline.outreach.services import (
    contact_resubscribe,
    contact_unsubscribe,
    do_not_contact_set,
    unsubscribe_token_read,
)

ACTIONS = ("unsubscribe", "stop_all_email", "resubscribe")


def _masked(address: str) -> str:
    """ann.lee@acme.example → a••••••@acme.example: enough to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'•' * min(max(len(local) - 1, 1), 6)}@{domain}"


def _page_form_view(request: HttpRequest) -> HttpResponse:  # only its CSRF check runs
    return HttpResponse()


def _csrf_refusal(request: HttpRequest) -> HttpResponseBase | None:
    """The usual CSRF check, for the page's own form (the view as a whole is exempt)."""
    return CsrfViewMiddleware(_page_form_view).process_view(request, _page_form_view, (), {})


@public("unsubscribe links in mail (RFC 8058), reached by a signed token")
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponseBase:
    found = unsubscribe_token_read(token)
    if found is None:
        raise Http404("This link is not valid.")
    pk, purpose = found
    person = Person.objects.filter(pk=pk).first()
    if person is None:
        raise Http404("This link is not valid.")
    person = merge_survivor(person)
    done = ""
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") == "One-Click":
            contact_unsubscribe(person=person, purpose=purpose, method="one_click")
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
        if refusal := _csrf_refusal(request):
            return refusal
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            return HttpResponseBadRequest("Unknown action.")
        if action == "unsubscribe":
            contact_unsubscribe(person=person, purpose=purpose, method="link")
        elif action == "stop_all_email":
            contact_unsubscribe(person=person, purpose=purpose, method="link")
            do_not_contact_set(
                person=person,
                channel=ContactChannel.EMAIL,
                reason="Asked for no email at all on the unsubscribe page",
                source="unsubscribe_page",
                actor=None,
            )
        else:
            contact_resubscribe(person=person, method="link")
        done = action
    state = ContactState.objects.filter(person=person).first()
    email = person_email(person)
    context = {
        "done": done,
        "email": _masked(email) if email else "",
        "unsubscribed": bool(state and state.unsubscribed),
        "no_email": DoNotContact.objects.filter(
            person=person, channel=ContactChannel.EMAIL
        ).exists(),
        "sales": purpose == ContactPurpose.SALES,
    }
    return render(request, "outreach/unsubscribe.html", context)
