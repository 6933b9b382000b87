from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "leadline.api"
    label = "api"
    verbose_name = "JSON API"
