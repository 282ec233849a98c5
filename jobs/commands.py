"""The base of management commands that run a recorded job."""

from collections.abc import Callable
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError

from jobs.models import JobRun
from jobs.runs import RunSkipped, run_recorded

T = TypeVar("T")


class JobCommand(BaseCommand):
    def run_job(self, job: str, arguments: dict, work: Callable[[JobRun], T]) -> T:
        """Run `work(run)` as a recorded run of `job`; a skipped run is a command error."""
        try:
            return run_recorded(job, arguments, work)
        except RunSkipped as skipped:
            raise CommandError(f"{skipped}; this run was recorded as skipped") from skipped
