from django.apps import AppConfig


class RelationshipsConfig(AppConfig):
    name = "leadline.relationships"
    label = "relationships"
    verbose_name = "Relationships: handover, capacity, health"
