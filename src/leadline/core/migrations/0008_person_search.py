"""People search reads one text per person (`PersonSearch`) with one trigram index (PostgreSQL).

The text is filled here for everyone already stored, in chunks. The trigram indexes on the
person's four columns and on the addresses served only the search and go; the one on company
names stays (the accounts search reads it).
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

from leadline.core.migration_ops import postgres_only
from leadline.core.selectors import SEARCH_CHUNK, people_search_texts

RETIRED = [
    ("person_first_name_trgm", "core_person", 'UPPER(("first_name")::text)'),
    ("person_last_name_trgm", "core_person", 'UPPER(("last_name")::text)'),
    ("person_title_trgm", "core_person", 'UPPER(("title")::text)'),
    ("person_own_words_trgm", "core_person", 'UPPER(("role_own_words")::text)'),
    ("personemail_email_trgm", "core_personemail", 'UPPER(("email")::text)'),
]


def texts_fill(apps: Any, schema_editor: Any) -> None:
    people = apps.get_model("core", "Person")._default_manager
    search = apps.get_model("core", "PersonSearch")
    ids = list(people.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), SEARCH_CHUNK):
        texts = people_search_texts(ids[start : start + SEARCH_CHUNK], apps=apps)
        search._default_manager.bulk_create(
            [search(person_id=pk, text=text) for pk, text in texts.items()]
        )


class Migration(migrations.Migration):
    dependencies = [("core", "0007_scale_person_account_indexes")]

    operations = [
        migrations.CreateModel(
            name="PersonSearch",
            fields=[
                (
                    "person",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search",
                        serialize=False,
                        to="core.person",
                    ),
                ),
                ("text", models.TextField()),
            ],
        ),
        migrations.RunPython(texts_fill, migrations.RunPython.noop, elidable=False),
        postgres_only(
            forward=[
                'CREATE INDEX IF NOT EXISTS "person_search_trgm" ON "core_personsearch" '
                'USING gin ("text" gin_trgm_ops)',
                *(f'DROP INDEX IF EXISTS "{name}"' for name, _, _ in RETIRED),
            ],
            backward=[
                'DROP INDEX IF EXISTS "person_search_trgm"',
                *(
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                    f"USING gin ({expression} gin_trgm_ops)"
                    for name, table, expression in RETIRED
                ),
            ],
        ),
    ]
