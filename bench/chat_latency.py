"""From one person's Enter to the row in the other's open conversation:
`python -m bench.chat_latency` (issue 26; docs/benchmarks.md).

The platform as `make start` serves it, on the bench database: nginx in front of gunicorn
(pages, 2 workers) and the stream server (gunicorn with uvicorn's worker), a Celery worker
and the outbox relay. Two browser contexts of Debian's Chromium: alice types in her
conversation's composer and presses Enter; bob's conversation with her is open. For each
of BENCH_CHAT_MESSAGES messages (default 200), one at a time: the message's commit (its
timestamp, taken in the web process just before its one-statement insert commits) to the
moment bob's page has its row (a MutationObserver's Date.now()), and to the moment alice's
own page shows it as sent. p50/p99 against the goal, 150 ms.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile

from bench.common import machine, setup, table

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from bench.processes import LOGS, ROOT, _answers, celery_worker, start, stop  # noqa: E402
from devtools import front  # noqa: E402
from devtools.factories import PASSWORD, UserFactory  # noqa: E402
from messaging.models import Message  # noqa: E402

COUNT = int(os.environ.get("BENCH_CHAT_MESSAGES", "200"))
GOAL_MS = 150
CHROMIUM = "/usr/bin/chromium"

# Each row added to the conversation, as its text and the time it appeared.
WATCH = """() => {
  window.arrived = {};
  new MutationObserver((records) => {
    const now = Date.now();
    for (const record of records) for (const node of record.addedNodes) {
      if (node.matches && node.matches("li.msg[data-message-id]")) {
        const text = node.querySelector(".content").textContent;
        if (!(text in window.arrived)) window.arrived[text] = now;
      }
    }
  }).observe(document.getElementById("chat-log"), { childList: true });
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def platform() -> tuple[list[subprocess.Popen], str]:
    static = tempfile.mkdtemp(prefix="bench-static-")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "STATIC_ROOT": static},
        check=True,
    )
    extra = {"STATIC_ROOT": static, "SECURE_COOKIES": "0"}
    web_port, events_port, front_port = free_port(), free_port(), free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "--bind"]
    web = start(
        "web",
        [*gunicorn, f"127.0.0.1:{web_port}", "--workers", "2", "config.wsgi:application"],
        lambda: _answers(web_port),
        **extra,
    )
    events = start(
        "events",
        [
            *gunicorn,
            f"127.0.0.1:{events_port}",
            "--worker-class",
            "uvicorn_worker.UvicornWorker",
            "--workers",
            "2",
            "config.asgi:application",
        ],
        lambda: _answers(events_port),
        **extra,
        DB_CONN_MAX_AGE="0",
    )
    publisher = celery_worker(**extra)  # and its outbox relay
    config = front.write_config(
        LOGS / "front",
        listen=f"127.0.0.1:{front_port}",
        web=f"127.0.0.1:{web_port}",
        events=f"127.0.0.1:{events_port}",
    )
    nginx = start("front", front.command(config), lambda: _answers(front_port))
    return [nginx, publisher, events, web], f"http://127.0.0.1:{front_port}"


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.locator("header .who").wait_for()


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main():
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain
    # blocking reads, as in the browser tests.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # The bench's Redis databases start empty too: an earlier run's events, kept under the
    # same message ids (the database starts again from 1), would be taken for repeats.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    processes, base = platform()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            writer = browser.new_context().new_page()
            reader = browser.new_context().new_page()
            log_in(writer, base, "alice")
            log_in(reader, base, "bob")
            writer.goto(f"{base}/people/{bob.pk}/")
            reader.goto(f"{base}/people/{alice.pk}/")
            reader.evaluate(WATCH)
            writer.evaluate(WATCH)
            box = writer.locator("#composer-text")
            other, own = [], []
            for n in range(COUNT):
                text = f"bench message {n}"
                box.fill(text)
                box.press("Enter")
                reader.wait_for_function(f"() => {text!r} in window.arrived", timeout=10_000)
                writer.wait_for_function(f"() => {text!r} in window.arrived", timeout=10_000)
                seen = reader.evaluate(f"window.arrived[{text!r}]")
                shown = writer.evaluate(f"window.arrived[{text!r}]")
                committed = Message.objects.get(content=text).timestamp.timestamp() * 1000
                other.append(seen - committed)
                own.append(shown - committed)
            browser.close()
    finally:
        for process in processes:
            stop(process)
    rows = [
        [
            "the other person's open conversation",
            f"{statistics.median(other):.0f}",
            f"{p99(other):.0f}",
            f"{max(other):.0f}",
            f"{GOAL_MS}",
            f"{p99(other) / GOAL_MS:.2f}x",
        ],
        [
            "the sender's own page (as sent)",
            f"{statistics.median(own):.0f}",
            f"{p99(own):.0f}",
            f"{max(own):.0f}",
            "",
            "",
        ],
    ]
    table(
        f"Commit to row on screen, {COUNT} messages typed one at a time, Chromium behind nginx"
        f" ({machine()})",
        ["where", "p50 ms", "p99 ms", "max ms", "goal p99", "p99/goal"],
        rows,
    )


if __name__ == "__main__":
    main()
