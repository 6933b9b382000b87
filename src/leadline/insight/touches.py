"""Touches for attribution, read from the database in a fixed number of queries, and the
attribution report built on them (the models themselves are in `insight.attribution`).

A touch is a moment a person met a campaign:
- a request (`capture.Request`): its campaign, else its utm_campaign, else its form's campaign;
  it is a form submission or request, so it can be the lead-creation touch;
- an event (`journeys.Event`) whose properties carry `campaign` or `utm_campaign` (imported
  offline touches, API events), or a web visit whose address carries `utm_campaign`.

Channel: from utm_medium (else utm_source) in plain words ("cpc" → "paid search"), else the
campaign's own channel, else the medium as given, else "other". Content: the asset or form
(requests), the event's content or utm_content, else its page.

A visit that lands with a campaign's UTM and the form sent in the same visit are one touch:
touches of the same person and campaign less than `SAME_VISIT` apart are merged (the request
is kept, being the lead-creation touch)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from django.conf import settings
from django.db.models import Q

from leadline.campaigns.models import Campaign
from leadline.campaigns.selectors import campaigns_by_key
from leadline.capture.models import Request
from leadline.core.models import Person
from leadline.insight import attribution, history
from leadline.insight.attribution import CampaignInfo, MarkovBy, Report, campaign_key
from leadline.journeys.models import Event, EventDay
from leadline.journeys.rollup import link_utm

SAME_VISIT = pd.Timedelta(minutes=30)
TOUCH_COLUMNS = ["touch_id", "person_id", "at", "campaign", "channel", "content", "lead", "kind"]
CHUNK = 20_000
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# utm_medium (or utm_source) as people name the channel.
MEDIUMS = {
    "cpc": "paid search",
    "ppc": "paid search",
    "sem": "paid search",
    "paid-search": "paid search",
    "paid_search": "paid search",
    "paidsearch": "paid search",
    "paid search": "paid search",
    "email": "email",
    "e-mail": "email",
    "newsletter": "email",
    "mail": "email",
    "social": "social",
    "paid-social": "social",
    "paid_social": "social",
    "paidsocial": "social",
    "organic-social": "social",
    "social-paid": "social",
    "referral": "partner",
    "partner": "partner",
    "affiliate": "partner",
    "webinar": "webinar",
    "event": "events",
    "events": "events",
    "trade-show": "events",
    "tradeshow": "events",
    "conference": "events",
    "content": "content",
    "blog": "content",
    "direct": "direct",
}
SOURCES = {
    "linkedin": "social",
    "facebook": "social",
    "instagram": "social",
    "twitter": "social",
    "x": "social",
    "newsletter": "email",
    "webinar": "webinar",
}


def channel_of(medium: str, source: str, campaign_channel: str) -> str:
    medium, source = medium.strip().lower(), source.strip().lower()
    return MEDIUMS.get(medium) or SOURCES.get(source) or campaign_channel or medium or "other"


def _survivors() -> dict[int, int]:
    """Merged people → the person they were merged into (followed to the end)."""
    merged = dict(
        Person.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id")
    )
    result = {}
    for pk in merged:
        seen, target = {pk}, merged[pk]
        while target in merged and target not in seen:
            seen.add(target)
            target = merged[target]
        result[pk] = target
    return result


def _request_rows(until: dt.datetime | None) -> list[tuple[Any, ...]]:
    requests = Request.objects.filter(
        Q(campaign__gt="") | Q(utm_campaign__gt="") | Q(form__campaign__gt="")
    )
    if until is not None:
        requests = requests.filter(created_at__lt=until)
    fields = (
        "pk", "person_id", "created_at", "campaign", "utm_campaign", "form__campaign",
        "utm_medium", "utm_source", "asset__title", "form__name", "kind",
    )  # fmt: skip
    rows = []
    for pk, person, at, campaign, utm, form_campaign, medium, source, asset, form, kind in (
        requests.order_by("pk").values_list(*fields).iterator(chunk_size=CHUNK)
    ):
        rows.append(
            (
                f"r{pk}",
                person,
                at,
                campaign or utm or form_campaign or "",
                medium or "",
                source or "",
                asset or form or kind or "",
                True,
                "request",
            )
        )
    return rows


def _event_rows(until: dt.datetime | None) -> list[tuple[Any, ...]]:
    events = Event.objects.filter(person__isnull=False).filter(
        Q(properties__has_key="campaign")
        | Q(properties__has_key="utm_campaign")
        | Q(url__contains="utm_campaign=")
    )
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    rows = []
    fields = ("pk", "person_id", "occurred_at", "properties", "url", "path", "name")
    for pk, person, at, properties, url, path, name in (
        events.order_by("pk").values_list(*fields).iterator(chunk_size=CHUNK)
    ):
        properties = properties if isinstance(properties, dict) else {}
        query = link_utm(url)
        campaign = str(
            properties.get("campaign")
            or properties.get("utm_campaign")
            or query.get("campaign", "")
        )
        medium = str(
            properties.get("channel") or properties.get("utm_medium") or query.get("medium", "")
        )
        source = str(properties.get("utm_source") or query.get("source", ""))
        content = str(
            properties.get("content")
            or properties.get("utm_content")
            or query.get("content", "")
            or path
            or name
        )
        rows.append((f"e{pk}", person, at, campaign, medium, source, content, False, "event"))
    return rows + _event_day_rows(until)


def _event_day_rows(until: dt.datetime | None) -> list[tuple[Any, ...]]:
    """Touches from events past the tracking retention, read from their roll-up (decision
    0025): the same columns from the same properties and address; a day's row is a touch at its
    first moment and, if it counted more than one event, at its last (touches less than
    SAME_VISIT apart are merged below, as the raw events' would be)."""
    days = EventDay.objects.filter(person__isnull=False).filter(
        Q(campaign__gt="") | Q(link_campaign__gt="")
    )
    if until is not None:
        days = days.filter(first_at__lt=until)
    fields = (
        "pk", "person_id", "first_at", "last_at", "count", "campaign", "link_campaign",
        "channel", "link_medium", "source", "link_source", "content", "link_content", "path",
        "name",
    )  # fmt: skip
    rows = []
    for (
        pk, person, first, last, count, campaign, link_campaign, channel, link_medium, source,
        link_source, content, link_content, path, name,
    ) in days.order_by("pk").values_list(*fields).iterator(chunk_size=CHUNK):  # fmt: skip
        touch = (
            campaign or link_campaign,
            channel or link_medium,
            source or link_source,
            content or link_content or path or name,
            False,
            "event",
        )
        rows.append((f"d{pk}", person, first, *touch))
        if count > 1 and (until is None or last < until):
            rows.append((f"d{pk}.last", person, last, *touch))
    return rows


def touches_frame(
    *, until: dt.datetime | None = None, campaigns: dict[str, Campaign] | None = None
) -> pd.DataFrame:
    """Every touch (see the module), oldest first: touch_id ("r12" a request, "e40" an event),
    person_id (merged people as their survivor), at (UTC), campaign (the name as written),
    channel, content, lead (a form submission or request), kind ("request" or "event")."""
    campaigns = campaigns_by_key() if campaigns is None else campaigns
    records = _request_rows(until) + _event_rows(until)
    columns = ["touch_id", "person_id", "at", "campaign", "medium", "source", "content", "lead",
               "kind"]  # fmt: skip
    frame = pd.DataFrame.from_records(records, columns=columns)
    if frame.empty:
        return pd.DataFrame(
            {
                "touch_id": pd.Series(dtype=object),
                "person_id": pd.Series(dtype="int64"),
                "at": pd.Series(dtype="datetime64[ns, UTC]"),
                "campaign": pd.Series(dtype=object),
                "channel": pd.Series(dtype=object),
                "content": pd.Series(dtype=object),
                "lead": pd.Series(dtype=bool),
                "kind": pd.Series(dtype=object),
            }
        )
    frame["campaign"] = frame["campaign"].astype(str).str.strip()
    frame = frame[frame["campaign"] != ""].copy()
    survivors = _survivors()
    if survivors:
        frame["person_id"] = frame["person_id"].map(lambda p: survivors.get(p, p))
    frame["person_id"] = frame["person_id"].astype("int64")
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    keys = frame["campaign"].map(campaign_key)
    channels = {k: c.channel for k, c in campaigns.items()}
    own_channel = [channels.get(k, "") for k in keys]
    frame["channel"] = [
        channel_of(m, s, c)
        for m, s, c in zip(frame["medium"], frame["source"], own_channel, strict=True)
    ]
    frame = frame.assign(key=keys).sort_values(["person_id", "key", "at", "lead"],
                                               ascending=[True, True, True, False])  # fmt: skip
    # One visit, one touch: same person and campaign, less than SAME_VISIT after the last.
    gap = frame.groupby(["person_id", "key"], sort=False)["at"].diff()
    visit = (gap.isna() | (gap >= SAME_VISIT)).cumsum()
    frame = frame.assign(visit=visit.to_numpy())
    frame = frame.sort_values(["visit", "lead", "at"], ascending=[True, False, True])
    frame = frame.drop_duplicates(subset="visit")
    frame = frame.sort_values(["at", "touch_id"], kind="stable").reset_index(drop=True)
    return frame[TOUCH_COLUMNS]


def campaign_infos(campaigns: dict[str, Campaign]) -> dict[str, CampaignInfo]:
    return {
        key: CampaignInfo(
            id=c.pk,
            name=c.name,
            channel=c.channel,
            cost=float(c.cost) if c.cost is not None else None,
            currency=c.currency,
        )
        for key, c in campaigns.items()
    }


def attribution_report(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    lookback_days: float | None = None,
    half_life_days: float | None = None,
    markov_by: MarkovBy | None = None,
) -> Report:
    """The attribution report for deals opened in [since, until) (default: all of them), with
    the settings' lookback, half-life and Markov states unless given."""
    from leadline.core import clock

    until = until or clock.now() + dt.timedelta(seconds=1)
    since = since or EARLIEST
    campaigns = campaigns_by_key()
    # Every touch: a deal opened in the period may close after it, and its revenue path with it.
    touches = touches_frame(campaigns=campaigns)
    opportunities = history.opportunities_frame()
    memberships = history.memberships_frame().astype({"person_id": "int64", "account_id": "int64"})
    return attribution.report(
        touches=touches,
        opportunities=opportunities,
        memberships=memberships,
        campaigns=campaign_infos(campaigns),
        since=since,
        until=until,
        lookback_days=lookback_days or settings.ATTRIBUTION_LOOKBACK_DAYS,
        half_life_days=half_life_days or settings.ATTRIBUTION_HALF_LIFE_DAYS,
        markov_by=markov_by
        or ("channel" if settings.ATTRIBUTION_MARKOV_BY == "channel" else "campaign"),
    )
