import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Job runs (from core), alerts and schedule watches (from maintenance) move to the jobs
    app. State only: the tables keep their names until 0002 renames them."""

    initial = True

    dependencies = [
        ("core", "0001_initial"),
        ("maintenance", "0003_runs_in_core"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobRun",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("task", models.CharField(db_index=True, max_length=200)),
                        ("arguments", models.JSONField(blank=True, default=dict)),
                        ("started_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
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
                        "indexes": [models.Index(fields=["task", "-started_at"], name="run_task_recent")],
                    },
                ),
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=200, unique=True)),
                        ("kind", models.CharField(choices=[("failed", "run failed"), ("missed", "job did not run")], max_length=20)),
                        ("job", models.CharField(max_length=200)),
                        ("subject", models.CharField(max_length=200)),
                        ("body", models.TextField()),
                        ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("mailed_at", models.DateTimeField(blank=True, null=True)),
                        ("posted_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("run", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="alerts", to="jobs.jobrun")),
                    ],
                    options={"db_table": "maintenance_alert", "ordering": ["-created_at", "-id"]},
                ),
                migrations.CreateModel(
                    name="ScheduleWatch",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("schedule", models.CharField(max_length=300)),
                        ("since", models.DateTimeField(default=django.utils.timezone.now)),
                        ("periodic_task", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="watch", to="django_celery_beat.periodictask")),
                    ],
                    options={"db_table": "maintenance_schedulewatch"},
                ),
            ],
            database_operations=[],
        ),
    ]
