"""Indexes for the everyday pages at a million people (issue 8), on PostgreSQL only.

The inbox's version (what its poll compares, twice a second) holds the newest notification's
id: `MAX(id) WHERE user_id = …`. With an index on (user_id, id) that is one index entry instead
of every notification the seller ever had (over 100,000 for a busy one at a million people).
SQLite: nothing.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        'CREATE INDEX IF NOT EXISTS "inbox_user_newest" ON "notify_inboxitem" ("user_id", "id")'
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('DROP INDEX IF EXISTS "inbox_user_newest"')


class Migration(migrations.Migration):
    dependencies = [("notify", "0002_outgoingmail_attachments")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
