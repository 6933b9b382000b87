from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "leadline.engagement"
    label = "engagement"
    verbose_name = "Engagement: qualification, lifecycle, marketing-to-sales handoff"
