"""The default rejection reasons; admins, marketing and managers change the list on a page."""

from typing import Any

from django.db import migrations

DEFAULTS = (
    ("Not a fit: company too small", False),
    ("Not a fit: wrong role", True),
    ("No budget / no project", True),
    ("Already a customer or in a deal", False),
    ("Could not reach them", True),
    ("Duplicate", False),
)


def seed(apps: Any, schema_editor: Any) -> None:
    reason = apps.get_model("engagement", "RejectionReason")
    for position, (name, nurture) in enumerate(DEFAULTS, start=1):
        reason.objects.get_or_create(
            name=name, defaults={"sends_to_nurture": nurture, "position": position * 10}
        )


def unseed(apps: Any, schema_editor: Any) -> None:
    reason = apps.get_model("engagement", "RejectionReason")
    reason.objects.filter(name__in=[name for name, _ in DEFAULTS], handoffs__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
