from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "leadline.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns: what marketing spent, on what, when"
