from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "leadline.web"
    label = "web"
    verbose_name = "Web UI"
