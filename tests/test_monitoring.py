"""What ops watch the platform with, on the real processes: each one's Prometheus metrics
(scraped by Debian's Prometheus), one trace per send across them (OpenTelemetry), errors to
Sentry, and the rules and dashboard of deploy/."""

import json
import math
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from devtools import monitor
from devtools.collector import Collector
from devtools.factories import UserFactory
from devtools.sse import Stream
from jobs.models import JobRun
from tests.servers import (
    ROOT,
    RedisServer,
    Relay,
    Worker,
    free_port,
    http,
    port_of,
    start_events,
    start_front,
    start_web,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

DEPLOY = ROOT / "deploy"
SERVICES = ("web", "events", "worker", "relay")


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, tmp_path_factory):
    """web, events, a worker and a relay (each serving its metrics on a port of its own,
    traced, reporting errors) on a Redis of their own, with the front before them."""
    logs = tmp_path_factory.mktemp("monitoring")
    collector = Collector()
    redis = RedisServer(logs)
    redis.start()
    ports = {service: free_port() for service in SERVICES}
    env = {
        "REDIS_URL": redis.url(0),
        "REDIS_CACHE_URL": redis.url(1),
        "METRICS_DIR": str(logs / "metrics"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "SENTRY_DSN": f"http://public@127.0.0.1:{collector.port}/1",
        "LOG_FORMAT": "json",
    }
    processes, helpers = [], []
    with django_db_blocker.unblock():
        try:
            web, web_base = start_web(logs / "web.log", METRICS_PORT=str(ports["web"]), **env)
            processes.append(web)
            events, events_base = start_events(
                logs / "events.log", METRICS_PORT=str(ports["events"]), **env
            )
            processes.append(events)
            worker = Worker(
                logs / "worker.log", relay=False, METRICS_PORT=str(ports["worker"]), **env
            )
            helpers.append(worker.start())
            relay = Relay(logs / "relay.log", METRICS_PORT=str(ports["relay"]), **env)
            helpers.append(relay.start())
            front, front_port = start_front(logs / "front", port_of(web_base), port_of(events_base))
            processes.append(front)
            yield {
                "ports": ports,
                "web": web_base,
                "events": port_of(events_base),
                "front": front_port,
                "collector": collector,
                "redis": redis,
                "logs": logs,
            }
        finally:
            for process in processes:
                stop(process)
            for helper in helpers:
                helper.stop()
            redis.stop()
            collector.close()


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """The samples a process serves: {(name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        v
        for (n, sample_labels), v in samples.items()
        if n == name and set(labels.items()) <= set(sample_labels)
    )


def send_and_receive(platform, *, until=("message.received",)) -> tuple[int, dict]:
    """Send a message and read the receiver's stream until each event of `until` came (the
    stream open meanwhile: a push to a stream already closed is no push)."""
    writer, reader = UserFactory(), UserFactory()
    token = Token.objects.create(user=writer).key
    reader_token = Token.objects.create(user=reader).key
    stream = Stream(
        platform["events"], "/api/v1/events/", {"Authorization": f"Token {reader_token}"}
    )
    try:
        assert stream.status == 200
        status, sent = http(
            "POST",
            f"{platform['web']}/api/v1/messages/",
            token,
            {"receiver": reader.pk, "content": "watched"},
        )
        assert status == 201, sent
        waiting, received = set(until), None
        while waiting:
            event = stream.next(timeout=60)
            waiting.discard(event.name)
            if event.name == "message.received":
                received = event
        assert received.json()["message"]["id"] == sent["id"]
    finally:
        stream.close()
    return sent["id"], received.json()


def test_a_send_shows_in_each_processs_metrics_and_prometheus_graphs_its_lag(platform, tmp_path):
    ports = platform["ports"]
    before = {service: scrape(port) for service, port in ports.items()}
    send_and_receive(platform)

    def counted(service: str, name: str, **labels) -> bool:
        now = value(scrape(ports[service]), name, **labels)
        return now > value(before[service], name, **labels)

    # The request, on the web server.
    route = {"route": "message-list", "method": "POST", "status": "201"}
    wait_for(lambda: counted("web", "platform_http_requests_total", **route))
    assert counted("web", "platform_http_request_duration_seconds_count", route="message-list")
    assert counted("web", "platform_messages_sent_total")
    # Its rows, published by the relay.
    wait_for(
        lambda: counted("relay", "platform_outbox_published_total", topic="messaging.message_sent")
    )
    # Its notification task, and the commit-to-notification lag, on the worker.
    task = {"task": "messaging.create_notifications", "outcome": "succeeded"}
    wait_for(lambda: counted("worker", "platform_tasks_total", **task))
    assert counted("worker", "platform_commit_to_notification_seconds_count")
    assert counted("worker", "platform_task_duration_seconds_count", task=task["task"])
    # The push to the open stream, and the commit-to-push lag, on the event server.
    assert counted("events", "platform_events_pushed_total", event="message.received")
    assert counted("events", "platform_commit_to_push_seconds_count")
    # The queues are measured at each scrape.
    assert ("platform_queue_length", (("queue", "default"),)) in scrape(ports["worker"])

    # Debian's Prometheus, with the deploy/ configuration and rules, answers for the lag.
    config = monitor.write_config(tmp_path, ports, interval="1s")
    listen = f"127.0.0.1:{free_port()}"
    prometheus = subprocess.Popen(
        monitor.command(config, tmp_path / "data", listen),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        query = "histogram_quantile(0.99, sum by (le) (platform_commit_to_push_seconds_bucket))"

        def answered():
            url = f"http://{listen}/api/v1/query?" + urllib.parse.urlencode({"query": query})
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    result = json.load(response)["data"]["result"]
            except (OSError, urllib.error.URLError):
                assert prometheus.poll() is None, (tmp_path / "prometheus.log").read_text()
                return None
            # NaN until the event server's first scrape (the others' buckets are empty).
            if result and math.isfinite(float(result[0]["value"][1])):
                return float(result[0]["value"][1])
            return None

        lag = wait_for(answered, timeout=60)
        assert 0 < lag <= 60
        # Every target is up, and the rules loaded.
        wait_for(lambda: all(t["health"] == "up" for t in fetch_targets(listen)), timeout=30)
        assert {t["labels"]["job"] for t in fetch_targets(listen)} == set(SERVICES)
        with urllib.request.urlopen(f"http://{listen}/api/v1/rules", timeout=5) as response:
            rules = json.load(response)["data"]["groups"][0]["rules"]
        assert "PlatformPushLagHigh" in {rule["name"] for rule in rules}
    finally:
        stop(prometheus)


def fetch_targets(listen: str) -> list[dict]:
    with urllib.request.urlopen(f"http://{listen}/api/v1/targets", timeout=5) as response:
        return json.load(response)["data"]["activeTargets"]


def test_one_send_is_one_trace_from_the_request_to_the_push(platform):
    spans = platform["collector"].spans
    earlier = {s["trace"] for s in list(spans)}  # the module's other tests' sends
    # The stream stays open until the notification's push too.
    send_and_receive(platform, until=("message.received", "notification.created"))

    def push_span():
        return next(
            (
                s
                for s in spans
                if s["service"] == "platform-events"
                and s["name"] == "events.push"
                and s["trace"] in requests_traces()
                and s["trace"] not in earlier
            ),
            None,
        )

    def requests_traces() -> set[str]:
        return {
            s["trace"]
            for s in spans
            if s["service"] == "platform-web" and s["parent"] is None and "POST" in s["name"]
        }

    # Deadlines against a hang (how soon is not the question here): the notification's
    # push follows a task and a second outbox row, which a loaded machine delays.
    push = wait_for(push_span, timeout=60)

    def chains() -> list[list[tuple[str, str]]] | None:
        """From each push of the trace up to its root: (service, span name), each span's
        parent in the trace; None while a parent has not arrived yet (each process exports
        its spans in batches of its own, so a push can reach the collector before the
        relay's span it descends from)."""
        trace = [s for s in list(spans) if s["trace"] == push["trace"]]
        by_id = {s["id"]: s for s in trace}
        found = []
        for span in trace:
            if span["name"] != "events.push":
                continue
            chain = []
            while span is not None:
                chain.append((span["service"], span["name"]))
                if span["parent"] and span["parent"] not in by_id:
                    return None
                span = by_id.get(span["parent"]) if span["parent"] else None
            found.append(chain)
        return found

    # Both pushes (the message, then its notification) lead up to the request.
    pushes = wait_for(lambda: (found := chains()) and len(found) >= 2 and found, timeout=60)
    for chain in pushes:
        assert chain[-1][0] == "platform-web", chain
        assert "POST" in chain[-1][1], chain
        assert ("platform-relay", "outbox.publish") in chain
        assert ("platform-relay", "events.publish") in chain
    # The notification's: through the task, published by the relay and run by the worker.
    notified = next(c for c in pushes if any(service == "platform-worker" for service, _ in c))
    assert any(
        service == "platform-worker" and "create_notifications" in name
        for service, name in notified
    ), notified
    assert any(
        service == "platform-relay" and "create_notifications" in name for service, name in notified
    ), notified
    # The database and Redis calls are in the trace.
    names = {s["name"] for s in spans if s["trace"] == push["trace"]}
    assert any(name.startswith(("INSERT", "WITH", "SELECT")) for name in names), names


def test_a_failing_task_counts_logs_its_trace_and_reports_without_personal_data(platform):
    port = platform["ports"]["worker"]
    before = scrape(port)
    app = Celery(broker=platform["redis"].url(0), set_as_current=False)
    app.send_task(
        "maintenance.cleanup_temporary_files",
        kwargs={"directory": "/etc"},  # outside the allowed roots: the run fails
        queue="maintenance",
    )
    task = {"task": "maintenance.cleanup_temporary_files", "outcome": "failed"}
    wait_for(
        lambda: (
            value(scrape(port), "platform_tasks_total", **task)
            > value(before, "platform_tasks_total", **task)
        )
    )
    failed = {"job": "cleanup_temporary_files", "status": "failed"}
    assert value(scrape(port), "platform_job_runs_total", **failed) == (
        value(before, "platform_job_runs_total", **failed) + 1
    )
    assert JobRun.objects.filter(task="cleanup_temporary_files", status="failed").exists()
    # Its log line says which trace it was.
    log = Path(platform["logs"] / "worker.log")

    def failure_line():
        for line in log.read_text().splitlines():
            if line.startswith("{") and "cleanup_temporary_files" in line:
                entry = json.loads(line)
                if entry["level"] == "ERROR" and entry.get("trace_id"):
                    return entry
        return None

    entry = wait_for(failure_line)
    assert re.fullmatch(r"[0-9a-f]{32}", entry["trace_id"])
    # ...the trace of the task's run, exported by the worker.
    wait_for(lambda: entry["trace_id"] in {s["trace"] for s in platform["collector"].spans})
    # Sentry got the error, and nothing that names a person.
    envelopes = platform["collector"].envelopes

    def reported():
        for envelope in envelopes:
            for item in envelope:
                errors = item.get("exception", {}).get("values", [])
                if any(error["type"] == "CleanupRefused" for error in errors):
                    return item
        return None

    event = wait_for(reported)
    assert event["transaction"] == "maintenance.cleanup_temporary_files"
    # No personal data: no user, and the task's arguments filtered out.
    assert "user" not in event
    assert event["extra"]["celery-job"]["kwargs"] == "[Filtered]"


def test_metrics_are_never_published_behind_the_front(platform):
    for path in ("/metrics", "/metrics/", "/api/v1/metrics"):
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{platform['front']}{path}", timeout=5
            ) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        assert status == 404, path
        assert b"platform_http_requests" not in body
    # They are on each service's own port, bound to loopback.
    for port in platform["ports"].values():
        assert (
            "platform_"
            in urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        )
