from django.apps import AppConfig


class CommitmentsConfig(AppConfig):
    name = "leadline.commitments"
    label = "commitments"
    verbose_name = "Commitments: promises made to prospects"
