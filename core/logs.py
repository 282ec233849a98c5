"""JSON log lines (LOG_FORMAT=json) for the web, the worker and beat, for log stores.

Each line is one JSON object: time, level, logger and message, plus, where they apply, the
task (`task_name`, `task_id`) the line was logged in, the maintenance run (`run_id`), a
`duration` in seconds (Celery's "Task ... succeeded in" lines and the run summaries) and,
when traces are on (core/telemetry.py), the `trace_id` of the request or task. Plain lines
end with `trace_id=...` then.
Loaded by the LOGGING setting, before Django's apps: nothing here may import a model.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from celery._state import get_current_task

from core import telemetry

#: The JobRun being recorded here (set by jobs.runs.recorded_run).
current_run_id: ContextVar[int | None] = ContextVar("current_run_id", default=None)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_task_fields(record),
        }
        run_id = getattr(record, "run_id", None) or current_run_id.get()
        if run_id is not None:
            entry["run_id"] = run_id
        if trace_id := telemetry.trace_id():
            entry["trace_id"] = trace_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _task_fields(record: logging.LogRecord) -> dict:
    fields = {}
    task = get_current_task()
    if task is not None and task.request.id:
        fields = {"task_name": task.name, "task_id": task.request.id}
    # Celery's own task lines (celery.app.trace) carry the task in their arguments, and are
    # logged after the task has left the context.
    args = record.args if isinstance(record.args, dict) else {}
    if "id" in args and "name" in args:
        fields = {"task_name": args["name"], "task_id": args["id"]}
    duration = getattr(record, "duration", args.get("runtime"))
    if duration is not None:
        fields["duration"] = round(float(duration), 6)
    return fields


class PlainFormatter(logging.Formatter):
    """The plain line, and the trace's id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = telemetry.trace_id()
        return f"{line} trace_id={trace_id}" if trace_id else line
