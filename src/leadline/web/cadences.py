"""Cadences: editing them, enrolling people, the tasks they make."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
