"""A job's recent runs as a small inline SVG, drawn on the server (no script, no CDN).

Bars are durations, coloured by outcome (failed and skipped runs are always visible); the
dots joined by a line are the rows or files each run affected. Every bar carries a <title>,
which browsers show on hover and screen readers read.
"""

from collections.abc import Sequence

from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from jobs.models import JobRun

WIDTH, HEIGHT, BAR, GAP, TOP = 300, 64, 8, 2, 12
COLOURS = {
    JobRun.Status.SUCCEEDED: "#417690",
    JobRun.Status.FAILED: "#ba2121",
    JobRun.Status.SKIPPED: "#999999",
    JobRun.Status.RUNNING: "#e0a526",
}
# The count that says what a job did, by job: rows archived, files deleted, and so on.
AFFECTED_KEYS = ("total", "files_deleted", "deleted", "notifications_created", "alerts_sent")


def affected(run: JobRun) -> int | None:
    """The rows or files a run affected, from its counts (None when it has no such count)."""
    counts = run.counts if isinstance(run.counts, dict) else {}
    for key in AFFECTED_KEYS:
        if isinstance(counts.get(key), int):
            return counts[key]
    return None


def run_history_svg(runs: Sequence[JobRun]) -> SafeString:
    """The chart of `runs` (oldest first), at most one bar per run."""
    if not runs:
        return format_html('<span class="no-runs">{}</span>', _("no runs yet"))
    durations = [_seconds(run) for run in runs]
    counts = [affected(run) for run in runs]
    longest = max(durations) or 1.0
    most = max((c for c in counts if c is not None), default=0) or 1
    plot = HEIGHT - TOP
    bars, points = [], []
    for i, (run, seconds, count) in enumerate(zip(runs, durations, counts, strict=True)):
        x = i * (BAR + GAP)
        height = max(3.0, plot * seconds / longest)
        if run.status in (JobRun.Status.FAILED, JobRun.Status.SKIPPED):
            height = max(height, plot / 3)  # an outcome to notice, however short
        colour = COLOURS.get(run.status, "#417690")
        bars.append((x, f"{HEIGHT - height:.1f}", BAR, f"{height:.1f}", colour, _title(run)))
        if count is not None:
            points.append((f"{x + BAR / 2:.1f}", f"{HEIGHT - plot * count / most:.1f}"))
    summary = ngettext(
        "%(runs)d run: %(failed)d failed, %(skipped)d skipped; longest %(longest)s s",
        "%(runs)d runs: %(failed)d failed, %(skipped)d skipped; longest %(longest)s s",
        len(runs),
    ) % {
        "runs": len(runs),
        "failed": sum(r.status == "failed" for r in runs),
        "skipped": sum(r.status == "skipped" for r in runs),
        "longest": localize(round(longest, 1)),
    }
    return format_html(
        '<svg class="run-history" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'viewBox="0 0 {w} {h}" role="img" aria-label="{summary}">'
        '<text x="0" y="9" font-size="9" fill="#666">{longest} s</text>'
        '<text x="{w}" y="9" font-size="9" fill="#2e7d32" text-anchor="end">{most}</text>'
        "{bars}{line}{dots}</svg>",
        w=WIDTH,
        h=HEIGHT,
        summary=summary,
        longest=f"{longest:.1f}",
        most=localize(most),
        bars=format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            bars,
        ),
        line=_polyline(points),
        dots=format_html_join("", '<circle cx="{}" cy="{}" r="2" fill="#2e7d32"/>', points),
    )


def _polyline(points: list[tuple[str, str]]) -> SafeString:
    if len(points) < 2:
        return SafeString("")
    return format_html(
        '<polyline points="{}" fill="none" stroke="#2e7d32" stroke-width="1"/>',
        " ".join(f"{x},{y}" for x, y in points),
    )


def _seconds(run: JobRun) -> float:
    return run.duration.total_seconds() if run.duration else 0.0


def _title(run: JobRun) -> str:
    count = affected(run)
    parts = [
        f"{localtime(run.started_at):%Y-%m-%d %H:%M}",
        run.get_status_display(),
        f"{_seconds(run):.2f} s",
    ]
    if count is not None:
        parts.append(_("%(count)s affected") % {"count": localize(count)})
    if run.status == JobRun.Status.FAILED and run.error_reason:
        parts.append(run.error_reason[:120])
    return ", ".join(parts)
