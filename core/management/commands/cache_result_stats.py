from django.core.cache import caches
from django.core.management.base import BaseCommand

from core.cache import STATS_PREFIX, stats_of


class Command(BaseCommand):
    help = (
        "Hits and misses of every cache_result function, summed over every process (each "
        "process adds its counts every 100 calls or 10 seconds)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cache", default="default", help="the cache alias")

    def handle(self, *args, **options):
        cache = caches[options["cache"]]
        names = sorted(
            {key[len(STATS_PREFIX) :].rsplit(":", 1)[0] for key in cache.keys(f"{STATS_PREFIX}*")}
        )
        if not names:
            self.stdout.write("No cache_result calls counted yet.")
        for name in names:
            counts = stats_of(name, cache)
            total = counts["hits"] + counts["misses"]
            self.stdout.write(
                f"{name}: {counts['hits']} hits, {counts['misses']} misses "
                f"({counts['hits'] / total:.0%} hits)"
            )
