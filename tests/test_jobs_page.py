"""The admin's scheduled jobs page: exact next runs, run history charts, queues and workers."""

import os
import re
import signal
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from devtools.factories import maintenance_runs
from jobs import charts, overview, wording
from jobs.schedules import setup_schedules
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db

PAGE = "/admin/jobs/jobrun/jobs/"


def test_next_run_is_the_exact_scheduled_time(admin_client, settings):
    settings.MAINTENANCE_ARCHIVE_HOUR = 3
    setup_schedules()
    now = timezone.now()
    expected = now.replace(hour=3, minute=0, second=0, microsecond=0)
    if expected <= now:
        expected += timedelta(days=1)
    html = admin_client.get(PAGE).content.decode()
    row = html[html.index("archive old messages") :]
    assert f'<time datetime="{expected.isoformat()}">{expected:%Y-%m-%d} 03:00 UTC</time>' in row


def test_each_job_has_a_chart_of_its_last_30_runs(admin_client):
    setup_schedules()
    maintenance_runs("archive_old_records", ["succeeded"] * 30 + ["failed", "skipped", "succeeded"])
    html = admin_client.get(PAGE).content.decode()
    svg = re.search(r'<svg class="run-history".*?</svg>', html, re.S).group(0)
    assert svg.count("<rect") == 30
    assert svg.count('fill="#ba2121"') == 1  # the failed run
    assert svg.count('fill="#999999"') == 1  # the skipped one
    assert "ValueError: the disk is full" in svg
    assert "<polyline" in svg
    assert 'aria-label="30 runs: 1 failed, 1 skipped' in svg


def test_the_last_failure_shows_its_reason(admin_client):
    setup_schedules()
    maintenance_runs("sweep_orphaned_files", ["succeeded", "failed"])
    html = admin_client.get(PAGE).content.decode()
    assert '<span class="outcome-failed">Failed</span>' in html
    assert '<span class="reason">ValueError: the disk is full</span>' in html


def test_chart_marks_short_failures_and_escapes_errors():
    [run] = maintenance_runs("job", ["failed"])
    run.error = "Error: <script>alert(1)</script>"
    svg = charts.run_history_svg([run])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    height = float(re.search(r'height="([\d.]+)" fill', svg).group(1))
    assert height >= (charts.HEIGHT - charts.TOP) / 3


def test_queue_depths_count_every_priority_list(tmp_path, settings):
    server = RedisServer(tmp_path)
    server.start()
    try:
        settings.CELERY_BROKER_URL = server.url()
        client = redis.Redis.from_url(server.url())
        client.lpush("maintenance", "a", "b", "c")
        client.lpush("default\x06\x163", "d")
        assert overview.queue_status().depths == {"default": 1, "maintenance": 3}
    finally:
        server.stop()


def test_the_page_answers_when_the_broker_is_down(admin_client, settings, tmp_path):
    setup_schedules()
    server = RedisServer(tmp_path)  # never started: nothing listens on its port
    settings.CELERY_BROKER_URL = server.url()
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    assert "unknown (broker not answering)" in response.content.decode()


def test_the_page_answers_when_the_broker_hangs(admin_client, settings, tmp_path):
    setup_schedules()
    server = RedisServer(tmp_path)
    server.start()
    os.kill(server.process.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        settings.CELERY_BROKER_URL = server.url()
        response = admin_client.get(PAGE)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
    assert response.status_code == 200
    assert "unknown (broker not answering)" in response.content.decode()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_page_counts_the_live_worker(celery_worker, admin_client):
    setup_schedules()
    html = admin_client.get(PAGE).content.decode()
    live = re.search(r'<span class="figure">(\d+)</span> live', html)
    assert live is not None
    assert int(live.group(1)) >= 1


def test_disabled_jobs_have_no_next_run(admin_client):
    setup_schedules()
    PeriodicTask.objects.filter(name="sweep orphaned files").update(enabled=False)
    html = admin_client.get(PAGE).content.decode()
    row = html[html.index("sweep orphaned files") :]
    row = row[: row.index("</tr>")]
    assert "(disabled)" in row
    assert "<time" not in row


def test_schedules_durations_and_counts_read_as_words(admin_client):
    setup_schedules()
    [run] = maintenance_runs("archive_old_records", ["succeeded"])
    run.finished_at = run.started_at + timedelta(milliseconds=50)
    run.counts = {"archived": {"messaging.Message": 3}, "batches": 1, "total": 3}
    run.save()
    html = admin_client.get(PAGE).content.decode()
    row = html[html.index("archive old messages") :]
    assert "Every day at 03:00 UTC" in row
    assert "Every 5 minutes" in html or "Every minute" in html  # the reconcile's interval
    assert "in 50 ms" in row
    assert "3 archived, 1 batch" in row, row[:3000]
    assert "{" not in re.sub(r"<svg.*?</svg>", "", row.split("</tr>")[0], flags=re.S)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.0509, "51 ms"), (4.24, "4.2 s"), (200, "3 min 20 s"), (7500, "2 h 5 min")],
)
def test_durations_read_at_a_glance(seconds, words):
    assert wording.duration(timedelta(seconds=seconds)) == words


def test_counts_read_at_a_glance():
    assert wording.counts(
        {"files_deleted": 1234, "bytes_freed": 5 * 1024 * 1024, "dirs_removed": 1, "errors": 0}
    ) == ("1,234 files deleted, 5.0\xa0MB freed, 1 folder removed, 0 errors")
    assert wording.counts({"odd_key": 2, "note": "x"}) == "note: x, odd key 2"


def test_after_run_now_the_page_watches_until_a_new_run_has_ended(admin_client, settings):
    setup_schedules()
    task = PeriodicTask.objects.get(name="archive old messages")
    [before] = maintenance_runs("archive_old_records", ["succeeded"])
    watching = f"{PAGE}?watch={task.pk}&after={before.pk}"
    assert 'data-busy="1"' in admin_client.get(watching).content.decode()
    [running] = maintenance_runs("archive_old_records", ["running"])
    assert 'data-busy="1"' in admin_client.get(watching).content.decode()
    running.status, running.finished_at = "succeeded", timezone.now()
    running.save()
    assert 'data-busy=""' in admin_client.get(watching).content.decode()
