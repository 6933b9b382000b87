"""A seller's routings answered from the index alone (issue 8), on PostgreSQL only.

The inbox and its live poll join a seller's routings (14,000 at a million people: every request
they ever got) to the open requests. With what they read of a routing in the index, that is an
index-only scan instead of 14,000 row reads. SQLite: nothing.
"""

from django.db import migrations

from leadline.core.migration_ops import postgres_only


class Migration(migrations.Migration):
    dependencies = [("routing", "0002_escalation")]

    operations = [
        postgres_only(
            forward=[
                (
                    'CREATE INDEX IF NOT EXISTS "routing_owner_cover" ON '
                    '"routing_requestrouting" ("owner_id") INCLUDE ("request_id", '
                    '"first_touch_due", "first_touched_at", "assigned_at")'
                ),
            ],
            backward=[
                'DROP INDEX IF EXISTS "routing_owner_cover"',
            ],
        )
    ]
