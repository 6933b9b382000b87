"""Capture's models in the admin; marketers edit forms with the builder in the staff UI."""

from __future__ import annotations

from django.contrib import admin

from leadline.capture.models import Asset, AssetDownload, Consent, Form, Request, Submission
from leadline.core.admin import AdminRoleOnly, ReadOnly


@admin.register(Asset)
class AssetAdmin(AdminRoleOnly, admin.ModelAdmin[Asset]):
    list_display = ("title", "file", "created_at")
    search_fields = ("title", "description")
    date_hierarchy = "created_at"


@admin.register(Form)
class FormAdmin(AdminRoleOnly, admin.ModelAdmin[Form]):
    list_display = ("name", "slug", "request_kind", "asset", "campaign", "is_active", "updated_at")
    list_filter = ("is_active", "request_kind")
    search_fields = ("name", "slug", "title", "campaign")
    raw_id_fields = ("created_by",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Submission)
class SubmissionAdmin(ReadOnly, admin.ModelAdmin[Submission]):
    """Raw submissions are evidence of what arrived; they are read, never edited."""

    list_display = ("received_at", "form", "status", "attempts", "person", "processed_at")
    list_filter = ("status", "form")
    search_fields = ("idempotency_key", "person__emails__email")
    date_hierarchy = "received_at"
    list_select_related = ("form", "person")


@admin.register(Request)
class RequestAdmin(AdminRoleOnly, admin.ModelAdmin[Request]):
    list_display = ("created_at", "kind", "person", "account", "wants_contact", "status", "form")
    list_filter = ("kind", "wants_contact", "status", "source", "form")
    search_fields = ("person__emails__email", "account__name", "message", "utm_campaign")
    raw_id_fields = ("person", "account", "submission", "form", "asset")
    date_hierarchy = "created_at"
    list_select_related = ("person", "account", "form")


@admin.register(Consent)
class ConsentAdmin(ReadOnly, admin.ModelAdmin[Consent]):
    list_display = ("captured_at", "person", "purpose", "granted", "method", "form")
    list_filter = ("purpose", "granted", "method")
    search_fields = ("person__emails__email", "text")
    date_hierarchy = "captured_at"
    list_select_related = ("person", "form")


@admin.register(AssetDownload)
class AssetDownloadAdmin(ReadOnly, admin.ModelAdmin[AssetDownload]):
    list_display = ("downloaded_at", "asset", "person", "ip")
    list_filter = ("asset",)
    search_fields = ("person__emails__email",)
    date_hierarchy = "downloaded_at"
    list_select_related = ("asset", "person")
