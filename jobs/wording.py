"""What the jobs page and the runs list say of a schedule, a duration and a run's counts, in
words ops read at a glance: "Every day at 03:00 UTC", "50 ms", "3 archived, 0 errors".

Schedules other than "every day at" and "every N minutes" are worded by cron-descriptor
(which django-celery-beat installs and uses for its own `human_readable`), in the page's
language.
"""

from datetime import timedelta

from cron_descriptor import ExpressionDescriptor, Options
from django.template.defaultfilters import filesizeformat
from django.utils.formats import number_format
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _
from django_celery_beat.models import IntervalSchedule, PeriodicTask

CRON_LOCALES = {"fr": "fr_FR"}


def schedule(task: PeriodicTask) -> str:
    if task.crontab_id:
        return _crontab(task.crontab)
    if task.interval_id:
        return _interval(task.interval)
    if task.clocked_id:
        return _("Once, at %(time)s") % {"time": f"{task.clocked.clocked_time:%Y-%m-%d %H:%M %Z}"}
    return str(task.scheduler)


def _crontab(cron) -> str:
    zone = str(cron.timezone)
    every_day = (cron.day_of_week, cron.day_of_month, cron.month_of_year) == ("*", "*", "*")
    if every_day and cron.hour.isdigit() and cron.minute.isdigit():
        return _("Every day at %(time)s %(zone)s") % {
            "time": f"{int(cron.hour):02d}:{int(cron.minute):02d}",
            "zone": zone,
        }
    options = Options()
    options.use_24hour_time_format = True
    options.locale_code = CRON_LOCALES.get((get_language() or "en")[:2], "en_US")
    expression = " ".join(
        [cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week]
    )
    try:
        words = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # cron-descriptor's own errors for what it cannot word
        words = expression
    return f"{words} ({zone})"


def _interval(interval: IntervalSchedule) -> str:
    n = interval.every
    unit = interval.period
    if unit == IntervalSchedule.DAYS:
        return ngettext("Every day", "Every %(n)d days", n) % {"n": n}
    if unit == IntervalSchedule.HOURS:
        return ngettext("Every hour", "Every %(n)d hours", n) % {"n": n}
    if unit == IntervalSchedule.MINUTES:
        return ngettext("Every minute", "Every %(n)d minutes", n) % {"n": n}
    if unit == IntervalSchedule.SECONDS:
        return ngettext("Every second", "Every %(n)d seconds", n) % {"n": n}
    return ngettext("Every microsecond", "Every %(n)d microseconds", n) % {"n": n}


def duration(elapsed: timedelta | None) -> str:
    """ "50 ms", "4.2 s", "3 min 20 s", "2 h 5 min"; "" for none."""
    if elapsed is None:
        return ""
    seconds = elapsed.total_seconds()
    if seconds < 1:
        return pgettext("a duration", "%(n)d ms") % {"n": round(seconds * 1000)}
    if seconds < 60:
        return pgettext("a duration", "%(n)s s") % {"n": number_format(round(seconds, 1))}
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return pgettext("a duration", "%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
    hours, minutes = divmod(minutes, 60)
    return pgettext("a duration", "%(h)d h %(m)d min") % {"h": hours, "m": minutes}


# Each count's words, in the order a run's line says them (jsonb keeps no key order): what
# the job did first, errors last.
COUNTED = {
    "archived": lambda n: ngettext("%(n)s archived", "%(n)s archived", n),
    "batches": lambda n: ngettext("%(n)s batch", "%(n)s batches", n),
    "files_deleted": lambda n: ngettext("%(n)s file deleted", "%(n)s files deleted", n),
    "bytes_freed": None,  # a size: "12.3 MB freed"
    "dirs_removed": lambda n: ngettext("%(n)s folder removed", "%(n)s folders removed", n),
    "checked": lambda n: ngettext("%(n)s checked", "%(n)s checked", n),
    "orphans": lambda n: ngettext("%(n)s orphan", "%(n)s orphans", n),
    "deleted": lambda n: ngettext("%(n)s deleted", "%(n)s deleted", n),
    "notifications_created": lambda n: ngettext(
        "%(n)s notification created", "%(n)s notifications created", n
    ),
    "purges_resumed": lambda n: ngettext("%(n)s purge resumed", "%(n)s purges resumed", n),
    "lost_runs": lambda n: ngettext("%(n)s lost run", "%(n)s lost runs", n),
    "failed_alerts": lambda n: ngettext("%(n)s failure alert", "%(n)s failure alerts", n),
    "missed_alerts": lambda n: ngettext("%(n)s missed-run alert", "%(n)s missed-run alerts", n),
    "outbox_alerts": lambda n: ngettext("%(n)s outbox alert", "%(n)s outbox alerts", n),
    "total": lambda n: ngettext("%(n)s in all", "%(n)s in all", n),
    "errors": lambda n: ngettext("%(n)s error", "%(n)s errors", n),
}


def _count(key: str, value) -> str:
    if key == "bytes_freed" and isinstance(value, int):
        return _("%(size)s freed") % {"size": filesizeformat(value)}
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{key.replace('_', ' ')}: {value}"
    if words := COUNTED.get(key):
        return words(value) % {"n": number_format(value, force_grouping=True)}
    return f"{key.replace('_', ' ')} {value}"


def counts(figures) -> str:
    """A run's counts as a line: "3 archived, 1 batch, 0 errors", "12.3 MB freed"."""
    if not isinstance(figures, dict):
        return ""
    figures = dict(figures)
    if isinstance(figures.get("archived"), dict):  # rows per model: their total says it
        figures["archived"] = figures.pop("total", sum(figures["archived"].values()))
    order = list(COUNTED)
    keys = sorted(figures, key=lambda k: (order.index(k) if k in order else len(order), k))
    return ", ".join(_count(key, figures[key]) for key in keys)
