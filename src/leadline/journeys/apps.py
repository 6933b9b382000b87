from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "leadline.journeys"
    label = "journeys"
    verbose_name = "Journeys: the buyer's steps, signals, conversations, buying committee"
