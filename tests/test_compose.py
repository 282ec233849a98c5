"""compose.yaml cannot run here (no Docker engine), so its shape is checked instead."""

import re

import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DJANGO_SERVICES = ["web", "worker", "beat", "flower"]


def settings_env_names() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'env(?:_\w+)?\(\s*"([A-Z0-9_]+)"', source))


def test_every_service_of_the_platform_is_defined():
    assert {"postgres", "redis", *DJANGO_SERVICES} <= set(SERVICES)


def test_every_variable_the_django_services_set_is_read_by_the_settings():
    known = settings_env_names()
    for name in DJANGO_SERVICES:
        assert set(SERVICES[name]["environment"]) <= known, name


def test_services_run_the_documented_commands():
    assert SERVICES["web"]["command"][0] == "gunicorn"
    worker = " ".join(SERVICES["worker"]["command"])
    assert "celery -A celery_app worker -Q default,maintenance" in worker
    beat = " ".join(SERVICES["beat"]["command"])
    assert "celery -A celery_app beat" in beat
    assert "flower" in SERVICES["flower"]["command"]


def test_workers_can_scale_and_wait_for_healthy_backends():
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    for name in DJANGO_SERVICES:
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    for name in ("postgres", "redis", "web"):
        assert SERVICES[name]["healthcheck"]["test"]


def test_database_and_media_live_in_named_volumes():
    assert {"pgdata", "media"} <= set(COMPOSE["volumes"])
    assert "media:/app/media" in SERVICES["worker"]["volumes"]
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])
