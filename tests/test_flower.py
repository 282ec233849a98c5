"""Flower, which can revoke tasks and stop workers, never starts open outside a DEBUG loopback."""

import base64
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.servers import ROOT, free_port, stop, subprocess_env, wait_for

pytestmark = pytest.mark.e2e

FLOWER = str(ROOT / "scripts" / "flower")


def run_refused(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FLOWER, *args], env=subprocess_env(**env), capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("args", "debug"),
    [(["--address=0.0.0.0"], "0"), (["--address=127.0.0.1"], "0"), (["--address=0.0.0.0"], "1")],
)
def test_flower_refuses_to_start_without_authentication(args, debug):
    result = run_refused(*args, f"--port={free_port()}", DEBUG=debug, FLOWER_BASIC_AUTH="")
    assert result.returncode == 2
    assert "refusing to start without authentication" in result.stderr


def get(url: str, auth: str | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_flower_with_basic_auth_turns_strangers_away(tmp_path):
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    process = subprocess.Popen(
        [FLOWER, "--address=127.0.0.1", f"--port={port}"],
        env=subprocess_env(DEBUG="0", FLOWER_BASIC_AUTH="ops:s3cret", FLOWER_WAIT_FOR_WORKER="0"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/workers"
        assert wait_for(lambda: get(url), timeout=30) == 401
        assert get(url, "ops:wrong") == 401
        assert get(url, "ops:s3cret") == 200
    finally:
        stop(process)
