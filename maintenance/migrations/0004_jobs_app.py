import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Runs, alerts and schedule watches now belong to the jobs app (its 0001); archived rows
    point at jobs.JobRun, the same table. State only."""

    dependencies = [
        ("jobs", "0001_initial"),
        ("maintenance", "0003_runs_in_core"),
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
                        to="jobs.jobrun",
                    ),
                ),
                migrations.DeleteModel(name="Alert"),
                migrations.DeleteModel(name="ScheduleWatch"),
                migrations.DeleteModel(name="MaintenanceRun"),
            ],
            database_operations=[],
        ),
    ]
