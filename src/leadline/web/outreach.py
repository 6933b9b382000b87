"""Contact pressure, do-not-contact and marketing emails."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
