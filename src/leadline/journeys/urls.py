from django.urls import path

from leadline.journeys import ingest, views

app_name = "journeys"

urlpatterns = [
    path("t.js", views.tracking_js, name="tracking_js"),
    path("t/collect", ingest.collect, name="collect"),
]
