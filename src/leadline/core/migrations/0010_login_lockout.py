"""Login throttling: failed logins and lockouts, in the database so every process counts them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import leadline.core.clock


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_api_token_scopes"),
    ]

    operations = [
        migrations.CreateModel(
            name="LoginFailure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("username", "Username"),
                            ("ip", "Address"),
                            ("api_ip", "Address (API token)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("key", models.CharField(max_length=200)),
                ("at", models.DateTimeField(default=leadline.core.clock.now)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["kind", "key", "at"], name="login_failure_key_at")
                ],
            },
        ),
        migrations.CreateModel(
            name="LoginLockout",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("username", "Username"),
                            ("ip", "Address"),
                            ("api_ip", "Address (API token)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("key", models.CharField(max_length=200)),
                ("locked_at", models.DateTimeField(default=leadline.core.clock.now)),
                ("until", models.DateTimeField()),
                ("released_at", models.DateTimeField(blank=True, null=True)),
                (
                    "released_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["kind", "key", "until"], name="login_lockout_key_until")
                ],
            },
        ),
    ]
