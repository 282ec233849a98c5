import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The run model now lives in core (core.JobRun, same table); here it stays as a proxy,
    so the admin's URLs, permissions and content type do not change. State only."""

    dependencies = [
        ("core", "0001_initial"),
        ("maintenance", "0002_alerts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="archivedrecord",
                    name="run",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="archived",
                        to="core.jobrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="alert",
                    name="run",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="alerts",
                        to="core.jobrun",
                    ),
                ),
                migrations.DeleteModel(name="MaintenanceRun"),
                migrations.CreateModel(
                    name="MaintenanceRun",
                    fields=[],
                    options={"proxy": True, "indexes": [], "constraints": []},
                    bases=("core.jobrun",),
                ),
            ],
            database_operations=[],
        ),
    ]
