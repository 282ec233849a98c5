"""Inbox of 10,000 messages: queries per request, and cached against uncached throughput.

python -m bench.inbox
"""

from bench.common import machine, rate, setup, table

setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from devtools.factories import UserFactory  # noqa: E402
from messaging import inbox_cache  # noqa: E402
from messaging.models import Message  # noqa: E402

MESSAGES = 10_000


def main():
    reader, writer = UserFactory(), UserFactory()
    Message.objects.bulk_create(
        [Message(sender=writer, receiver=reader, content=f"message {i}") for i in range(MESSAGES)],
        batch_size=2000,
    )
    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=reader).key}")

    def uncached():
        inbox_cache.invalidate([reader.pk])
        assert client.get("/api/v1/messages/").status_code == 200

    def cached():
        assert client.get("/api/v1/messages/").status_code == 200

    counts = []
    for page in (1, 50, 250):
        inbox_cache.invalidate([reader.pk])
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/v1/messages/?page={page}").status_code == 200
        counts.append([f"page {page}", len(queries)])
    table(
        f"Queries per uncached inbox request ({MESSAGES:,} messages)",
        ["request", "queries"],
        counts,
    )

    cached()
    miss, hit = rate(uncached), rate(cached)
    table(
        f"Inbox throughput, in-process client ({machine()})",
        ["request", "requests/s", "ratio"],
        [["uncached", f"{miss:.0f}", "1.0x"], ["cached", f"{hit:.0f}", f"{hit / miss:.1f}x"]],
    )


if __name__ == "__main__":
    main()
