"""(issue 6, being built)"""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
