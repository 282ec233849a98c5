"""LOG_FORMAT=json: one JSON object a line from the web, the worker and beat, with the task,
run and duration on the worker's lines."""

import json
import logging
import re
import subprocess
import sys

import pytest

from core.logs import JSONFormatter, current_run_id
from jobs.models import JobRun
from jobs.schedules import setup_schedules
from maintenance import tasks
from tests.servers import (
    ROOT,
    RedisServer,
    Worker,
    run_django_code,
    stop,
    subprocess_env,
    wait_for,
    wait_for_run,
)

PLAIN_LINE = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR) "


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_record_becomes_one_json_object_with_the_run_and_the_error():
    try:
        raise ValueError("disk full")
    except ValueError:
        error = sys.exc_info()
    record = logging.LogRecord(
        "maintenance", logging.ERROR, __file__, 1, "failed %s", ("x",), error
    )
    token = current_run_id.set(42)
    try:
        line = JSONFormatter().format(record)
    finally:
        current_run_id.reset(token)
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert (entry["logger"], entry["message"]) == ("maintenance", "failed x")
    assert entry["run_id"] == 42
    assert "ValueError: disk full" in entry["exception"]
    assert "\n" not in line


def test_a_django_process_logs_json_lines():
    code = "import django, logging; django.setup(); logging.getLogger('web').warning('hello')"
    result = run_django_code(code, LOG_FORMAT="json")
    assert {"level": "WARNING", "logger": "web", "message": "hello"}.items() <= json_lines(
        result.stderr
    )[-1].items()


def test_an_unknown_log_format_is_refused():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=subprocess_env(LOG_FORMAT="xml"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert 'Environment variable "LOG_FORMAT" invalid' in result.stderr
    assert "Must be one of: plain, json." in result.stderr


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_worker_logs_json_with_task_run_and_duration(tmp_path):
    log = tmp_path / "worker.log"
    worker = Worker(log, queues="logs-e2e", LOG_FORMAT="json").start()
    try:
        result = tasks.sweep_orphaned_files.apply_async((24,), queue="logs-e2e")
        run = wait_for_run("sweep_orphaned_files")
        wait_for(lambda: "succeeded in" in log.read_text())
    finally:
        worker.stop()
    text = log.read_text()
    assert not re.search(PLAIN_LINE, text, re.M)
    lines = json_lines(text)
    summary = next(e for e in lines if e["logger"] == "jobs.runs")
    assert summary["task_name"] == "maintenance.sweep_orphaned_files"
    assert summary["task_id"] == result.id
    assert summary["run_id"] == run.pk
    assert summary["duration"] >= 0
    done = next(e for e in lines if "succeeded in" in e["message"])
    assert (done["task_id"], done["task_name"]) == (result.id, summary["task_name"])
    assert done["duration"] > 0
    assert JobRun.objects.get().pk == run.pk


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_beat_logs_json_and_each_schedule_with_its_next_run(tmp_path):
    setup_schedules()
    # Beat sends the interval jobs at once: to a broker of its own, never to the one the
    # session's worker consumes (they would run inside later tests).
    broker = RedisServer(tmp_path)
    broker.start()
    log = tmp_path / "beat.log"
    with log.open("wb") as out:
        beat = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "beat",
                "--loglevel",
                "INFO",
                "--pidfile=",
                "--schedule",
                str(tmp_path / "schedule"),
            ],
            cwd=ROOT,
            env=subprocess_env(LOG_FORMAT="json", REDIS_URL=broker.url()),
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def announced():
        lines = json_lines(log.read_text())
        return [e["message"] for e in lines if e["logger"] == "jobs.schedules"]

    try:
        messages = wait_for(lambda: len(announced()) == 5 and announced())
    finally:
        stop(beat)
        broker.stop()
    archive = next(m for m in messages if m.startswith("schedule 'archive old messages'"))
    assert re.search(r"0 3 \* \* \* .*next run \d{4}-\d\d-\d\dT03:00:00", archive)
    assert any("Starting" in e["message"] for e in json_lines(log.read_text()))
