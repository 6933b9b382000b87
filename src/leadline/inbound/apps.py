from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "leadline.inbound"
    label = "inbound"
    verbose_name = "Inbound mail: replies and bounces, read and matched"
