"""The briefings a new owner reads about the relationships handed over to them: /briefings/ (mine,
unread first; managers and admins may look at anyone's with ?user=<id>) and /briefings/<id>/ (one
briefing, laid out to be read in two minutes; opening it marks it read). Thin: everything
through relationships.briefings."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from leadline.core.models import User
from leadline.core.permissions import access_briefings, is_manager
from leadline.relationships.briefings import briefing_mark_read, briefings_for
from leadline.relationships.models import Briefing
from leadline.web.access import page


def _reader(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@require_GET
@page(access_briefings)
def briefings_list(request: HttpRequest) -> HttpResponse:
    me = _reader(request)
    whose = me
    wanted = request.GET.get("user", "")
    if wanted and wanted != str(me.pk):
        if not is_manager(me):
            raise PermissionDenied
        if not wanted.isdigit():
            raise Http404("no such user")
        whose = get_object_or_404(User, pk=int(wanted))
    rows = list(briefings_for(user=whose)[:200])
    context = {
        "whose": whose,
        "mine": whose.pk == me.pk,
        "briefings": rows,
        "unread": sum(1 for b in rows if b.read_at is None),
        "sellers": (
            User.objects.filter(briefings__isnull=False).distinct().order_by("first_name", "pk")
            if is_manager(me)
            else []
        ),
    }
    return render(request, "web/briefing_list.html", context)


@require_GET
@page(access_briefings)
def briefing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    me = _reader(request)
    briefing = get_object_or_404(
        Briefing.objects.select_related("from_user", "recipient", "person", "account", "plan"),
        pk=pk,
    )
    if briefing.recipient_id != me.pk and not is_manager(me):
        raise Http404("no such briefing")  # a rep may not even learn it exists
    if briefing.recipient_id == me.pk and briefing.read_at is None:
        briefing = briefing_mark_read(briefing=briefing, reader=me)
    return render(
        request,
        "web/briefing_detail.html",
        {"briefing": briefing, "s": briefing.sections, "mine": briefing.recipient_id == me.pk},
    )


urlpatterns: list[URLPattern] = [
    path("briefings/", briefings_list, name="briefings"),
    path("briefings/<int:pk>/", briefing_detail, name="briefing_detail"),
]
