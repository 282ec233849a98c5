import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Job runs move from the maintenance app to core. The table stays where the maintenance
    app created it (its 0001 migration): this only tells Django's state who owns it."""

    initial = True

    dependencies = [("maintenance", "0002_alerts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("task", models.CharField(db_index=True, max_length=200)),
                        ("arguments", models.JSONField(blank=True, default=dict)),
                        (
                            "started_at",
                            models.DateTimeField(db_index=True, default=django.utils.timezone.now),
                        ),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                    ("skipped", "skipped (already running)"),
                                ],
                                default="running",
                                max_length=20,
                            ),
                        ),
                        ("counts", models.JSONField(blank=True, default=dict)),
                        ("error", models.TextField(blank=True)),
                    ],
                    options={
                        "db_table": "maintenance_maintenancerun",
                        "ordering": ["-started_at", "-id"],
                        "indexes": [
                            models.Index(fields=["task", "-started_at"], name="run_task_recent")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
