"""Notifications in the admin: what was sent, and the webhook endpoints (admin role only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from leadline.core.admin import AdminRoleOnly, ReadOnly
from leadline.notify.models import InboxItem, OutgoingMail, WebhookDelivery, WebhookEndpoint
from leadline.notify.services import webhook_endpoint_create


@admin.register(OutgoingMail)
class OutgoingMailAdmin(ReadOnly, admin.ModelAdmin[OutgoingMail]):
    list_display = ("created_at", "subject", "reason", "status", "attempts", "sent_at")
    list_filter = ("status", "reason")
    search_fields = ("subject", "to", "subject_ref", "message_id")
    date_hierarchy = "created_at"
    raw_id_fields = ("person", "user")


@admin.register(InboxItem)
class InboxItemAdmin(ReadOnly, admin.ModelAdmin[InboxItem]):
    list_display = ("created_at", "user", "kind", "title", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "user__username", "subject_ref")
    date_hierarchy = "created_at"
    raw_id_fields = ("person", "user")
    list_select_related = ("user",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AdminRoleOnly, admin.ModelAdmin[WebhookEndpoint]):
    """The signing secret is shown once, when the endpoint is added, and never on this page."""

    # A URL typed without a scheme means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("url", "description", "kinds", "active", "created_by", "created_at")
    list_filter = ("active",)
    search_fields = ("url", "description")

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        # A new endpoint starts active; it can be switched off afterwards.
        return (
            ("url", "description", "kinds")
            if obj is None
            else ("url", "description", "kinds", "active")
        )

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, secret = webhook_endpoint_create(
            url=obj.url,
            kinds=obj.kinds,
            description=obj.description,
            created_by=request.user,  # type: ignore[arg-type]
        )
        # The admin goes on to log and link the object it holds, so it takes the saved row's id.
        obj.pk = created.pk
        obj.secret = created.secret
        obj.created_at = created.created_at
        messages.warning(
            request,
            f"Signing secret for {created.url}: {secret} — copy it now, it is not shown again.",
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly, admin.ModelAdmin[WebhookDelivery]):
    list_display = (
        "created_at",
        "kind",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "kind")
    date_hierarchy = "created_at"
    list_select_related = ("endpoint",)
