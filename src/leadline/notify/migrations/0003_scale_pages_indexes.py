"""Indexes for the everyday pages at a million people (issue 8), on PostgreSQL only.

The inbox's version (what its poll compares, twice a second) holds the newest notification's
id: `MAX(id) WHERE user_id = …`. With an index on (user_id, id) that is one index entry instead
of every notification the seller ever had (over 100,000 for a busy one at a million people).
SQLite: nothing.
"""

from django.db import migrations

from leadline.core.migration_ops import postgres_only


class Migration(migrations.Migration):
    dependencies = [("notify", "0002_outgoingmail_attachments")]

    operations = [
        postgres_only(
            forward=[
                (
                    'CREATE INDEX IF NOT EXISTS "inbox_user_newest" ON "notify_inboxitem" '
                    '("user_id", "id")'
                ),
            ],
            backward=[
                'DROP INDEX IF EXISTS "inbox_user_newest"',
            ],
        )
    ]
