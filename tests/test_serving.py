"""The web server as `make start` and compose run it (the Procfile's `web`: gunicorn's sync
workers, chosen in docs/scaling.md) serving the API."""

import pytest
from rest_framework.authtoken.models import Token

from devtools.factories import UserFactory
from messaging.models import Message
from tests.servers import http, start_web, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_the_web_server_sends_reads_and_refuses_a_revoked_token_in_every_process(tmp_path):
    writer, reader = UserFactory(), UserFactory()
    token = Token.objects.create(user=writer).key
    server, base = start_web(tmp_path / "web.log")
    try:
        messages = f"{base}/api/v1/messages/"
        sent = [
            http("POST", messages, token, {"receiver": reader.pk, "content": f"hi {n}"})
            for n in range(20)
        ]
        reads = [http("GET", f"{messages}?box=sent", token) for _ in range(20)]
        Token.objects.filter(key=token).delete()
        # 20 requests spread over the server's processes: none still knows it.
        refused = [http("GET", f"{messages}?box=sent", token)[0] for _ in range(20)]
    finally:
        stop(server)
    assert [status for status, _ in sent] == [201] * 20
    assert {status for status, _ in reads} == {200}
    assert reads[-1][1]["results"][0]["content"] == "hi 19"
    assert refused == [401] * 20
    assert Message.objects.filter(sender=writer).count() == 20
