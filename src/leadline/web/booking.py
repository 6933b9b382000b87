"""Bookable hours and meetings (the staff side; the public page is in booking.views)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
