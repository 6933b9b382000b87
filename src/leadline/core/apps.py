from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "leadline.core"
    label = "core"
    verbose_name = "People, accounts and users"
