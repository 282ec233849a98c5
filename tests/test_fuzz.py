"""Schemathesis against the OpenAPI schema, authenticated, every operation: no 5xx, and
every response matches the schema. A bounded run here; bench/fuzz.sh runs a longer one."""

import os
import subprocess
import sys

import pytest
from rest_framework.authtoken.models import Token

from devtools.factories import UserFactory
from messaging import services
from tests.servers import ROOT, start_server, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))


def test_api_survives_generated_requests(tmp_path, capsys):
    user, other = UserFactory(), UserFactory()
    services.message_send(sender=other, receiver=user, content="seed")
    token = Token.objects.create(user=user).key
    server, base = start_server(
        tmp_path / "server.log",
        THROTTLE_AUTH_RATE="100000/min",
        THROTTLE_AUTH_USERNAME_RATE="100000/min",
        AXES_FAILURE_LIMIT="100000",
    )
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base}/api/schema/?format=json",
                "--header",
                f"Authorization: Token {token}",
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                str(EXAMPLES),
                "--exclude-method",
                "DELETE",  # would delete the account under test
                # An endless stream, served by the ASGI application: tests/test_events.py.
                "--exclude-path",
                "/api/v1/events/",
                "--generation-deterministic",
                "--request-timeout",
                "20",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop(server)
    with capsys.disabled():
        print("\n" + "\n".join(result.stdout.splitlines()[-12:]))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " 500 " not in (tmp_path / "server.log").read_text()
