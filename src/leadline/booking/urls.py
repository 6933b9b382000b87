"""booking's public pages (no login): the booking page, and the signed links of a meeting."""

from django.urls import URLPattern, path

from leadline.booking import views

app_name = "booking"

urlpatterns: list[URLPattern] = [
    path("book/<slug:slug>/", views.booking_page, name="page"),
    path("book/m/<str:token>/", views.meeting_detail, name="meeting"),
    path("book/m/<str:token>/reschedule/", views.meeting_reschedule_view, name="reschedule"),
    path("book/m/<str:token>/cancel/", views.meeting_cancel_view, name="cancel"),
]
