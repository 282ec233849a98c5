"""A newcomer's first hour: the default jobs succeed on a fresh checkout, the README's
commands run as written, and nothing reads as an error when it is not one."""

import json
import shutil
import subprocess
import sys

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from jobs.models import JobRun
from jobs.overview import job_name
from maintenance import tasks
from maintenance.cleanup import CleanupRefused
from tests.servers import ROOT, run_django_code, subprocess_env, wait_for

pytestmark = pytest.mark.django_db


def test_setup_creates_the_directories_the_default_jobs_work_in(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAINTENANCE_CLEANUP_ROOTS = [tmp_path / "media" / "tmp", tmp_path / "elsewhere"]
    call_command("setup_schedules")
    assert (tmp_path / "media" / "tmp").is_dir()
    assert not (tmp_path / "elsewhere").exists()  # outside MEDIA_ROOT: the operator's to make

    job = PeriodicTask.objects.get(task="maintenance.cleanup_temporary_files")
    assert tasks.cleanup_temporary_files(**json.loads(job.kwargs)) is not None
    assert JobRun.objects.get().status == "succeeded"


def test_a_missing_root_fails_with_what_to_do(tmp_path, settings):
    settings.MAINTENANCE_CLEANUP_ROOTS = [tmp_path / "elsewhere"]
    with pytest.raises(CleanupRefused, match=r"create it \(mkdir -p .*elsewhere\)"):
        tasks.cleanup_temporary_files(str(tmp_path / "elsewhere"), 7)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_run_now_succeeds_for_every_default_job_on_a_fresh_checkout(
    celery_worker, media_root, admin_client
):
    shutil.rmtree(media_root / "tmp", ignore_errors=True)
    call_command("setup_schedules")
    jobs = list(PeriodicTask.objects.exclude(task__startswith="celery."))
    assert len(jobs) == 5
    for job in jobs:
        admin_client.post(f"/admin/jobs/jobrun/jobs/{job.pk}/run/")

    names = {job_name(job.task) for job in jobs}
    finished = JobRun.objects.filter(task__in=names).exclude(status="running")
    wait_for(lambda: set(finished.values_list("task", flat=True)) == names, timeout=60)
    outcomes = {run.task: (run.status, run.error_reason) for run in finished}
    assert outcomes == dict.fromkeys(names, ("succeeded", ""))


def manage(*args: str, env_file=None, **env: str) -> subprocess.CompletedProcess:
    environment = subprocess_env(**env)
    for name in ("SECRET_KEY", "DEBUG"):
        environment.pop(name, None)
    if env_file is not None:
        environment["ENV_FILE"] = str(env_file)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


# The command records its run in the test database from another process: a transactional
# test, so that the row is flushed and no later test sees it.
@pytest.mark.django_db(transaction=True)
def test_manage_py_reads_the_local_env_file_that_make_start_writes(tmp_path):
    (tmp_path / "media" / "tmp").mkdir(parents=True)
    env_file = tmp_path / ".env"
    env_file.write_text("# make start\nDEBUG=1\nSECRET_KEY=local-only-key\n")
    result = manage(
        "cleanup_temporary_files",
        str(tmp_path / "media" / "tmp"),
        "--max-age-days",
        "7",
        "--dry-run",
        env_file=env_file,
        MEDIA_ROOT=str(tmp_path / "media"),
        MAINTENANCE_CLEANUP_ROOTS=str(tmp_path / "media" / "tmp"),
    )
    assert result.returncode == 0, result.stderr


def test_without_the_env_file_production_still_needs_a_secret_key(tmp_path):
    result = manage("check", env_file=tmp_path / "absent")
    assert result.returncode != 0
    assert 'Environment variable "SECRET_KEY" not set' in result.stderr


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=local-only-key\nLOG_FORMAT=xml\n")
    result = manage("check", env_file=env_file, LOG_FORMAT="plain")
    assert result.returncode == 0, result.stderr


def test_ensure_admin_creates_the_first_admin_from_the_environment_once(monkeypatch):
    from django.contrib.auth import get_user_model

    call_command("ensure_admin")  # nothing asked: nothing made
    assert not get_user_model().objects.exists()

    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long enough password 42")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    call_command("ensure_admin")
    call_command("ensure_admin")  # every start of compose runs it again
    admin = get_user_model().objects.get()
    assert (admin.username, admin.is_superuser, admin.is_staff) == ("root", True, True)
    assert admin.check_password("a long enough password 42")


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("messaging/favicon.svg")


def test_a_4xx_is_logged_once():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('Not Found: /nope')"
    )
    result = run_django_code(code, DEBUG="1")
    assert result.stderr.count("Not Found: /nope") == 1


def test_the_runs_list_shows_the_outcome_and_the_reason(admin_client):
    JobRun.objects.create(
        task="cleanup_temporary_files", status="failed", error="Traceback\nCleanupRefused: nope"
    )
    html = admin_client.get("/admin/jobs/jobrun/").content.decode()
    assert '<span class="outcome-failed">Failed</span>' in html
    assert "CleanupRefused: nope" in html
