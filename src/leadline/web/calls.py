"""The call queue (also the outside callers' restricted view)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
