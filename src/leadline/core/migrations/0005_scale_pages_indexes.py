"""Indexes for the everyday pages at a million people (issue 8), on PostgreSQL only.

People search matches each word anywhere in a name, title, own words, email or company name
(`icontains`, which PostgreSQL runs as `UPPER(col::text) LIKE UPPER('%word%')`): trigram GIN
indexes on exactly those expressions let it use an index instead of reading every row. SQLite
has no trigram indexes; there these operations do nothing (its data sets are small).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

from leadline.core.migration_ops import postgres_only

# (index name, table, indexed expression)
TRIGRAM_INDEXES = [
    ("person_first_name_trgm", "core_person", 'UPPER(("first_name")::text)'),
    ("person_last_name_trgm", "core_person", 'UPPER(("last_name")::text)'),
    ("person_title_trgm", "core_person", 'UPPER(("title")::text)'),
    ("person_own_words_trgm", "core_person", 'UPPER(("role_own_words")::text)'),
    ("personemail_email_trgm", "core_personemail", 'UPPER(("email")::text)'),
    ("account_name_trgm", "core_account", 'UPPER(("name")::text)'),
]
BTREE_INDEXES = [
    # The people list's order (newest first) without sorting every person.
    ("person_newest", "core_person", '"created_at" DESC, "id" DESC'),
]


class Migration(migrations.Migration):
    dependencies = [("core", "0004_user_departs_at")]

    operations = [
        TrigramExtension(),
        postgres_only(
            forward=[
                *(
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                    f"USING gin ({expression} gin_trgm_ops)"
                    for name, table, expression in TRIGRAM_INDEXES
                ),
                *(
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})'
                    for name, table, columns in BTREE_INDEXES
                ),
            ],
            backward=[
                f'DROP INDEX IF EXISTS "{name}"' for name, _, _ in TRIGRAM_INDEXES + BTREE_INDEXES
            ],
        ),
    ]
