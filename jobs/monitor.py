"""The job checks: runs that failed or were lost, schedules that did not run, and whether the
checks themselves are running (for /healthz).

`run_checks` runs as a periodic task (`check_jobs`). Each finding becomes an
`Alert` with a key that makes it happen once: a run once, a missed schedule once per period
it missed, however often the checks run.
"""

import logging
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_celery_beat.models import PeriodicTask
from django_redis import get_redis_connection

from celery_app import app
from core.models import OutboxRow
from jobs import alerts
from jobs.models import JobRun, ScheduleWatch
from jobs.overview import job_name, last_due
from jobs.runs import lock_name

logger = logging.getLogger(__name__)

CHECK_JOB = "check_jobs"
# Failed runs older than this are history, not news (the first check after an upgrade).
FAILED_LOOKBACK = timedelta(days=2)
# A run is declared lost this long after its task's hard time limit.
LOST_MARGIN = timedelta(minutes=1)


def run_checks(now: datetime | None = None) -> dict:
    """Close lost runs, record alerts for failures and missed schedules, deliver them."""
    now = now or timezone.now()
    counts = {
        "lost_runs": close_lost_runs(now),
        "failed_alerts": alert_failed_runs(now),
        "missed_alerts": check_schedules(now),
        "outbox_alerts": check_outbox(now),
    }
    counts["alerts_sent"] = alerts.deliver_pending()
    return counts


def close_lost_runs(now: datetime) -> int:
    """Mark failed the runs still `running` past their task's time limit, whose job lock is
    free: their worker died (a run that ends normally, or is killed at its limit by Celery,
    does not stay running)."""
    closed = 0
    running = JobRun.objects.filter(status=JobRun.Status.RUNNING)
    for run in running.only("id", "task", "started_at"):
        limit = timedelta(seconds=task_time_limit(run.task))
        if run.started_at > now - limit - LOST_MARGIN or _lock_held(run.task):
            continue
        closed += running.filter(pk=run.pk).update(
            status=JobRun.Status.FAILED,
            finished_at=now,
            error=f"Lost: still running {_minutes(now - run.started_at)} after it started, past "
            f"its {_minutes(limit)} time limit; its worker must have died.",
        )
    return closed


def alert_failed_runs(now: datetime) -> int:
    """An alert for every recent failed run that has none yet."""
    failed = JobRun.objects.filter(
        status=JobRun.Status.FAILED,
        started_at__gte=now - FAILED_LOOKBACK,
        alerts__isnull=True,
    )
    return sum(alerts.alert_failed_run(run) is not None for run in failed)


def check_schedules(now: datetime) -> int:
    """An alert for each enabled schedule whose latest due time passed, plus the grace,
    with no run of its job started since: once per missed period."""
    grace = timedelta(minutes=settings.JOBS_ALERT_GRACE_MINUTES)
    created = 0
    ScheduleWatch.objects.filter(periodic_task__enabled=False).delete()
    for task in _scheduled_tasks().filter(enabled=True):
        due, last_run = _missed(task, watch(task, now).since, until=now - grace)
        if due is None:
            continue
        alert = alerts.alert_missed(
            job=job_name(task.task),
            name=task.name,
            due=due,
            key=f"missed:{task.pk}:{due.isoformat()}",
            hint=_why_not_run(task, due, last_run),
        )
        created += alert is not None
    return created


def _missed(task: PeriodicTask, since: datetime, *, until: datetime):
    """(The latest due time of `task` until `until` with no run of its job started since,
    or None; the job's last start)."""
    last_run = (
        JobRun.objects.filter(task=job_name(task.task))
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    reference = max(since, last_run) if last_run else since
    return last_due(task, after=reference, until=until), last_run


class OverdueCollector:
    """The worker's metric of missed schedules, read at each scrape (without beat or
    check_jobs, which may be what stopped): for each watched schedule, the seconds since a
    due time passed with no run of its job, 0 when none did."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from core import metrics

        overdue = GaugeMetricFamily(
            metrics.PREFIX + "job_overdue_seconds",
            "Seconds since a scheduled job was due with no run started, per job (0: none).",
            labels=["job"],
        )
        now = timezone.now()
        try:
            for watched in ScheduleWatch.objects.filter(periodic_task__enabled=True).select_related(
                "periodic_task__crontab", "periodic_task__interval"
            ):
                task = watched.periodic_task
                due, _ = _missed(task, watched.since, until=now)
                seconds = (now - due).total_seconds() if due else 0.0
                overdue.add_metric([job_name(task.task)], seconds)
        except Exception as error:  # a scrape must answer: the schedules are then unknown
            logger.warning("job metrics unavailable: %s", error)
            return
        finally:
            connections.close_all()  # a scrape's thread keeps no connection
        yield overdue


def check_outbox(now: datetime) -> int:
    """Alert when the oldest undelivered outbox row is older than OUTBOX_ALERT_AGE_SECONDS
    (once per oldest row: a relay that stays down is one alert, not one per check)."""
    oldest = OutboxRow.objects.order_by("id").values_list("id", "created_at", "topic").first()
    if oldest is None:
        return 0
    row_id, created_at, topic = oldest
    age = (now - created_at).total_seconds()
    if age <= settings.OUTBOX_ALERT_AGE_SECONDS:
        return 0
    depth = OutboxRow.objects.count()
    with translation.override(settings.LANGUAGE_CODE):
        facts = {"seconds": int(age), "depth": depth, "topic": topic}
        subject = _("The outbox is late: its oldest row waits for %(seconds)d s") % facts
        body = (
            _(
                "%(depth)d effects of committed writes are waiting for the outbox relay; the "
                "oldest (%(topic)s) for %(seconds)d s. Is `manage.py relay_outbox` running, and "
                "does the broker answer? Nothing is lost: the rows are published once it does."
            )
            % facts
        )
    alert = alerts.alert_condition(
        key=f"outbox-late:{row_id}", job="outbox", subject=subject, body=body
    )
    return 1 if alert else 0


def watch(task: PeriodicTask, now: datetime) -> ScheduleWatch:
    """The task's watch, started anew when its schedule changed."""
    signature = str(task.schedule)
    current, created = ScheduleWatch.objects.get_or_create(
        periodic_task=task, defaults={"schedule": signature, "since": now}
    )
    if not created and current.schedule != signature:
        current.schedule, current.since = signature, now
        current.save(update_fields=["schedule", "since"])
    return current


def watch_all(now: datetime | None = None) -> None:
    """Start watching every enabled schedule (at setup, so a job that never runs is noticed)."""
    for task in _scheduled_tasks().filter(enabled=True):
        watch(task, now or timezone.now())


def checks_status(now: datetime | None = None) -> str:
    """For /healthz: 'ok', 'overdue' (no check for three periods) or 'unscheduled'.

    The checks that alert ops cannot report their own absence: an uptime probe on this
    entry does ("overdue": beat or the maintenance queue is stuck).
    """
    now = now or timezone.now()
    task = (
        PeriodicTask.objects.filter(task__endswith=f".{CHECK_JOB}", enabled=True)
        .select_related("watch")
        .first()
    )
    if task is None:
        return "unscheduled"
    last = (
        JobRun.objects.filter(task=CHECK_JOB)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    since = getattr(task, "watch", None) and task.watch.since
    reference = max(filter(None, [last, since]), default=task.date_changed)
    period = timedelta(minutes=settings.JOBS_CHECK_MINUTES)
    return "ok" if now - reference <= 3 * period else "overdue"


def task_time_limit(job: str) -> float:
    """The hard time limit of the task that runs `job` (Celery's default when it has none)."""
    app.loader.import_default_modules()
    for name, task in app.tasks.items():
        if job_name(name) == job and task.time_limit:
            return task.time_limit
    return app.conf.task_time_limit or settings.CELERY_TASK_TIME_LIMIT


def _scheduled_tasks():
    return PeriodicTask.objects.exclude(task__startswith="celery.").select_related(
        "crontab", "interval", "solar", "clocked"
    )


def _lock_held(job: str) -> bool:
    try:
        return bool(get_redis_connection("default").exists(lock_name(job)))
    except redis.RedisError:  # cannot tell: judge by the time limit alone
        return False


def _why_not_run(task: PeriodicTask, due: datetime, last_run: datetime | None) -> str:
    """Why, most likely; in the site's language, as the alert it goes into."""
    with translation.override(settings.LANGUAGE_CODE):
        if last_run:
            last = _("Its last run started %(time)s.") % {"time": f"{last_run:%Y-%m-%d %H:%M %Z}"}
        else:
            last = _("It never ran.")
        if task.last_run_at and task.last_run_at >= due - timedelta(minutes=1):
            cause = _(
                "Beat sent it at %(time)s, but no worker started it: "
                "is a worker consuming the 'maintenance' queue, and is the queue moving?"
            ) % {"time": f"{task.last_run_at:%Y-%m-%d %H:%M %Z}"}
        else:
            cause = _("Beat did not send it: is exactly one `celery beat` running?")
    return f"{last} {cause}"


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"
