"""Attribution (/insight/attribution/): what each campaign earned, by seven models, with plots
and a CSV download; and campaigns (/campaigns/): their cost and dates, edited in place.

Views only parse, check access and render; `insight.touches` reads, `insight.attribution`
computes, `web.attribution_plots` draws (imported inside the views: matplotlib and pandas are
slow to load, and every process that reverses a URL would pay for them)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from leadline.campaigns.models import CHANNELS, Campaign
from leadline.campaigns.services import campaign_save
from leadline.core import clock
from leadline.core.models import User
from leadline.core.permissions import access_campaigns, access_insight
from leadline.web.access import is_htmx, page

if TYPE_CHECKING:
    from leadline.insight.attribution import Report, Row
    from leadline.insight.snapshots import Shown

DEFAULT_MODEL = "linear"
DEFAULT_DAYS = 365


# The period and the model ----------------------------------------------------------------------


class PeriodForm(forms.Form):
    since = forms.DateField(required=False, label="Deals opened from")
    until = forms.DateField(required=False, label="to")
    model = forms.CharField(required=False, label="Model")


def _choices(request: HttpRequest) -> tuple[dt.date, dt.date, str, list[str]]:
    """(since, until inclusive, model, notes): bad values fall back to the defaults, said."""
    from leadline.insight.attribution import MODEL_NAMES, MODELS

    notes: list[str] = []
    form = PeriodForm(request.GET)
    form.is_valid()
    data = form.cleaned_data
    today = timezone.localdate(clock.now())
    until = data.get("until") or today
    since = data.get("since") or until - dt.timedelta(days=DEFAULT_DAYS - 1)
    for name in ("since", "until"):
        if name in form.errors:
            notes.append(f"“{request.GET.get(name, '')[:20]}” is not a date; using the default.")
    if since > until:
        notes.append("The period ended before it started; the two dates were swapped.")
        since, until = until, since
    model = (data.get("model") or DEFAULT_MODEL).strip()
    if model not in MODELS:
        notes.append(
            f"There is no model “{model[:30]}”; showing {MODEL_NAMES[DEFAULT_MODEL]} instead."
        )
        model = DEFAULT_MODEL
    return since, until, model, notes


def _moments(since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(since, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end.astimezone(dt.UTC)


def _shown(since: dt.date, until: dt.date) -> Shown:
    """The report for the period: computed now on a small database, else the worker's
    snapshot (decision 15)."""
    from leadline.insight import snapshots

    start, end = _moments(since, until)
    return snapshots.shown(
        snapshots.ATTRIBUTION, snapshots.attribution_params(since=start, until=end)
    )


# The page --------------------------------------------------------------------------------------


@require_GET
@page(access_insight)
def attribution_page(request: HttpRequest) -> HttpResponse:
    from leadline.insight.attribution import MODEL_NAMES, MODELS, money
    from leadline.web.attribution_plots import charts, percent

    since, until, model, notes = _choices(request)
    shown = _shown(since, until)
    if shown.pending:
        return render(
            request,
            "web/attribution_page.html",
            {
                "nav": "attribution",
                "shown": shown,
                "since": since,
                "until": until,
                "model": model,
                "models": [(m, MODEL_NAMES[m]) for m in MODELS],
                "notes": notes,
                "may_edit_campaigns": access_campaigns(request.user),
            },
        )
    report: Report = shown.result
    notes += report.notes

    def cells(row: Row) -> dict[str, Any]:
        return {
            "row": row,
            "influenced_pipeline": money(row.influenced_pipeline),
            "influenced_revenue": money(row.influenced_revenue),
            "pipeline": money(row.pipeline[model]),
            "revenue": money(row.revenue[model]),
            "cost": money(row.cost),
            "gain": percent(row.gain(model)),
        }

    query = f"since={since.isoformat()}&until={until.isoformat()}&model={model}"
    context = {
        "nav": "attribution",
        "shown": shown,
        "report": report,
        "since": since,
        "until": until,
        "model": model,
        "model_name": MODEL_NAMES[model],
        "models": [(m, MODEL_NAMES[m]) for m in MODELS],
        "notes": notes,
        "rows": [cells(r) for r in report.rows],
        "channels": [cells(r) for r in report.channels],
        "totals": {
            "pipeline": money(report.pipeline),
            "revenue": money(report.revenue),
            "untouched_pipeline": money(report.untouched_pipeline),
            "untouched_revenue": money(report.untouched_revenue),
            "attributed_pipeline": money(report.attributed("pipeline", model)),
            "attributed_revenue": money(report.attributed("revenue", model)),
        },
        "currency": settings.CURRENCY,
        "charts": charts(report, model=model),
        "csv_url": reverse("web:attribution_csv") + "?" + query,
        "lookback": int(report.lookback_days),
        "half_life": f"{report.half_life_days:g}",
        "may_edit_campaigns": access_campaigns(request.user),
    }
    return render(request, "web/attribution_page.html", context)


@require_GET
@page(access_insight)
def attribution_csv(request: HttpRequest) -> HttpResponse:
    since, until, _, _ = _choices(request)
    from leadline.insight.attribution import report_csv

    shown = _shown(since, until)
    if shown.pending:  # the page shows the computation's progress, then offers the download
        query = f"since={since.isoformat()}&until={until.isoformat()}"
        return redirect(reverse("web:attribution") + "?" + query)
    text = report_csv(shown.result, currency=settings.CURRENCY)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    name = f"attribution-{since.isoformat()}-{until.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# Campaigns -------------------------------------------------------------------------------------


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    channel = forms.CharField(max_length=60, required=False)
    cost = forms.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    currency = forms.CharField(max_length=3, required=False)
    starts_on = forms.DateField(required=False)
    ends_on = forms.DateField(required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea)


def _save(form: CampaignForm, campaign: Campaign, user: User) -> bool:
    """Apply the form to the campaign and save it; False with the form's errors when not."""
    if not form.is_valid():
        return False
    for name, value in form.cleaned_data.items():
        if name == "currency":
            value = value or campaign.currency or settings.CURRENCY
        setattr(campaign, name, value)
    try:
        campaign_save(campaign=campaign, actor=user)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
        return False
    return True


def _items() -> tuple[list[dict[str, Any]], Shown]:
    """Every campaign, entered or only seen in touches, with its influence over all time and
    its row (None when it has none yet), by name; and how fresh the influence figures are.

    On a large database the influence comes from the worker's snapshot (decision 15), which
    may be minutes old: the costs are read live, so one just edited shows at once, and a
    campaign entered since the snapshot is listed with its figures "not counted yet"."""
    from leadline.insight.attribution import Row, campaign_key, money

    shown = _shown(dt.date(1970, 1, 1), timezone.localdate(clock.now()))
    campaigns = {c.pk: c for c in Campaign.objects.all()}
    rows: list[Row] = list(shown.result.rows) if shown.result is not None else []
    counted = {row.campaign_id for row in rows if row.campaign_id}
    rows += [
        Row(
            key=campaign_key(c.name),
            name=c.name,
            channel=c.channel,
            campaign_id=c.pk,
            cost=None,
            currency=c.currency,
            touches=0,
            influenced_deals=0,
            influenced_pipeline=0.0,
            influenced_won=0,
            influenced_revenue=0.0,
            pipeline={},
            revenue={},
        )
        for c in campaigns.values()
        if c.pk not in counted
    ]
    items = []
    for row in sorted(rows, key=lambda r: r.name.casefold()):
        campaign = campaigns.get(row.campaign_id) if row.campaign_id else None
        cost = float(campaign.cost) if campaign and campaign.cost is not None else None
        items.append(
            {
                "row": row,
                "campaign": campaign,
                "counted": row.campaign_id is None or row.campaign_id in counted,
                "influenced_pipeline": money(row.influenced_pipeline),
                "influenced_revenue": money(row.influenced_revenue),
                "cost": money(cost),
            }
        )
    return items, shown


def _row_context(campaign: Campaign) -> dict[str, Any]:
    items, _ = _items()
    item = next(i for i in items if i["campaign"] and i["campaign"].pk == campaign.pk)
    return {"item": item, "currency": settings.CURRENCY}


def _list_context(**extra: Any) -> dict[str, Any]:
    items, shown = _items()
    return {
        "nav": "campaigns",
        "items": items,
        "shown": shown,
        "channels": CHANNELS,
        "currency": settings.CURRENCY,
        "new_form": CampaignForm(),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@page(access_campaigns)
def campaigns_page(request: HttpRequest) -> HttpResponse:
    """GET: the list. POST: make a campaign (from the form at the top, or in one click from a
    name seen in touches)."""
    user = request.user
    assert isinstance(user, User)
    if request.method == "GET":
        return render(request, "web/campaigns_list.html", _list_context())
    form = CampaignForm(request.POST)
    campaign = Campaign()
    if _save(form, campaign, user):
        if is_htmx(request):
            context = {**_row_context(campaign), "saved": True}
            return render(request, "web/campaigns_row.html", context)
        return redirect("web:campaigns")
    context = _list_context(new_form=form)
    return render(request, "web/campaigns_list.html", context, status=422)


@require_GET
@page(access_campaigns)
def campaign_row(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(request, "web/campaigns_row.html", _row_context(campaign))


@require_http_methods(["GET", "POST"])
@page(access_campaigns)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the row as a form. POST: save; the row again, or the form with each error beside
    its field."""
    user = request.user
    assert isinstance(user, User)
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if _save(form, campaign, user):
            if not is_htmx(request):
                return redirect("web:campaigns")
            context = {**_row_context(campaign), "saved": True}
            return render(request, "web/campaigns_row.html", context)
        status = 200 if is_htmx(request) else 422
        campaign.refresh_from_db()
    else:
        form = CampaignForm(
            initial={
                "name": campaign.name,
                "channel": campaign.channel,
                "cost": campaign.cost,
                "currency": campaign.currency,
                "starts_on": campaign.starts_on,
                "ends_on": campaign.ends_on,
                "notes": campaign.notes,
            }
        )
        status = 200
    context = {"campaign": campaign, "form": form, "channels": CHANNELS}
    return render(request, "web/campaigns_edit_row.html", context, status=status)


urlpatterns: list[URLPattern] = [
    path("insight/attribution/", attribution_page, name="attribution"),
    path("insight/attribution.csv", attribution_csv, name="attribution_csv"),
    path("campaigns/", campaigns_page, name="campaigns"),
    path("campaigns/<int:pk>/", campaign_row, name="campaign_row"),
    path("campaigns/<int:pk>/edit/", campaign_edit, name="campaign_edit"),
]
