"""The purposes asked for out of the box; admins add more on the purposes page."""

from typing import Any

from django.db import migrations

PURPOSES = [
    ("marketing_email", "Marketing email", "Newsletters and offers by email."),
    ("contact", "Sales contact", "A salesperson may call or write about what they asked for."),
    ("tracking", "Tracking and analytics", "Which pages of our sites they visit."),
    ("newsletter", "Newsletter", "The regular newsletter."),
]


def add(apps: Any, schema_editor: Any) -> None:
    Purpose = apps.get_model("privacy", "Purpose")
    for code, name, description in PURPOSES:
        Purpose.objects.get_or_create(code=code, defaults={"name": name, "description": description})


def remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("privacy", "Purpose").objects.filter(code__in=[p[0] for p in PURPOSES]).delete()


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
