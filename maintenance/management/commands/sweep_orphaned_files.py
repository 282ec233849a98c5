from jobs.commands import JobCommand
from maintenance.cleanup import age_argument
from maintenance.sweep import sweep_orphaned_files


class Command(JobCommand):
    help = "Delete files under MEDIA_ROOT that no row (live or archived) references."

    def add_arguments(self, parser):
        parser.add_argument("--min-age-hours", type=age_argument, default=24)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, **options):
        arguments = {k: options[k] for k in ("min_age_hours", "dry_run")}
        counts = self.run_job(
            "sweep_orphaned_files",
            arguments,
            lambda run: sweep_orphaned_files(
                min_age_hours=options["min_age_hours"], dry_run=options["dry_run"]
            ),
        )
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"checked {counts['checked']} files, {counts['orphans']} orphaned, "
            f"{verb} {counts['orphans'] if options['dry_run'] else counts['deleted']}, "
            f"{counts['errors']} errors"
        )
