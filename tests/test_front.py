"""The buffering front of compose (deploy/nginx.conf.template, run here with nginx itself)
before gunicorn's sync workers: slow clients and oversized bodies stop at nginx."""

import socket
import time
import urllib.error
import urllib.request

import pytest

from tests.servers import start_front, start_server, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

SLOW_CLIENTS = 50


def slow_clients(port: int, count: int) -> list[socket.socket]:
    """Connections that start a request and never finish its headers."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        sockets.append(sock)
    return sockets


def get(url: str, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started


def test_slow_clients_hold_gunicorn_but_not_the_front(tmp_path, capsys):
    web, base = start_server(tmp_path / "web.log")
    upstream = int(base.rsplit(":", 1)[1])
    front, port = start_front(tmp_path, upstream)
    held = []
    try:
        get(f"http://127.0.0.1:{port}/healthz?only=database", timeout=5)  # connections warm
        baseline = get(f"http://127.0.0.1:{port}/healthz?only=database", timeout=5)
        held = slow_clients(port, SLOW_CLIENTS)
        through_front = get(f"http://127.0.0.1:{port}/healthz?only=database", timeout=2)
        # Straight to gunicorn (its one sync worker), two slow clients are enough.
        held += slow_clients(upstream, 2)
        with pytest.raises(OSError, match="timed out"):  # held: no answer by the deadline
            get(f"{base}/healthz?only=database", timeout=2)
    finally:
        for sock in held:
            sock.close()
        stop(front)
        stop(web)
    with capsys.disabled():
        print(
            f"\n  [slow clients] front: {SLOW_CLIENTS} held, a request took "
            f"{through_front[1] * 1000:.0f} ms (alone: {baseline[1] * 1000:.0f} ms)"
        )
    assert baseline[0] == 200
    assert through_front[0] == 200


def test_the_front_refuses_a_body_over_the_limit_before_gunicorn_reads_it(tmp_path):
    web, base = start_server(tmp_path / "web.log")
    front, port = start_front(tmp_path, int(base.rsplit(":", 1)[1]))
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/messages/",
            data=b"x" * (12 * 1024 * 1024),
            headers={"Content-Type": "multipart/form-data; boundary=B"},
            method="POST",
        )
        status, _ = get_request(request)
    finally:
        stop(front)
        stop(web)
    assert status == 413
    assert "/api/v1/messages/" not in (tmp_path / "web.log").read_text()


def get_request(request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
