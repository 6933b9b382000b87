from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "leadline.privacy"
    label = "privacy"
