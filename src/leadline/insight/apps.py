from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "leadline.insight"
    label = "insight"
    verbose_name = "Insight: reports on how the team answers"
