"""The inbound-mail page: how mail comes in (mailbox, webhook), and the mail read — replies,
bounces, automatic replies, the unmatched — with what each matched, and those waiting or failed
(which can be tried again at once). Thin: reads through inbound.selectors, writes through
inbound.services."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from leadline.core.permissions import access_inbound_mail
from leadline.inbound.models import InboundMessage, Kind, Status
from leadline.inbound.selectors import inbound_counts, inbound_messages, inbound_setup
from leadline.inbound.services import inbound_retry
from leadline.web.access import page

PAGE_SIZE = 50


@require_GET
@page(access_inbound_mail)
def inbound_mail(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    kind = kind if kind in Kind.values else ""
    problems = request.GET.get("problems") == "1"
    listed = inbound_messages(kind=kind, problems=problems)
    counts = inbound_counts()
    query = urlencode(
        {k: v for k, v in (("kind", kind), ("problems", "1" if problems else "")) if v}
    )
    return render(
        request,
        "web/inbound_mail.html",
        {
            "nav": "inbound_mail",
            "setup": inbound_setup(),
            "kinds": [(value, label, counts[value]) for value, label in Kind.choices],
            "unsettled": counts[Status.RECEIVED] + counts[Status.FAILED],
            "kind": kind,
            "problems": problems,
            "page_obj": Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page")),
            "query_string": query,
        },
    )


@require_POST
@page(access_inbound_mail)
def inbound_mail_retry(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage, pk=pk)
    if inbound_retry(message=message):
        messages.success(request, f"“{message.subject or 'The mail'}” will be tried again now.")
    else:
        messages.info(request, "That mail has not failed: nothing to try again.")
    return redirect("web:inbound_mail")


urlpatterns = [
    path("mail/inbound/", inbound_mail, name="inbound_mail"),
    path("mail/inbound/<int:pk>/retry/", inbound_mail_retry, name="inbound_mail_retry"),
]
