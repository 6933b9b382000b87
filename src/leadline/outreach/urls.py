"""outreach's public pages (no login): signed links only."""

from django.urls import URLPattern, path

from leadline.outreach import views

app_name = "outreach"

urlpatterns: list[URLPattern] = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
