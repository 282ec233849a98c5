"""Alerts to ops: recorded once, then mailed to ADMINS and posted to ALERT_WEBHOOK_URL.

An alert is a row first (its unique key makes a second check or a task run twice harmless),
delivered second: each channel is claimed with a conditional update before it is used, so
two deliveries at once never send twice, and handed back when it fails, so the next check
retries it. Delivery never raises: an alert must not break the job that raised it.

Alerts are written in the site's language (LANGUAGE_CODE), whoever's request led to them.
"""

import json
import logging
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from jobs.models import Alert, JobRun

logger = logging.getLogger("jobs.alerts")


def alert_failed_run(run: JobRun) -> Alert | None:
    """Record the alert for a failed run (once per run); returns it if it is new."""
    with translation.override(settings.LANGUAGE_CODE):
        reason = run.error_reason or _("no error recorded")
        facts = {
            "job": run.task,
            "run": run.pk,
            "started": f"{run.started_at:%Y-%m-%d %H:%M:%S %Z}",
            "arguments": json.dumps(run.arguments, default=str),
            "reason": reason,
        }
        body = (
            _(
                "The maintenance job %(job)s failed.\n\n"
                "Run: #%(run)s, started %(started)s\n"
                "Arguments: %(arguments)s\n"
                "Reason: %(reason)s"
            )
            % facts
            + f"\n\n{run.error.strip()}"
        )
        subject = _("%(job)s failed: %(reason)s") % facts
    return _record(
        key=f"run:{run.pk}",
        kind=Alert.Kind.FAILED,
        job=run.task,
        subject=subject[:200],
        body=body,
        run=run,
    )


def alert_missed(*, job: str, name: str, due, key: str, hint: str) -> Alert | None:
    """Record the alert for a scheduled job that did not run when it was due."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("%(name)s did not run (due %(due)s)") % {
            "name": name,
            "due": f"{due:%Y-%m-%d %H:%M %Z}",
        }
        body = _(
            "The scheduled job %(name)r (%(job)s) was due at %(due)s "
            "and no run of it has started since."
        ) % {"name": name, "job": job, "due": f"{due:%Y-%m-%d %H:%M:%S %Z}"}
    return _record(
        key=key,
        kind=Alert.Kind.MISSED,
        job=job,
        subject=subject[:200],
        body=f"{body}\n\n{hint}",
    )


def alert_condition(*, key: str, job: str, subject: str, body: str) -> Alert | None:
    """Record an alert about a state ops must look at (an outbox that is late, a sweep that
    had to make something good), once per `key`. Subject and body come translated."""
    return _record(key=key, kind=Alert.Kind.CONDITION, job=job, subject=subject[:200], body=body)


def _record(**fields) -> Alert | None:
    try:
        with transaction.atomic():
            alert, created = Alert.objects.get_or_create(key=fields.pop("key"), defaults=fields)
    except IntegrityError:  # a concurrent check recorded it first
        return None
    if created:
        logger.error("alert: %s", alert.subject)
    return alert if created else None


def deliver_pending() -> int:
    """Send every alert not yet delivered on each channel; returns the sends that worked."""
    since = timezone.now() - timedelta(hours=settings.ALERT_RETRY_HOURS)
    pending = Q(mailed_at=None)
    if settings.ALERT_WEBHOOK_URL:
        pending |= Q(posted_at=None)
    return sum(deliver(alert) for alert in Alert.objects.filter(pending, created_at__gte=since))


def deliver(alert: Alert) -> int:
    """Mail and post one alert, each channel at most once; failures are logged, not raised."""
    sent = 0
    channels = [("mailed_at", _mail)]
    if settings.ALERT_WEBHOOK_URL:
        channels.append(("posted_at", _post))
    for field, send in channels:
        claimed = Alert.objects.filter(pk=alert.pk, **{field: None}).update(
            **{field: timezone.now()}, attempts=F("attempts") + 1
        )
        if not claimed:
            continue
        try:
            send(alert)
            sent += 1
        except Exception as error:
            logger.exception("could not deliver alert %s by %s", alert.pk, send.__name__)
            Alert.objects.filter(pk=alert.pk).update(**{field: None}, last_error=repr(error))
    return sent


def _mail(alert: Alert) -> None:
    if not settings.ADMINS:
        logger.warning("alert %s not mailed: ADMINS is empty", alert.pk)
        return
    mail_admins(alert.subject, alert.body, fail_silently=False)


def _post(alert: Alert) -> None:
    payload = {
        "text": f"{alert.subject}\n{alert.body}",
        "subject": alert.subject,
        "kind": alert.kind,
        "job": alert.job,
        "run_id": alert.run_id,
        "key": alert.key,
        "created_at": alert.created_at.isoformat(),
    }
    request = urllib.request.Request(
        settings.ALERT_WEBHOOK_URL,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "platform-alerts"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT) as response:
        response.read()
