from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "leadline.calls"
    label = "calls"
    verbose_name = "Calls: call tasks and the outside callers' queue"
