from django.urls import path

from leadline.capture import views

app_name = "capture"

urlpatterns = [
    path("f/<slug:slug>/", views.form_endpoint, name="form"),
    path("f/<slug:slug>/schema.json", views.form_schema_view, name="schema"),
    path("f/<slug:slug>/thanks/<str:token>/", views.thanks, name="thanks"),
    path("d/<str:token>/", views.download, name="download"),
    path("embed.js", views.embed_js, name="embed"),
]
