"""What a message's search document costs to make: `python -m bench.search_document`
(issue 30). Run after `bench.search` (its 1,000,000 messages): the documents of 100,000 of
them made three ways, in the database (EXPLAIN ANALYZE), 3 runs each, best kept; µs a
message. Each send makes one (the column is generated), so this is what issue 30's
document adds to a send, without the noise of a throughput run on a shared VM.
"""

from bench.common import machine, setup_without_reset, table

setup_without_reset()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from messaging import search  # noqa: E402

ROWS = 100_000


def cost(expression: str) -> float:
    best = None
    for _ in range(3):
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, SUMMARY ON, TIMING OFF) SELECT sum(length(("
                + expression
                + ")::text)) FROM (SELECT content FROM messaging_message LIMIT %s) AS m",
                [ROWS],
            )
            line = next(row[0] for row in cursor.fetchall() if "Execution Time" in row[0])
        ms = float(line.split(":")[1].split()[0])
        best = ms if best is None else min(best, ms)
    return best * 1000 / ROWS


def main():
    with connection.cursor() as cursor:
        cursor.execute(search.GRAMS_FUNCTION)
    plain = f"to_tsvector('{settings.SEARCH_CONFIG}', content)"
    folded = f"to_tsvector('{search.search_config()}', content)"
    ways = {
        "words (before issue 30)": plain,
        "words without accents": folded,
        "words without accents + grams (now)": f"{folded} || messaging_grams(content)",
    }
    costs = {name: cost(expression) for name, expression in ways.items()}
    base = costs["words (before issue 30)"]
    rows = [[name, f"{micro:.1f}", f"{micro / base:.2f}x"] for name, micro in costs.items()]
    table(
        f"A message's search document, {ROWS:,} of the benchmark's messages ({machine()}; "
        "µs a message, best of 3)",
        ["document", "µs a message", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
