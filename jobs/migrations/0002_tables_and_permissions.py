"""The jobs app's tables take its names (jobs_jobrun, jobs_alert, jobs_schedulewatch; the
rows, their ids and the foreign keys to them stay), and the content types and permissions
ops were given on the old models follow them, so nobody loses access to the jobs page."""

from django.db import migrations

from core.moved_models import move_content_types

MOVED = [
    ("maintenance", "maintenancerun", "jobs", "jobrun"),
    ("maintenance", "alert", "jobs", "alert"),
    ("maintenance", "schedulewatch", "jobs", "schedulewatch"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("core", "0002_runs_in_jobs"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelTable(name="jobrun", table=None),
        migrations.AlterModelTable(name="alert", table=None),
        migrations.AlterModelTable(name="schedulewatch", table=None),
        migrations.RunPython(
            lambda apps, schema_editor: move_content_types(apps, MOVED),
            lambda apps, schema_editor: move_content_types(apps, MOVED, backwards=True),
        ),
    ]
