from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "leadline.routing"
    label = "routing"
    verbose_name = "Routing: owners, first-touch deadlines, escalation"
