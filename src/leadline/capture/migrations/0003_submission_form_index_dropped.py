import django.db.models.deletion
from django.db import migrations, models

# The index Django made for the foreign key, by its name on both SQLite and PostgreSQL. Dropped
# by name: AlterField would copy the whole table on SQLite to drop one index.
INDEX = "capture_submission_form_id_889409a6"


class Migration(migrations.Migration):
    dependencies = [
        ("capture", "0002_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="submission",
                    name="form",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="submissions",
                        to="capture.form",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "capture_submission" ("form_id")',
                ),
            ],
        ),
    ]
