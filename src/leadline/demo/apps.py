from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "leadline.demo"
    label = "demo"
    verbose_name = "Demo data"
