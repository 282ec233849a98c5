"""The web server as `make start` and compose run it (the Procfile's `web`: gunicorn's sync
workers, chosen in docs/scaling.md) serving the API."""

import json
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from devtools.factories import UserFactory
from messaging.models import Message
from tests.servers import start_web, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def call(url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_web_server_sends_reads_and_refuses_a_revoked_token_in_every_process(tmp_path):
    writer, reader = UserFactory(), UserFactory()
    token = Token.objects.create(user=writer).key
    server, base = start_web(tmp_path / "web.log")
    try:
        sent = [
            call(f"{base}/api/v1/messages/", token, {"receiver": reader.pk, "content": f"hi {n}"})
            for n in range(20)
        ]
        reads = [call(f"{base}/api/v1/messages/?box=sent", token) for _ in range(20)]
        Token.objects.filter(key=token).delete()
        # 20 requests spread over the server's processes: none still knows it.
        refused = [call(f"{base}/api/v1/messages/?box=sent", token)[0] for _ in range(20)]
    finally:
        stop(server)
    assert [status for status, _ in sent] == [201] * 20
    assert {status for status, _ in reads} == {200}
    assert reads[-1][1]["results"][0]["content"] == "hi 19"
    assert refused == [401] * 20
    assert Message.objects.filter(sender=writer).count() == 20
