"""An account's former members from an index of their own (issue 8), on PostgreSQL only.

The account page lists its current members before its former ones. Which are former was read
from every membership row of the account (4,500 rows, 10-15 ms, at the largest company of a
million people); a partial index of the memberships that ended holds just those (few) and
answers from the index alone. SQLite: nothing.
"""

from django.db import migrations

from leadline.core.migration_ops import postgres_only


class Migration(migrations.Migration):
    dependencies = [("core", "0006_scale_search_indexes")]

    operations = [
        postgres_only(
            forward=[
                (
                    'CREATE INDEX IF NOT EXISTS "membership_account_former" ON '
                    '"core_membership" ("account_id") INCLUDE ("person_id") WHERE NOT '
                    '"is_current"'
                ),
            ],
            backward=[
                'DROP INDEX IF EXISTS "membership_account_former"',
            ],
        )
    ]
