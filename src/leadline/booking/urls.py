"""booking's public pages (no login): signed links only."""

from django.urls import URLPattern, path  # noqa: F401

app_name = "booking"

urlpatterns: list[URLPattern] = []
