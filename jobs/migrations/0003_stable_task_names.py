"""Tasks have explicit, stable names (`<app>.<job>`) instead of their functions' module paths:
moving a function no longer orphans its schedule. The stored schedules and the recorded
runs of the renamed check job follow."""

from django.db import migrations
from django.utils import timezone

RENAMED = {
    "maintenance.tasks.archive_old_records": "maintenance.archive_old_records",
    "maintenance.tasks.cleanup_temporary_files": "maintenance.cleanup_temporary_files",
    "maintenance.tasks.sweep_orphaned_files": "maintenance.sweep_orphaned_files",
    "maintenance.tasks.delete_files": "files.delete_files",
    "maintenance.tasks.check_maintenance_jobs": "jobs.check_jobs",
    "messaging.tasks.reconcile_notifications": "messaging.reconcile_notifications",
    "messaging.tasks.create_notification": "messaging.create_notification",
    "messaging.tasks.record_edit": "messaging.record_edit",
    "messaging.tasks.announce_unread": "messaging.announce_unread",
    "messaging.tasks.purge_account": "accounts.purge_account",
}
SCHEDULE_NAMES = {"check maintenance jobs": "check jobs"}
JOB_NAMES = {"check_maintenance_jobs": "check_jobs"}


def rename(apps, schema_editor, *, backwards: bool = False):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    JobRun = apps.get_model("jobs", "JobRun")
    Alert = apps.get_model("jobs", "Alert")

    def pairs(mapping):
        return [(new, old) for old, new in mapping.items()] if backwards else mapping.items()

    changed = 0
    for old, new in pairs(RENAMED):
        changed += PeriodicTask.objects.filter(task=old).update(task=new)
    for old, new in pairs(SCHEDULE_NAMES):
        if not PeriodicTask.objects.filter(name=new).exists():
            changed += PeriodicTask.objects.filter(name=old).update(name=new)
    for old, new in pairs(JOB_NAMES):
        JobRun.objects.filter(task=old).update(task=new)
        Alert.objects.filter(job=old).update(job=new)
    if changed:  # a running beat reloads its schedule
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_tables_and_permissions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(
            rename, lambda apps, schema_editor: rename(apps, schema_editor, backwards=True)
        ),
    ]
