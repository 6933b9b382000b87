"""Who may do what. Every view and API handler asks one of these before it acts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from leadline.core.models import Role

F = TypeVar("F", bound=Callable[..., Any])

# The attribute a view carries to say who may use it: `page(check)` and the API's `rule(check)`
# set RULE_ATTR to the access_* function; `public(why)` sets PUBLIC_ATTR to the reason anyone
# may. tests/test_route_rules.py walks every route and fails on a view that has neither.
RULE_ATTR = "leadline_rule"
PUBLIC_ATTR = "leadline_public"


def public(why: str) -> Callable[[F], F]:
    """Mark a view open to anyone, logged in or not, saying why (it shows nothing of anyone,
    or it is reached through a signed link, or it checks a shared secret itself)."""
    if not why.strip():
        raise ValueError("say why this view is public")

    def mark(view: F) -> F:
        setattr(view, PUBLIC_ATTR, why)
        return view

    return mark


STAFF_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER, Role.SALES_REP})
FORM_EDITORS = frozenset({Role.ADMIN, Role.MARKETING})


def _role(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return str(user.role)


def access_people(user: Any) -> bool:
    """Browse, search and read people and accounts. Outside callers work only their call queue."""
    return _role(user) in STAFF_ROLES


def access_person_edit(user: Any) -> bool:
    return _role(user) in STAFF_ROLES


def access_merge(user: Any) -> bool:
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


def access_forms(user: Any) -> bool:
    """Create and change capture forms and gated assets."""
    return _role(user) in FORM_EDITORS


def access_submissions(user: Any) -> bool:
    return _role(user) in FORM_EDITORS | {Role.SALES_MANAGER}


def access_admin(user: Any) -> bool:
    return _role(user) == Role.ADMIN


def access_sla_board(user: Any) -> bool:
    """The response-times board: how the team answers requests, rep by rep. Not for reps."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


def access_inbox(user: Any) -> bool:
    """The inbox: the requests a seller must touch, and their notifications. Marketing has no
    requests to work and, today, nothing notifies them, so they are not let in (403); when
    something does, let them in to the notifications panel alone."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP}


def access_journeys(user: Any) -> bool:
    """Read the buyer's journeys: the steps, their signals, who is where; export them as YAML."""
    return _role(user) in STAFF_ROLES


def access_journey_edit(user: Any) -> bool:
    """Change a journey (edit or import its YAML)."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


def access_journey_move(user: Any) -> bool:
    """Move a person or an account's buying group to another step by hand."""
    return _role(user) in STAFF_ROLES


def access_pain_points(user: Any) -> bool:
    """Read the pain-point catalogue and how often each was confirmed or rejected."""
    return _role(user) in STAFF_ROLES


def access_pain_point_edit(user: Any) -> bool:
    """Add, change and turn off pain points in the catalogue. Reps read it."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


SELLERS = frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.SALES_REP})
ALL_ROLES = frozenset(Role)


# Engagement: qualification, lifecycle, handoffs --------------------------------------------------


def access_handoffs(user: Any) -> bool:
    """See handoffs; sellers accept or reject the ones handed to them (managers: any of them)."""
    return _role(user) in STAFF_ROLES


def access_handoff_create(user: Any) -> bool:
    """Hand a lead over to sales by hand, and manage the list of rejection reasons."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


def access_lead_quality(user: Any) -> bool:
    """The lead-quality report: handed over, accepted, rejected by reason, won."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


# Outreach: contact pressure, do-not-contact, marketing emails ----------------------------------


def access_outreach_settings(user: Any) -> bool:
    """Change the contact-pressure limit, quiet hours and the do-not-contact lists."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


def access_newsletters(user: Any) -> bool:
    """Write and send marketing emails to many people."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


# Cadences ----------------------------------------------------------------------------------------


def access_cadences(user: Any) -> bool:
    """See cadences, enrol people in them and take people out."""
    return _role(user) in STAFF_ROLES


def access_cadence_edit(user: Any) -> bool:
    """Create and change cadences and their enrolment rules."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


# Calls and outside callers -----------------------------------------------------------------------


def access_call_queue(user: Any) -> bool:
    """Work a call queue: everyone, including outside callers (who see only what a call needs)."""
    return _role(user) in ALL_ROLES


def is_outside_caller(user: Any) -> bool:
    return _role(user) == Role.OUTSIDE_CALLER


# Booking -----------------------------------------------------------------------------------------


def access_booking_settings(user: Any) -> bool:
    """Set one's own bookable hours and booking page (managers: their team's)."""
    return _role(user) in SELLERS


def access_booking_team_pages(user: Any) -> bool:
    """Make and change a team's booking page (round robin): managers (their teams), admins."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER}


# Inbound mail ------------------------------------------------------------------------------------


def access_inbound_mail(user: Any) -> bool:
    """The inbound-mail page: the mail read from the mailbox and the webhook, what it matched,
    what failed (and trying it again). Sellers see replies on the person page and in the inbox."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER}


# Commitments -------------------------------------------------------------------------------------


def access_commitments_report(user: Any) -> bool:
    """The report of promises kept and broken, seller by seller."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER}


def access_commitment_settle(user: Any, commitment: Any = None) -> bool:
    """Mark a promise kept, or cancel it: the seller who made it; managers and admins any.
    Without a commitment: whether the user may settle any at all (their own)."""
    role = _role(user)
    if role in {Role.ADMIN, Role.SALES_MANAGER}:
        return True
    if role not in STAFF_ROLES:
        return False
    return commitment is None or commitment.promised_by_id == user.pk


# Insight: imports, transitions, prediction, attribution, campaigns -----------------------------


def access_imports(user: Any) -> bool:
    """Bring history in from CSV files, and see past imports and their row errors."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


def access_insight(user: Any) -> bool:
    """Read the analyses: what moves buyers on, the models and their figures, attribution."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


def access_ratings(user: Any) -> bool:
    """The prospect ratings report: managers, admins, marketing see everyone; a sales rep sees
    their own row and their team's (access_ratings_all says which)."""
    return _role(user) in STAFF_ROLES


def access_ratings_all(user: Any) -> bool:
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


def access_goals(user: Any) -> bool:
    """See the goals and their progress: every staff role (not outside callers)."""
    return _role(user) in STAFF_ROLES


def access_goal_edit(user: Any) -> bool:
    """Set, change and archive goals."""
    return _role(user) in {Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER}


def access_model_refit(user: Any) -> bool:
    """Refit a model, and choose which flagged fields it may use anyway."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


def access_prediction(user: Any) -> bool:
    """See a person's or account's chances and their reasons (on their page)."""
    return _role(user) in STAFF_ROLES


def access_campaigns(user: Any) -> bool:
    """See campaigns; enter and change their cost."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


# Relationships: handover, capacity, health, company memory ------------------------------------


def access_handover(user: Any) -> bool:
    """Plan, review, change and apply the handover of a seller who leaves or moves team."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER}


def access_briefings(user: Any) -> bool:
    """Read the briefings on relationships handed over to you (managers and admins: anyone's)."""
    return _role(user) in SELLERS


def access_team_load(user: Any) -> bool:
    """The team page: each seller's active relationships against their cap."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER}


def access_relationship_health(user: Any) -> bool:
    """Relationship health and the "going cold" list: a rep's own, a manager's team's."""
    return _role(user) in SELLERS


def is_manager(user: Any) -> bool:
    """Managers (and admins) read private notes and every seller's lists."""
    return _role(user) in {Role.ADMIN, Role.SALES_MANAGER}


# Privacy (issue 9) ------------------------------------------------------------------------------


def access_privacy_export(user: Any) -> bool:
    """Export everything stored about a person (a data subject's access request)."""
    return _role(user) in {Role.ADMIN, Role.MARKETING}


def access_privacy_erase(user: Any) -> bool:
    """Erase a person on request, and read the log of who saw or changed personal data."""
    return _role(user) == Role.ADMIN


# API tokens --------------------------------------------------------------------------------------


def access_api_tokens(user: Any) -> bool:
    """Make, list and revoke one's own API tokens (an admin: everyone's). A token never has
    more rights than its owner's role. Outside callers work their queue in the browser; an
    admin can make one a token with `leadline token create` if a dialler needs it."""
    return _role(user) in STAFF_ROLES


def access_system_health(user: Any) -> bool:
    """The System health page (`leadline doctor`'s checks): admins only, as it shows the
    configuration and the workers' hosts."""
    return _role(user) == Role.ADMIN
