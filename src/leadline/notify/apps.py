from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "leadline.notify"
    label = "notify"
    verbose_name = "Notifications: mail, inbox and webhooks"
