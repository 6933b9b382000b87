"""The inbox's open requests answered from the index alone (issue 8), on PostgreSQL only.

At a million people the 20,000 open requests lie spread over a table of 1.25 million; reading
their rows to join them to a seller's routings took 80-130 ms, mostly pages read from disk. With
the creation moment in the index (the page's last sort key) the join reads the index only:
10 ms. Replaces 0004's `request_open`. SQLite: nothing.
"""

from django.db import migrations

from leadline.core.migration_ops import postgres_only


class Migration(migrations.Migration):
    dependencies = [("capture", "0004_scale_pages_indexes")]

    operations = [
        postgres_only(
            forward=[
                'DROP INDEX IF EXISTS "request_open"',
                (
                    'CREATE INDEX IF NOT EXISTS "request_open_cover" ON "capture_request" '
                    '("id") INCLUDE ("created_at") WHERE "status" = \'open\''
                ),
            ],
            backward=[
                'DROP INDEX IF EXISTS "request_open_cover"',
                (
                    'CREATE INDEX IF NOT EXISTS "request_open" ON "capture_request" ("id") '
                    "WHERE \"status\" = 'open'"
                ),
            ],
        )
    ]
