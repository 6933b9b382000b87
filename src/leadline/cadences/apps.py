from django.apps import AppConfig


class CadencesConfig(AppConfig):
    name = "leadline.cadences"
    label = "cadences"
    verbose_name = "Cadences: sequences of emails, calls and tasks"
