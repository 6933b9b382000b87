"""API tokens get scopes: read, write, capture. Existing tokens keep read + write."""

from django.db import migrations, models

import leadline.core.models


class Migration(migrations.Migration):
    dependencies = [("core", "0008_person_search")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(default=leadline.core.models.token_scopes_default),
        ),
    ]
