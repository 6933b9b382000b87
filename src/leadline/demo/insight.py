"""Demo prediction: the deals from before Leadline (as an import from the old CRM would bring
them), then a first fit of the winning model and of the next-step model for the step where
most people are now, so the model pages show figures and people's pages show their chances.

The fits are queued for the worker (`leadline demo` starts one; they take some seconds each,
more than the demo may spend): the model pages show them waiting, then their progress, then
their figures. `run_now=True` fits them here instead.

The past deals depend on the demo's own people only (their first form, what they did before
the deal), deterministically: each person's fate comes from a hash of their email, not from
the order rows were stored in. Each closed deal also carries a "Close reason" written when it
closed: the leakage guard finds and flags it, as it would in real CRM data. The other models
are left for a refit from their page (which shows the worker's progress).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from decimal import Decimal

from django.db import transaction

from leadline.core import clock
from leadline.core.models import Person
from leadline.engagement.models import Opportunity, OpportunityStatus

# Of the people whose first request is old enough, this share had a deal in the old CRM.
PAST_DEAL_SHARE = 0.6
WON_REASONS = ("Signed after the demo", "Signed: price accepted", "Signed the annual plan")
LOST_REASONS = ("Chose a rival", "No budget this year", "Went quiet", "Too small for us")
PRODUCTS = ("Close Standard", "Close Enterprise")
# What made a past deal likelier to be won (the signal the model should find).
ASKED_FORMS = {"Demo request", "Pricing enquiry"}
KEEN_EVENTS = ("webinar_attended", "proposal_requested", "quote_requested", "trial_started")


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def past_deals_make(*, now: dt.datetime) -> int:
    """Closed deals for a deterministic share of the demo people whose history is long enough;
    won more often when they asked for a demo or pricing, or showed keen signals before the
    deal opened. Returns how many were made."""
    from leadline.insight import history

    people = {
        pk: email
        for pk, email in Person.objects.filter(
            merged_into__isnull=True, emails__is_primary=True
        ).values_list("pk", "emails__email")
    }
    if not people:
        return 0
    values, _ = history.subjects_frame("person", ids=list(people))
    events = history.events_frame(person_ids=list(people))
    keen = events[events["name"].isin(KEEN_EVENTS)].groupby("person_id")["at"].min()
    first_seen = dict(Person.objects.filter(pk__in=list(people)).values_list("pk", "created_at"))
    deals: list[Opportunity] = []
    for pk in sorted(people, key=lambda p: people[p]):
        rng = _rng("past-deal", people[pk])
        if rng.random() >= PAST_DEAL_SHARE:
            continue
        opened_at = first_seen[pk] + dt.timedelta(days=rng.randint(5, 20), hours=rng.randint(0, 8))
        closed_at = opened_at + dt.timedelta(days=rng.randint(10, 45))
        if closed_at >= now:
            continue
        first_form = values.at[pk, "First form"] if "First form" in values.columns else None
        keen_at = keen.get(pk)
        chance = 0.2
        chance += 0.35 if first_form in ASKED_FORMS else 0.0
        chance += 0.3 if keen_at is not None and keen_at < opened_at else 0.0
        won = rng.random() < chance
        reason = rng.choice(WON_REASONS if won else LOST_REASONS)
        deals.append(
            Opportunity(
                person_id=pk,
                name="Deal from the old CRM",
                status=OpportunityStatus.WON if won else OpportunityStatus.LOST,
                amount=Decimal(4000 + 500 * rng.randint(0, 20)),
                opened_at=opened_at,
                closed_at=closed_at,
                close_note=reason,
                attributes={"Product": rng.choice(PRODUCTS), "Close reason": reason},
                attributes_at={
                    "Product": opened_at.isoformat(),
                    # Written up the day after the deal closed.
                    "Close reason": (closed_at + dt.timedelta(days=1)).isoformat(),
                },
            )
        )
    with transaction.atomic():
        Opportunity.objects.bulk_create(deals, batch_size=500)
    return len(deals)


def insight_demo(*, now: dt.datetime, run_now: bool = False) -> dict[str, str]:
    """The past deals, then one fit each of the winning model and of the busiest step's
    next-step model, queued for the worker (or run here). Returns each model's fit status."""
    from django.db.models import Count

    from leadline.insight import selectors, services
    from leadline.insight.models import PredictionModel, Question

    started = time.perf_counter()
    past_deals_make(now=now)
    services.models_ensure()
    chosen = [PredictionModel.objects.get(question=Question.WIN)]
    busiest = (
        PredictionModel.objects.filter(question=Question.NEXT_STEP, step__journey__is_default=True)
        .annotate(waiting=Count("step__positions"))
        .order_by("-waiting", "step__position")
        .first()
    )
    if busiest is not None:
        chosen.append(busiest)
    done: dict[str, str] = {}
    for model in chosen:
        if selectors.fit_active(model=model) is not None:
            continue
        with clock.frozen_at(now):  # queued (and audited) at the demo's moment
            fit = services.model_refit(model=model, actor=None, run_now=run_now)
        fit.refresh_from_db(fields=["status"])
        done[model.name] = fit.status
    done["seconds"] = f"{time.perf_counter() - started:.1f}"
    return done
