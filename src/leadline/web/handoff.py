"""Handoffs from marketing to sales, and the lead-quality report."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
