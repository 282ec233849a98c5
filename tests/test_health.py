import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import OutboxRow
from jobs import monitor
from jobs.models import Alert
from jobs.schedules import setup_schedules
from tests.servers import free_port, start_server, stop

pytestmark = pytest.mark.django_db(transaction=True)

ALL_OK = {"database": "ok", "cache": "ok", "broker": "ok", "jobs": "ok"}


def test_healthz_is_200_when_everything_answers(client):
    setup_schedules()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in ALL_OK} == ALL_OK
    # Reported, not checked: the memory the event logs fill (issue 27).
    assert body["events"]["redis_used_memory_bytes"] > 0


@pytest.mark.e2e
def test_healthz_is_503_and_names_the_broker_when_it_is_down(tmp_path):
    setup_schedules()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    server, base = start_server(tmp_path / "server.log", REDIS_URL=dead)
    try:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{base}/healthz", timeout=10)
    finally:
        stop(server)
    assert error.value.code == 503
    assert json.loads(error.value.read()) == {
        **ALL_OK,
        "broker": "down",
        "events": {"redis": "down"},
        "outbox": {"status": "ok", "depth": 0, "oldest_seconds": 0.0},
    }


def test_healthz_reports_the_outbox_and_says_late_past_the_alert_age(client, settings):
    assert client.get("/healthz").json()["outbox"] == {
        "status": "ok",
        "depth": 0,
        "oldest_seconds": 0.0,
    }
    OutboxRow.objects.create(
        topic="tests.no_relay_publishes_this",  # a relay running meanwhile leaves it
        payload={},
        created_at=timezone.now() - timedelta(seconds=settings.OUTBOX_ALERT_AGE_SECONDS + 5),
    )
    report = client.get("/healthz").json()["outbox"]
    assert (report["status"], report["depth"]) == ("late", 1)
    assert report["oldest_seconds"] > settings.OUTBOX_ALERT_AGE_SECONDS
    # Ops hear of it once, however often the checks run.
    assert monitor.run_checks()["outbox_alerts"] == 1
    assert monitor.run_checks()["outbox_alerts"] == 0
    assert Alert.objects.get(job="outbox").subject.startswith("The outbox is late")


def test_healthz_checks_only_what_is_asked(client):
    response = client.get("/healthz?only=database,cache")
    reported = ("events", "outbox")  # reports, always there
    checked = {name: value for name, value in response.json().items() if name not in reported}
    assert (response.status_code, checked) == (200, {"database": "ok", "cache": "ok"})
    response = client.get("/healthz?only=database,disk")
    assert response.status_code == 400
    assert "unknown checks ['disk']" in response.json()["error"]
