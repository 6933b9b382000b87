"""Who may do what. Every view and API handler asks one of these before it acts."""

from __future__ import annotations

from typing import Any

from leadline.core.models import Role

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
