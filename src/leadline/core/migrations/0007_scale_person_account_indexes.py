"""An account's former members from an index of their own (issue 8), on PostgreSQL only.

The account page lists its current members before its former ones. Which are former was read
from every membership row of the account (4,500 rows, 10-15 ms, at the largest company of a
million people); a partial index of the memberships that ended holds just those (few) and
answers from the index alone. SQLite: nothing.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        'CREATE INDEX IF NOT EXISTS "membership_account_former" ON "core_membership" '
        '("account_id") INCLUDE ("person_id") WHERE NOT "is_current"'
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('DROP INDEX IF EXISTS "membership_account_former"')


class Migration(migrations.Migration):
    dependencies = [("core", "0006_scale_search_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
