from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import OperationalError

from core import outbox
from jobs import charts, overview, wording
from jobs.models import Alert, JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["task", "outcome", "started_at", "took", "figures", "reason"]
    list_filter = ["status", "task", "started_at"]
    search_fields = ["task", "error"]
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in JobRun._meta.fields]
    change_list_template = "admin/jobs/jobrun/change_list.html"

    class Media:
        css = {"all": ["jobs/admin.css"]}

    def has_add_permission(self, request):
        return False

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def outcome(self, run):
        return format_html(
            '<span class="outcome-{}">{}</span>', run.status, run.get_status_display()
        )

    @admin.display(description=gettext_lazy("counts"))
    def figures(self, run):
        return wording.counts(run.counts)

    @admin.display(description=gettext_lazy("duration"))
    def took(self, run):
        return wording.duration(run.duration)

    @admin.display(description=gettext_lazy("error"))
    def reason(self, run):
        return run.error_reason[:160]

    def get_urls(self):
        return [
            path("jobs/", self.admin_site.admin_view(self.jobs_view), name="jobs_jobs"),
            path(
                "jobs/<int:task_id>/run/",
                self.admin_site.admin_view(self.run_job_view),
                name="jobs_run_job",
            ),
            *super().get_urls(),
        ]

    def jobs_view(self, request):
        scheduled = overview.scheduled_jobs()
        # After "Run now": the job watched until a run it did not have before has ended.
        watched = _int(request.GET.get("watch"))
        after = _int(request.GET.get("after"))
        busy = False
        for job in scheduled:
            job.chart = charts.run_history_svg(job.runs)
            job.schedule_words = wording.schedule(job.task)
            run = job.last_run
            if run is not None:
                run.took = wording.duration(run.duration)
                run.figures = wording.counts(run.counts)
            waiting = job.task.pk == watched and (run is None or run.pk <= (after or 0))
            job.busy = waiting or (run is not None and run.status == JobRun.Status.RUNNING)
            busy = busy or job.busy
        context = {
            **self.admin_site.each_context(request),
            "title": _("Scheduled jobs"),
            "jobs": scheduled,
            "queues": overview.queue_status(),
            "outbox": outbox.health(),
            "opts": self.model._meta,
            "can_run": request.user.has_perm("django_celery_beat.change_periodictask"),
            "busy": busy,
            "watching": watched is not None,
        }
        return TemplateResponse(request, "admin/jobs/jobs.html", context)

    def run_job_view(self, request, task_id: int):
        if request.method != "POST" or not request.user.has_perm(
            "django_celery_beat.change_periodictask"
        ):
            return redirect("admin:jobs_jobs")
        task = get_object_or_404(PeriodicTask, pk=task_id)
        last = JobRun.objects.filter(task=overview.job_name(task.task)).order_by("-pk").first()
        try:
            queued = overview.run_now(task)
            messages.success(
                request, _("%(job)s queued (task %(id)s).") % {"job": task.name, "id": queued}
            )
            # The page then refreshes itself until this job's next run has ended (jobs.js).
            after = last.pk if last else 0
            return redirect(f"{reverse('admin:jobs_jobs')}?watch={task.pk}&after={after}")
        except OperationalError as error:
            messages.error(
                request,
                _("%(job)s could not be queued: the broker is down (%(error)s).")
                % {"job": task.name, "error": error},
            )
        return redirect(reverse("admin:jobs_jobs"))


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["subject", "kind", "job", "created_at", "mailed_at", "posted_at", "attempts"]
    list_filter = ["kind", "job", "created_at"]
    search_fields = ["subject", "body", "job"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None
