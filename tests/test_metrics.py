"""The metrics each process records (core/metrics.py), and the deploy/ files that read them:
Prometheus's configuration and rules (checked and unit-tested by promtool), the Grafana
dashboard, and compose's `monitoring` profile."""

import json
import re
import subprocess
import time
from datetime import timedelta

import pytest
import yaml
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from prometheus_client import REGISTRY

from core import metrics, redis_health, task_metrics
from core.cache import cache_result
from devtools import monitor
from devtools.factories import MessageFactory, UserFactory
from jobs.models import ScheduleWatch
from jobs.monitor import OverdueCollector
from messaging import services
from tests.servers import ROOT, relays_paused

DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- What the processes record -----------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_by_route_never_by_path(user):
    message = MessageFactory(receiver=user)
    client = Client()
    client.force_login(user)
    labels = {"route": "message-detail", "method": "GET", "status": "200"}
    before = sample("platform_http_requests_total", **labels)
    for _ in range(2):
        assert client.get(f"/api/v1/messages/{message.pk}/").status_code == 200
    assert sample("platform_http_requests_total", **labels) == before + 2
    assert (
        sample("platform_http_request_duration_seconds_count", route="message-detail", method="GET")
        >= 2
    )
    # No series names a message's id; a path that matches nothing is "unmatched".
    client.get("/no/such/page/12345/")
    names = {
        s.labels.get("route")
        for family in REGISTRY.collect()
        if family.name == "platform_http_requests"
        for s in family.samples
    }
    assert "unmatched" in names
    assert not any(str(message.pk) in (route or "") for route in names)


@pytest.mark.django_db(transaction=True)
def test_sends_and_their_notification_lag_are_measured():
    sender, receiver = UserFactory(), UserFactory()
    sent_before = sample("platform_messages_sent_total")
    lags_before = sample("platform_commit_to_notification_seconds_count")
    # The session's relay and worker, when an earlier test started them, would notify
    # first, in their own process.
    with relays_paused():
        message = services.message_send(sender=sender, receiver=receiver, content="measured")
        assert sample("platform_messages_sent_total") == sent_before + 1
        services.notifications_create(message_ids=[message.pk])
        assert sample("platform_commit_to_notification_seconds_count") == lags_before + 1
        # Notified already: nothing new, nothing observed.
        services.notifications_create(message_ids=[message.pk])
        assert sample("platform_commit_to_notification_seconds_count") == lags_before + 1


def test_cache_result_hits_and_misses_are_counted():
    calls = []

    @cache_result(timeout=60, key_prefix="tests.metrics.squared")
    def squared(n: int) -> int:
        calls.append(n)
        return n * n

    cache.clear()
    miss = sample("platform_cache_lookups_total", cache="tests.metrics.squared", result="miss")
    hit = sample("platform_cache_lookups_total", cache="tests.metrics.squared", result="hit")
    assert [squared(3), squared(3), squared(3)] == [9, 9, 9]
    assert calls == [3]
    assert (
        sample("platform_cache_lookups_total", cache="tests.metrics.squared", result="miss")
        == miss + 1
    )
    assert (
        sample("platform_cache_lookups_total", cache="tests.metrics.squared", result="hit")
        == hit + 2
    )


def test_a_tripped_breaker_is_counted_once_and_shows_until_when():
    breaker = redis_health.breaker("192.0.2.1", 6390)
    before = sample("platform_redis_breaker_trips_total", redis=breaker.name)
    try:
        breaker.trip(ConnectionError("refused"))
        breaker.trip(ConnectionError("refused again"))  # open already: the same outage
        assert sample("platform_redis_breaker_trips_total", redis=breaker.name) == before + 1
        until = sample("platform_redis_breaker_open_until_timestamp_seconds", redis=breaker.name)
        assert time.time() < until <= time.time() + redis_health.UNHEALTHY_SECONDS
    finally:
        breaker.until = 0


def test_job_runs_count_what_they_did_nested_counts_by_path():
    before = sample("platform_job_affected_total", job="archive_old_records", count="archived.a")
    metrics.job_finished(
        "archive_old_records", "succeeded", {"archived": {"a": 3, "b": 0}, "total": 3}
    )
    assert (
        sample("platform_job_affected_total", job="archive_old_records", count="archived.a")
        == before + 3
    )
    assert sample("platform_job_runs_total", job="archive_old_records", status="succeeded") >= 1


@pytest.mark.django_db
def test_a_schedule_that_did_not_run_is_overdue():
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    task = PeriodicTask.objects.create(
        name="sweep", task="maintenance.sweep_orphaned_files", interval=every
    )
    ScheduleWatch.objects.create(
        periodic_task=task, schedule=str(task.schedule), since=timezone.now() - timedelta(hours=1)
    )
    (family,) = OverdueCollector().collect()
    (overdue,) = [s for s in family.samples if s.labels["job"] == "sweep_orphaned_files"]
    assert 0 < overdue.value <= 600


def test_the_queue_age_comes_from_the_publish_time_in_the_headers():
    headers = {}
    task_metrics.stamp(headers=headers)
    message = json.dumps({"headers": headers}).encode()
    assert task_metrics._published_at(message, now=0.0) == headers["published_at"]
    # A message from before the header, or none: not old.
    assert task_metrics._published_at(b'{"headers": {}}', now=5.0) == 5.0
    assert task_metrics._published_at(None, now=5.0) == 5.0


# --- deploy/: Prometheus, its rules, Grafana, compose --------------------------------------


def exported_names() -> set[str]:
    """Every sample name the platform exports: its metrics (counters as _total, histograms
    as _bucket, _sum and _count) and its collectors' gauges."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith(metrics.PREFIX):
            continue
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
        }.get(family.type, [""])
        names |= {family.name + suffix for suffix in suffixes}
    source = "".join(
        (ROOT / path).read_text()
        for path in ("core/task_metrics.py", "core/outbox.py", "jobs/monitor.py")
    )
    names |= set(re.findall(r'metrics\.PREFIX \+ "(\w+)"', source))
    return {name if name.startswith(metrics.PREFIX) else metrics.PREFIX + name for name in names}


def test_every_metric_the_dashboard_and_the_rules_name_is_exported():
    dashboard = json.loads((DEPLOY / "grafana/dashboards/platform.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    exprs += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    named = {name for expr in exprs for name in re.findall(r"\bplatform_\w+", expr)}
    exported = exported_names()
    assert named, "the dashboard names no metric"
    assert named <= exported, named - exported
    # And the dashboard shows what on-call asks for.
    assert {
        "platform_commit_to_push_seconds_bucket",
        "platform_commit_to_notification_seconds_bucket",
        "platform_queue_oldest_age_seconds",
        "platform_streams_open",
        "platform_tasks_total",
        "platform_http_requests_total",
        "platform_job_runs_total",
        "platform_redis_breaker_open_until_timestamp_seconds",
    } <= named


def test_the_rules_and_the_configuration_pass_promtool(tmp_path):
    prometheus = DEPLOY / "prometheus"
    for arguments in (
        ["check", "rules", "alerts.yml"],
        ["check", "config", "prometheus.yml"],
        ["test", "rules", "alerts.test.yml"],
    ):
        result = subprocess.run(
            ["promtool", *arguments], cwd=prometheus, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # `make monitor`'s rewrite of it too.
    local = monitor.write_config(tmp_path, monitor.local_ports())
    result = subprocess.run(["promtool", "check", "config", str(local)], capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_what_on_call_is_asked():
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "PlatformServerErrors",
        "PlatformTasksFailing",
        "PlatformQueueLate",
        "PlatformPushLagHigh",
        "PlatformStreamResets",
        "PlatformJobDidNotRun",
        "PlatformRedisBreakerOpen",
    } <= alerts


def test_compose_monitoring_profile_scrapes_every_service_and_publishes_no_metrics():
    services = COMPOSE["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"])
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"web", "events", "worker", "relay"}
    port = int(services["web"]["environment"]["METRICS_PORT"])
    for name, job in jobs.items():
        assert job["dns_sd_configs"] == [{"names": [name], "type": "A", "port": port}]
        assert "ports" not in services[name]  # the metrics port stays in compose's network
    provisioned = DEPLOY / "grafana/provisioning"
    assert (provisioned / "datasources/prometheus.yml").exists()
    assert (provisioned / "dashboards/platform.yml").exists()


def test_the_procfile_gives_each_service_its_own_metrics_port():
    lines = (ROOT / "Procfile").read_text().splitlines()
    ports = {}
    for line in lines:
        name, _, command = line.partition(":")
        if match := re.search(r"METRICS_PORT=\$\{(\w+)_METRICS_PORT:-(\d+)\}", command):
            ports[name] = int(match.group(2))
            assert match.group(1) == name.upper()
    assert ports == monitor.LOCAL_PORTS
