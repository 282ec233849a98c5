"""The base of management commands that run a recorded job."""

import argparse
import re
from collections.abc import Callable
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError

from jobs.models import JobRun
from jobs.runs import RunSkipped, run_recorded

T = TypeVar("T")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, refused (exit 2, naming the
    option) before any run is recorded."""

    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,12}", text.strip()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}")
        return int(text)

    return parse


class JobCommand(BaseCommand):
    def run_job(self, job: str, arguments: dict, work: Callable[[JobRun], T]) -> T:
        """Run `work(run)` as a recorded run of `job`; a skipped run is a command error."""
        try:
            return run_recorded(job, arguments, work)
        except RunSkipped as skipped:
            raise CommandError(f"{skipped}; this run was recorded as skipped") from skipped
