"""inbound's public endpoint (no login): the inbound-mail webhook, signed with a shared secret."""

from django.urls import URLPattern, path

from leadline.inbound import views

app_name = "inbound"

urlpatterns: list[URLPattern] = [
    path("inbound/mail/", views.inbound_mail, name="mail"),
]
