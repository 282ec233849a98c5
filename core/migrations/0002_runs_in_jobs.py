from django.db import migrations


class Migration(migrations.Migration):
    """Job runs belong to the jobs app now (jobs 0001). State only."""

    dependencies = [
        ("core", "0001_initial"),
        ("jobs", "0001_initial"),
        ("maintenance", "0004_jobs_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="JobRun")],
            database_operations=[],
        ),
    ]
