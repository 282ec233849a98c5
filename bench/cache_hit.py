"""A cache_result hit against a plain django-redis cache.get of the same value.

python -m bench.cache_hit
"""

import timeit

from bench.common import machine, setup_without_reset, table

setup_without_reset()

from django.core.cache import cache  # noqa: E402

from core.cache import cache_result  # noqa: E402

VALUE = {"product": 42, "stats": list(range(50))}
CALLS = 20_000


@cache_result(timeout=300)
def product_stats(product_id, date_range):
    return VALUE


def main():
    cache.set("bench:plain", VALUE, 300)
    product_stats(42, {"from": "2026-01-01", "to": "2026-02-01"})  # warm the entry

    def plain():
        return cache.get("bench:plain")

    def memoised():
        return product_stats(42, {"from": "2026-01-01", "to": "2026-02-01"})

    assert plain() == memoised() == VALUE
    best = {
        name: min(timeit.repeat(func, number=CALLS, repeat=5)) / CALLS
        for name, func in (("plain", plain), ("memoised", memoised))
    }
    table(
        f"Cache hit, {CALLS:,} calls, best of 5 ({machine()}, Redis on loopback)",
        ["call", "µs per call", "ratio"],
        [
            ["cache.get (django-redis)", f"{best['plain'] * 1e6:.1f}", "1.0x"],
            [
                "cache_result hit",
                f"{best['memoised'] * 1e6:.1f}",
                f"{best['memoised'] / best['plain']:.2f}x",
            ],
        ],
    )


if __name__ == "__main__":
    main()
