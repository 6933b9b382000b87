from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "leadline.outreach"
    label = "outreach"
    verbose_name = "Outreach: contact pressure, do-not-contact, marketing emails"
