"""Indexes for the everyday pages at a million people (issue 8), on PostgreSQL only.

The inbox reads a seller's open requests: a few thousand among a million closed ones. A partial
index on the open ones keeps that read from scanning every request. SQLite: nothing.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        'CREATE INDEX IF NOT EXISTS "request_open" ON "capture_request" ("id") '
        "WHERE \"status\" = 'open'"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('DROP INDEX IF EXISTS "request_open"')


class Migration(migrations.Migration):
    dependencies = [("capture", "0003_submission_form_index_dropped")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
