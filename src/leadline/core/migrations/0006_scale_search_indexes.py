"""A company's members answered from the index alone (issue 8), on PostgreSQL only.

People search finds the people of the companies whose name matches: for a word such as
"Renewables", 20 companies with 22,000 members at a million people. With the person in the index
their ids come from it without reading 22,000 rows; and whether each is merged into someone
else (the page's count of them) from a partial index of the people not merged. SQLite: nothing.
"""

from django.db import migrations

from leadline.core.migration_ops import postgres_only


class Migration(migrations.Migration):
    dependencies = [("core", "0005_scale_pages_indexes")]

    operations = [
        postgres_only(
            forward=[
                (
                    'CREATE INDEX IF NOT EXISTS "membership_account_cover" ON "core_membership"'
                    ' ("account_id") INCLUDE ("person_id")'
                ),
                (
                    'CREATE INDEX IF NOT EXISTS "person_not_merged" ON "core_person" ("id") '
                    'WHERE "merged_into_id" IS NULL'
                ),
            ],
            backward=[
                'DROP INDEX IF EXISTS "membership_account_cover"',
                'DROP INDEX IF EXISTS "person_not_merged"',
            ],
        )
    ]
