"""Indexes for the everyday pages at a million people (issue 8), on PostgreSQL only.

The inbox reads a seller's open requests: a few thousand among a million closed ones. A partial
index on the open ones keeps that read from scanning every request. SQLite: nothing.
"""

from django.db import migrations

from leadline.core.migration_ops import postgres_only


class Migration(migrations.Migration):
    dependencies = [("capture", "0003_submission_form_index_dropped")]

    operations = [
        postgres_only(
            forward=[
                (
                    'CREATE INDEX IF NOT EXISTS "request_open" ON "capture_request" ("id") '
                    "WHERE \"status\" = 'open'"
                ),
            ],
            backward=[
                'DROP INDEX IF EXISTS "request_open"',
            ],
        )
    ]
