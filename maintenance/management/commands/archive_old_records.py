from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import CommandError

from jobs.commands import JobCommand, bounded_int
from maintenance.archive import MAX_BATCH_SIZE, MAX_DAYS, archive_old_records
from maintenance.progress import ProgressBar


class Command(JobCommand):
    help = "Move rows older than --days into the archive, with what cascades from them."

    def add_arguments(self, parser):
        parser.add_argument("model", help="app_label.Model, e.g. messaging.Message")
        parser.add_argument("date_field", help="the date or datetime field to age rows by")
        parser.add_argument(
            "--days",
            type=bounded_int(0, MAX_DAYS),
            default=365,
            help=f"age threshold, 0 to {MAX_DAYS} (default 365)",
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="only rows matching this lookup; repeatable",
        )
        parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH_SIZE), default=1000)
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")

    def handle(self, *args, **options):
        model = self._model(options["model"])
        filters = self._filters(options["filter"])
        arguments = {
            "model": options["model"],
            "date_field": options["date_field"],
            "days_threshold": options["days"],
            "filters": filters,
            "batch_size": options["batch_size"],
            "dry_run": options["dry_run"],
        }
        bar = ProgressBar(self.stdout, unit="rows")
        try:
            result = self.run_job(
                "archive_old_records",
                arguments,
                lambda run: archive_old_records(
                    model,
                    options["date_field"],
                    options["days"],
                    filters=filters,
                    batch_size=options["batch_size"],
                    dry_run=options["dry_run"],
                    run=None if options["dry_run"] else run,
                    progress=lambda r: bar.update(r.total),
                ),
            )
        except FieldDoesNotExist as error:
            raise CommandError(str(error)) from error
        bar.close()
        verb = "would archive" if options["dry_run"] else "archived"
        per_model = ", ".join(f"{n} {label}" for label, n in sorted(result.archived.items()))
        self.stdout.write(
            f"{verb} {result.total} rows ({per_model or 'none'}) in {result.batches} batches, "
            f"{result.seconds:.1f}s"
        )

    def _model(self, label: str):
        try:
            return apps.get_model(label)
        except (LookupError, ValueError) as error:
            raise CommandError(f"unknown model {label!r}: use app_label.Model") from error

    def _filters(self, items: list[str]) -> dict:
        filters = {}
        for item in items:
            field, sep, value = item.partition("=")
            if not sep or not field:
                raise CommandError(f"--filter {item!r}: use FIELD=VALUE")
            filters[field] = value
        return filters
