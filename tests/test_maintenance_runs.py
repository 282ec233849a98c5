"""Runs are recorded and never overlap; schedules exist; ops see and start jobs in the admin."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from devtools.factories import MessageFactory, UserFactory
from jobs.models import JobRun
from jobs.runs import RunSkipped, recorded_run
from jobs.schedules import setup_schedules
from maintenance import tasks
from maintenance.models import ArchivedRecord
from messaging.models import Message, Notification
from tests.servers import wait_for_run

pytestmark = pytest.mark.django_db


def test_a_run_records_its_outcome_and_counts():
    with recorded_run("job", {"a": 1}) as run:
        run.counts = {"done": 3}
    run.refresh_from_db()
    assert (run.status, run.counts, run.arguments) == ("succeeded", {"done": 3}, {"a": 1})
    assert run.finished_at >= run.started_at


def test_a_failed_run_records_the_error():
    with pytest.raises(ZeroDivisionError), recorded_run("job", {}):
        1 / 0  # noqa: B018
    run = JobRun.objects.get()
    assert run.status == "failed"
    assert "ZeroDivisionError" in run.error


def test_a_second_run_of_the_same_job_is_skipped_while_the_first_runs():
    with recorded_run("job", {}) as first:
        with pytest.raises(RunSkipped), recorded_run("job", {}):
            pass
        with recorded_run("other job", {}):
            pass
    statuses = dict(JobRun.objects.values_list("pk", "status"))
    assert statuses[first.pk] == "succeeded"
    assert sorted(statuses.values()) == ["skipped", "succeeded", "succeeded"]


def test_the_lock_is_free_again_after_a_run():
    for _ in range(2):
        with recorded_run("job", {}):
            pass
    assert list(JobRun.objects.values_list("status", flat=True)) == ["succeeded"] * 2


def test_archive_task_records_its_figures(user, other_user):
    MessageFactory.create_batch(
        3, sender=user, receiver=other_user, timestamp=timezone.now() - timedelta(days=400)
    )
    counts = tasks.archive_old_records("messaging.Message", "timestamp", 365)
    run = JobRun.objects.get(task="archive_old_records")
    assert counts == run.counts
    assert run.counts["archived"] == {"messaging.Message": 3}
    assert ArchivedRecord.objects.filter(run=run).count() == 3


def test_schedules_are_created_once_and_ops_changes_are_kept(settings):
    settings.MAINTENANCE_ARCHIVE_HOUR = 2
    assert len(setup_schedules()) == 5
    archive = PeriodicTask.objects.get(task="maintenance.archive_old_records")
    assert (archive.crontab.hour, archive.crontab.minute) == ("2", "0")
    assert json.loads(archive.kwargs)["days_threshold"] == 365
    cleanup = PeriodicTask.objects.get(task="maintenance.cleanup_temporary_files")
    assert cleanup.crontab.hour == "4"
    reconcile = PeriodicTask.objects.get(task="messaging.reconcile_notifications")
    assert (reconcile.interval.every, reconcile.interval.period) == (5, "minutes")

    archive.enabled = False
    archive.save()
    assert setup_schedules() == []
    assert not PeriodicTask.objects.get(pk=archive.pk).enabled


def test_jobs_page_shows_schedules_and_last_runs(admin_client):
    setup_schedules()
    with recorded_run("cleanup_temporary_files", {}) as run:
        run.counts = {"files_deleted": 42}
    page = admin_client.get("/admin/jobs/jobrun/jobs/")
    html = page.content.decode()
    assert page.status_code == 200
    for name in ("archive old messages", "clean temporary files", "reconcile notifications"):
        assert name in html
    assert "42 files deleted" in html
    assert "Run now" in html


def test_jobs_page_is_for_staff_only(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get("/admin/jobs/jobrun/jobs/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_run_now_queues_the_job(admin_client, published):
    setup_schedules()
    job = PeriodicTask.objects.get(name="sweep orphaned files")
    response = admin_client.post(f"/admin/jobs/jobrun/jobs/{job.pk}/run/")
    assert response.status_code == 302
    assert published == [("maintenance.sweep_orphaned_files", (), {"min_age_hours": 24})]


@pytest.mark.django_db(transaction=True)
@pytest.mark.e2e
def test_run_now_reaches_the_worker_and_records_a_run(celery_worker, admin_user, client):
    setup_schedules()
    client.force_login(admin_user)
    job = PeriodicTask.objects.get(name="reconcile notifications")
    sender, receiver = UserFactory(), UserFactory()
    # bulk_create sends no signals: two old messages whose send bypassed the outbox.
    old = timezone.now() - timedelta(hours=1)
    Message.objects.bulk_create(
        [Message(sender=sender, receiver=receiver, content=str(i), timestamp=old) for i in range(2)]
    )
    client.post(f"/admin/jobs/jobrun/jobs/{job.pk}/run/")
    run = wait_for_run("reconcile_notifications", timeout=20)
    assert run.counts == {"notifications_created": 2, "purges_resumed": 0}
    assert Notification.objects.filter(user=receiver).count() == 2


def test_commands_reject_bad_arguments():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown model"):
        call_command("archive_old_records", "nope.Nothing", "timestamp")
    with pytest.raises(CommandError, match="FIELD=VALUE"):
        call_command("archive_old_records", "messaging.Message", "timestamp", "--filter", "x")
    with pytest.raises(CommandError, match="has no field named"):
        call_command("archive_old_records", "messaging.Message", "created")
    with pytest.raises(CommandError, match="outside the allowed cleanup roots"):
        call_command("cleanup_temporary_files", "/etc")


def test_archive_command_prints_a_summary(user, other_user, capsys):
    MessageFactory.create_batch(
        2, sender=user, receiver=other_user, timestamp=timezone.now() - timedelta(days=30)
    )
    call_command(
        "archive_old_records", "messaging.Message", "timestamp", "--days", "7", "--dry-run"
    )
    assert "would archive 2 rows (2 messaging.Message) in 1 batches" in capsys.readouterr().out
    call_command(
        "archive_old_records",
        "messaging.Message",
        "timestamp",
        "--days",
        "7",
        "--filter",
        f"sender={user.pk}",
    )
    assert "archived 2 rows" in capsys.readouterr().out
    assert not Message.objects.exists()


def test_cleanup_and_sweep_commands_print_a_summary(media_root, capsys):
    (media_root / "tmp").mkdir(parents=True, exist_ok=True)
    call_command("cleanup_temporary_files", str(media_root / "tmp"), "--max-age-days", "1")
    assert "deleted 0 files (0 bytes)" in capsys.readouterr().out
    call_command("sweep_orphaned_files", "--dry-run")
    assert "orphaned, would delete" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option", [["--days", "1000000"], ["--days", "-1"], ["--days", "²"], ["--batch-size", "0"]]
)
def test_an_out_of_range_number_is_refused_before_a_run_is_recorded(option):
    # Was an OverflowError inside a recorded run (--days 1000000): a failed run, an alert.
    with pytest.raises(CommandError, match=f"argument {option[0]}: expected a whole number"):
        call_command("archive_old_records", "messaging.Message", "timestamp", *option)
    assert not JobRun.objects.exists()
