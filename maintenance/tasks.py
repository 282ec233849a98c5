"""Celery tasks of the maintenance app, all routed to the `maintenance` queue."""

from celery import shared_task
from django.db import OperationalError

from maintenance import files


# A database that restarts raises OperationalError for a few seconds: retry with backoff.
@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=8)
def delete_files(names: list[str]) -> dict:
    """Delete these storage names unless a row still references them (idempotent)."""
    return files.delete_unreferenced(names)
