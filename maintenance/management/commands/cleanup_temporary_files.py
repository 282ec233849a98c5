from django.core.management.base import CommandError

from jobs.commands import JobCommand
from maintenance.cleanup import CleanupRefused, age_argument, cleanup_temporary_files


class Command(JobCommand):
    help = "Delete regular files older than --max-age-days below DIRECTORY (an allowed root)."

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--max-age-days", type=age_argument, default=7)
        parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")

    def handle(self, *args, **options):
        arguments = {k: options[k] for k in ("directory", "max_age_days", "dry_run")}
        try:
            result = self.run_job(
                "cleanup_temporary_files",
                arguments,
                lambda run: cleanup_temporary_files(
                    options["directory"], options["max_age_days"], dry_run=options["dry_run"]
                ),
            )
        except (CleanupRefused, ValueError) as error:
            raise CommandError(str(error)) from error
        if options["dry_run"]:
            for path in result.deleted:
                self.stdout.write(f"would delete {path}")
        for error in result.errors:
            self.stderr.write(f"could not delete {error}")
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"{verb} {result.files_deleted} files ({result.bytes_freed} bytes), "
            f"removed {result.dirs_removed} empty directories, {len(result.errors)} errors"
        )
