"""Routing in the admin: rules, time away and each team's escalation ladder (admin role only);
the records of who got what and which steps were done, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from leadline.core.admin import AdminRoleOnly, ReadOnly
from leadline.routing.models import (
    Absence,
    Assignment,
    EscalationLadder,
    Ownership,
    RequestRouting,
    RoutingRule,
    Timer,
    Touch,
)
from leadline.routing.services import absence_record


@admin.register(RoutingRule)
class RoutingRuleAdmin(AdminRoleOnly, admin.ModelAdmin[RoutingRule]):
    list_display = ("position", "name", "team", "is_active")
    list_display_links = ("name",)
    list_filter = ("is_active", "team")
    ordering = ("position", "id")


@admin.register(Absence)
class AbsenceAdmin(AdminRoleOnly, admin.ModelAdmin[Absence]):
    list_display = ("user", "starts_at", "ends_at", "reason")
    list_filter = ("user__team",)
    date_hierarchy = "starts_at"

    def save_model(self, request: HttpRequest, obj: Absence, form: Any, change: bool) -> None:
        # A new absence that has begun hands the person's waiting requests on at once.
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = absence_record(
            user=obj.user,
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            reason=obj.reason,
            actor=request.user,  # type: ignore[arg-type]
        )
        obj.pk = saved.pk


@admin.register(EscalationLadder)
class EscalationLadderAdmin(AdminRoleOnly, admin.ModelAdmin[EscalationLadder]):
    """Applies to requests that arrive after the change; those already waiting keep theirs."""

    list_display = ("team", "remind_before", "reassign_after", "fallback_after")
    list_display_links = ("team",)


@admin.register(RequestRouting)
class RequestRoutingAdmin(ReadOnly, admin.ModelAdmin[RequestRouting]):
    list_display = ("request", "owner", "queue", "first_touch_due", "first_touched_at")
    list_filter = ("queue", "team")
    raw_id_fields = ("request",)
    list_select_related = ("request__person", "owner")


@admin.register(Assignment)
class AssignmentAdmin(ReadOnly, admin.ModelAdmin[Assignment]):
    list_display = ("at", "request", "owner", "queue", "why")
    list_filter = ("queue", "team")
    date_hierarchy = "at"
    raw_id_fields = ("request",)
    list_select_related = ("request__person", "owner")


@admin.register(Ownership)
class OwnershipAdmin(ReadOnly, admin.ModelAdmin[Ownership]):
    """Relationships change through routing and handovers, which keep their history."""

    list_display = ("owner", "person", "account", "started_at", "ended_at", "reason")
    list_filter = ("owner",)
    raw_id_fields = ("person", "account")
    list_select_related = ("owner", "person", "account")


@admin.register(Timer)
class TimerAdmin(ReadOnly, admin.ModelAdmin[Timer]):
    list_display = ("due_at", "step", "request", "done_at", "outcome")
    list_filter = ("step",)
    date_hierarchy = "due_at"
    raw_id_fields = ("request",)
    list_select_related = ("request__person",)


@admin.register(Touch)
class TouchAdmin(ReadOnly, admin.ModelAdmin[Touch]):
    list_display = ("at", "person", "kind", "outcome", "user")
    list_filter = ("kind", "outcome")
    date_hierarchy = "at"
    raw_id_fields = ("person", "request")
