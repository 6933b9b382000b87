from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "leadline.capture"
    label = "capture"
    verbose_name = "Capture: forms, submissions and requests"
