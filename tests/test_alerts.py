"""Ops are told once when a job fails, is lost, or does not run; /healthz tells when the
checks themselves stop."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from jobs import monitor, overview
from jobs import tasks as jobs_tasks
from jobs.models import Alert, JobRun, ScheduleWatch
from jobs.runs import recorded_run
from jobs.schedules import setup_schedules
from maintenance import tasks
from tests.servers import Worker, free_port, wait_for

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint on loopback that records what it is sent."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        super().__init__(("127.0.0.1", free_port()), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(settings):
    receiver = Receiver()
    settings.ALERT_WEBHOOK_URL = receiver.url
    settings.ADMINS = [("Ops", "ops@example.com")]
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def daily_job(hour: int = 3, name: str = "nightly archive") -> PeriodicTask:
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour=str(hour), day_of_week="*", day_of_month="*", month_of_year="*"
    )
    task = PeriodicTask.objects.create(
        name=name, task="maintenance.archive_old_records", crontab=crontab
    )
    monitor.watch(task, T0)
    return task


def test_a_failed_job_alerts_once_by_mail_and_webhook(webhook, mailoutbox):
    with pytest.raises(LookupError):
        tasks.archive_old_records("messaging.NoSuchModel", "timestamp")
    run = JobRun.objects.get()
    assert run.status == "failed"

    for _ in range(2):
        monitor.run_checks()

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ops@example.com"]
    assert "archive_old_records failed" in mailoutbox[0].subject
    assert "NoSuchModel" in mailoutbox[0].body
    assert len(webhook.received) == 1
    assert webhook.received[0]["run_id"] == run.pk
    assert webhook.received[0]["kind"] == "failed"
    assert "NoSuchModel" in webhook.received[0]["text"]


def test_a_failing_webhook_is_retried_by_the_next_check_and_never_raised(webhook, mailoutbox):
    webhook.status = 500
    with pytest.raises(ZeroDivisionError), recorded_run("job", {}):
        1 / 0  # noqa: B018  the job's own error comes out, not the webhook's
    assert len(webhook.received) == 1
    alert = Alert.objects.get()
    assert (alert.posted_at, alert.mailed_at is not None) == (None, True)
    assert "500" in alert.last_error

    webhook.status = 200
    monitor.run_checks()
    monitor.run_checks()

    assert len(webhook.received) == 2
    assert len(mailoutbox) == 1
    assert Alert.objects.get().posted_at is not None


def test_a_run_left_running_past_its_time_limit_is_failed_and_alerts_once(webhook, mailoutbox):
    limit = monitor.task_time_limit("archive_old_records")
    lost = JobRun.objects.create(
        task="archive_old_records", started_at=timezone.now() - timedelta(seconds=limit + 120)
    )
    recent = JobRun.objects.create(task="sweep_orphaned_files")

    monitor.run_checks()
    monitor.run_checks()

    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.status == "failed"
    assert "Lost" in lost.error
    assert recent.status == "running"
    assert len(mailoutbox) == 1
    assert "Lost" in mailoutbox[0].body
    assert len(webhook.received) == 1


def test_a_long_run_whose_lock_is_renewed_is_not_declared_lost(mailoutbox, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    limit = monitor.task_time_limit("archive_old_records")
    with recorded_run("archive_old_records", {}) as run:  # holds the job's lock
        JobRun.objects.filter(pk=run.pk).update(
            started_at=timezone.now() - timedelta(seconds=limit + 120)
        )
        monitor.run_checks()
        assert JobRun.objects.get(pk=run.pk).status == "running"
    assert mailoutbox == []


def test_a_missed_schedule_alerts_once_per_missed_period(webhook, mailoutbox):
    job = daily_job(hour=3)
    assert monitor.check_schedules(T0 + timedelta(hours=14)) == 0  # due 03:00, grace running

    day2 = datetime(2026, 1, 2, 3, 20, tzinfo=UTC)
    for minutes in (0, 5, 30):
        monitor.run_checks(day2 + timedelta(minutes=minutes))
    assert len(mailoutbox) == len(webhook.received) == 1
    assert "nightly archive did not run (due 2026-01-02 03:00" in mailoutbox[0].subject
    assert "Beat did not send it" in mailoutbox[0].body

    monitor.run_checks(day2 + timedelta(days=1))
    assert len(mailoutbox) == 2
    assert "due 2026-01-03 03:00" in mailoutbox[1].subject
    assert Alert.objects.filter(kind="missed", job="archive_old_records").count() == 2
    assert job.watch.since == T0


def test_a_job_that_ran_or_is_running_is_not_missed(mailoutbox, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    daily_job(hour=3)
    day2 = datetime(2026, 1, 2, 3, 0, 5, tzinfo=UTC)
    running = JobRun.objects.create(task="archive_old_records", started_at=day2)
    monitor.run_checks(day2 + timedelta(minutes=40))  # past the grace, within the time limit
    JobRun.objects.filter(pk=running.pk).update(status="succeeded")
    monitor.run_checks(day2 + timedelta(hours=23))
    assert mailoutbox == []


def test_beat_sent_but_no_worker_ran_it_says_so(mailoutbox, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    job = daily_job(hour=3)
    PeriodicTask.objects.filter(pk=job.pk).update(
        last_run_at=datetime(2026, 1, 2, 3, 0, 1, tzinfo=UTC)
    )
    monitor.run_checks(datetime(2026, 1, 2, 4, 0, tzinfo=UTC))
    assert "no worker started it" in mailoutbox[0].body


def test_an_edited_schedule_is_judged_from_its_change(mailoutbox, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    job = daily_job(hour=3)
    edited_at = datetime(2026, 1, 2, 3, 10, tzinfo=UTC)
    job.crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="5", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    job.save()
    monitor.watch(job, edited_at)  # the 03:00 of that day was under the old schedule
    monitor.run_checks(datetime(2026, 1, 2, 4, 0, tzinfo=UTC))
    assert mailoutbox == []
    monitor.run_checks(datetime(2026, 1, 2, 5, 30, tzinfo=UTC))
    assert len(mailoutbox) == 1


def test_a_disabled_schedule_is_not_watched(mailoutbox):
    job = daily_job(hour=3)
    job.enabled = False
    job.save()
    monitor.run_checks(datetime(2026, 1, 5, tzinfo=UTC))
    assert mailoutbox == []
    assert not ScheduleWatch.objects.exists()


def test_interval_schedules_are_due_every_period():
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    job = PeriodicTask.objects.create(
        name="reconcile", task="messaging.reconcile_notifications", interval=every
    )
    due = overview.last_due(job, after=T0, until=T0 + timedelta(minutes=17))
    assert due == T0 + timedelta(minutes=15)


def test_healthz_says_when_the_checks_are_overdue_or_unscheduled(client):
    setup_schedules()
    assert client.get("/healthz").json()["jobs"] == "ok"

    ScheduleWatch.objects.update(since=timezone.now() - timedelta(hours=1))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["jobs"] == "overdue"

    jobs_tasks.check_jobs()
    assert client.get("/healthz").status_code == 200

    PeriodicTask.objects.filter(task="jobs.check_jobs").delete()
    response = client.get("/healthz")
    assert (response.status_code, response.json()["jobs"]) == (503, "unscheduled")


def test_the_checks_are_scheduled_with_the_other_jobs():
    setup_schedules()
    check = PeriodicTask.objects.get(task="jobs.check_jobs")
    assert check.interval.every == 5
    assert ScheduleWatch.objects.count() == PeriodicTask.objects.count()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_job_failing_in_a_real_worker_reaches_the_webhook(tmp_path, webhook):
    # A queue of its own: the session's worker (no webhook configured) must not take it.
    worker = Worker(
        tmp_path / "worker.log",
        queues="alerts-e2e",
        ALERT_WEBHOOK_URL=webhook.url,
        ADMINS="ops@example.com",
    ).start()
    try:
        tasks.cleanup_temporary_files.apply_async(
            (str(tmp_path / "not-a-root"), 7), queue="alerts-e2e"
        )
        wait_for(lambda: webhook.received, timeout=30)
    finally:
        worker.stop()
    alert = Alert.objects.get()
    assert webhook.received[0]["run_id"] == alert.run_id
    assert "cleanup_temporary_files failed" in webhook.received[0]["subject"]
    assert alert.mailed_at is not None
    assert alert.posted_at is not None
    assert not JobRun.objects.filter(status="running").exists()
