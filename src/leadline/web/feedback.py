"""The prospect's view: the "Prospect ratings" report (staff), the public answer page a rating
link opens (/r/<signed>/<score>/), and the host's "Held" / "No-show" buttons for past meetings.
Thin: reads through feedback.selectors, writes through feedback.services and booking.services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from leadline.booking.models import Meeting
from leadline.booking.services import meeting_outcome_record
from leadline.core import clock
from leadline.core.models import User
from leadline.core.permissions import (
    access_booking_settings,
    access_ratings,
    access_ratings_all,
    public,
)
from leadline.core.ratelimit import client_ip, rate_limited
from leadline.feedback.links import link_expired, rating_token_read
from leadline.feedback.models import AskStatus, RatingAsk, SkipReason
from leadline.feedback.selectors import ratings_summary, recent_comments
from leadline.feedback.services import rating_answer
from leadline.web.access import page

PERIODS = {"30": "Last 30 days", "90": "Last 90 days", "365": "Last 12 months"}


def _period(request: HttpRequest) -> tuple[str, dt.datetime, dt.datetime]:
    days = request.GET.get("days", "90")
    if days not in PERIODS:
        days = "90"
    end = clock.now() + dt.timedelta(seconds=1)
    return days, end - dt.timedelta(days=int(days)), end


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        data = row.as_dict()
        data["score_list"] = list(data["scores"].values())
        data["skip_text"] = ", ".join(
            f"{SkipReason(k).label.lower()}: {v}" for k, v in sorted(row.skip_reasons.items())
        )
        out.append(data)
    return out


@page(access_ratings)
def ratings(request: HttpRequest) -> HttpResponse:
    """Per rep, team (outside-caller teams marked) and channel: asked, not asked (why),
    answered, response rate, average, the 1..5 spread, stops; the latest comments. A sales rep
    sees their own row and their team's."""
    user: User = request.user  # type: ignore[assignment]
    days, start, end = _period(request)
    everyone = access_ratings_all(user)
    own = None if everyone else user
    team = None if everyone else user.team
    context = {
        "nav": "ratings",
        "days": days,
        "periods": PERIODS,
        "everyone": everyone,
        "by_user": _rows(ratings_summary(start=start, end=end, by="user", user=own)),
        "by_team": _rows(ratings_summary(start=start, end=end, by="team", team=team))
        if everyone or team is not None
        else [],
        "by_channel": _rows(ratings_summary(start=start, end=end, by="channel", user=own)),
        "comments": recent_comments(start=start, end=end, user=own),
        "scores": range(1, 6),
    }
    return render(request, "web/feedback_ratings.html", context)


def _bad_link(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/feedback_answer.html",
        {"bad": True},
        status=400,
    )


@public("rating links in mail, reached by a signed, expiring token; shows only the score chosen")
@require_http_methods(["GET", "POST"])
def rating_answer_page(request: HttpRequest, token: str, score: int) -> HttpResponse:
    """GET records the click (one click is the point of the mail; decision 0024 says what keeps
    mail scanners from answering); POST adds a comment (CSRF-checked, rate-limited)."""
    ask_id = rating_token_read(token)
    if ask_id is None or not 1 <= score <= 5:
        return _bad_link(request)
    ask = RatingAsk.objects.filter(pk=ask_id, status=AskStatus.SENT).first()
    if ask is None or link_expired(ask.asked_at):
        return _bad_link(request)
    wait = rate_limited(scope="rating", key=client_ip(request), rate=settings.RATING_RATE_LIMIT)
    if wait is not None:
        response = render(
            request, "web/feedback_answer.html", {"too_many": True, "wait": wait}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    saved = False
    if request.method == "POST":
        ask = rating_answer(ask=ask, score=score, comment=request.POST.get("comment", "")[:4000])
        saved = True
    else:
        ask = rating_answer(ask=ask, score=score)
    return render(
        request,
        "web/feedback_answer.html",
        {"ask": ask, "score": score, "token": token, "saved": saved, "scores": range(1, 6)},
    )


@page(access_booking_settings)
@require_POST
def meeting_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    """The host (their manager, an admin) says a past meeting was held or a no-show."""
    user: User = request.user  # type: ignore[assignment]
    meeting = get_object_or_404(Meeting.objects.select_related("host__team", "person"), pk=pk)
    outcome = request.POST.get("outcome", "")
    try:
        meeting_outcome_record(meeting=meeting, outcome=outcome, actor=user)
    except PermissionDenied:
        raise
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        word = "held" if outcome == "held" else "a no-show"
        messages.success(request, f"The meeting with {meeting.person} was {word}.")
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("web:booking")


urlpatterns: list[URLPattern] = [
    path("insight/ratings/", ratings, name="ratings"),
    path("r/<str:token>/<int:score>/", rating_answer_page, name="rating_answer"),
    path("booking/meetings/<int:pk>/outcome/", meeting_outcome, name="booking_meeting_outcome"),
]
