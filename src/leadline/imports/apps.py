from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "leadline.imports"
    label = "imports"
    verbose_name = "Imports: history brought in from CSV files"
