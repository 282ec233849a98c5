"""compose.yaml cannot run here (no Docker engine), so its shape is checked instead."""

import re
import secrets

import yaml

from tests.servers import ROOT, deploy_check, procfile_command, settings_variables

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DJANGO_SERVICES = ["web", "events", "relay", "worker", "beat", "flower"]


def settings_env_names() -> set[str]:
    return settings_variables()


def test_every_service_of_the_platform_is_defined():
    assert {"postgres", "redis-broker", "redis-cache", *DJANGO_SERVICES} <= set(SERVICES)


def test_every_variable_the_django_services_set_is_read_by_the_settings():
    known = settings_env_names()
    for name in DJANGO_SERVICES:
        # FLOWER_* are Flower's own options, read by Flower.
        variables = {v for v in SERVICES[name]["environment"] if not v.startswith("FLOWER_")}
        assert variables <= known, name


def test_the_broker_and_the_cache_are_separate_servers_with_their_own_policies():
    env = SERVICES["web"]["environment"]
    assert env["REDIS_URL"].startswith("redis://redis-broker:")
    assert env["REDIS_CACHE_URL"].startswith("redis://redis-cache:")
    broker = " ".join(SERVICES["redis-broker"]["command"])
    assert "--appendonly yes" in broker
    assert "--maxmemory-policy noeviction" in broker
    cache = " ".join(SERVICES["redis-cache"]["command"])
    assert "--maxmemory-policy allkeys-lru" in cache
    assert "--maxmemory " in cache


def test_flower_refuses_to_start_without_a_password():
    flower = SERVICES["flower"]
    assert flower["command"][0] == "scripts/flower"
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert flower["environment"]["DEBUG"] == "0"


def test_services_run_the_documented_commands():
    # The web server of compose and of `make start` is the same, with the same settings.
    web = SERVICES["web"]["command"]
    procfile = procfile_command("web")
    assert web[0] == procfile[0] == "gunicorn"
    assert web[web.index("--bind") + 1] == "0.0.0.0:8000"
    assert strip_address(web) == strip_address(procfile)
    events = " ".join(SERVICES["events"]["command"])
    assert "gunicorn config.asgi:application --worker-class uvicorn_worker.UvicornWorker" in events
    worker = " ".join(SERVICES["worker"]["command"])
    assert "celery -A celery_app worker -Q default,maintenance" in worker
    assert SERVICES["relay"]["command"] == ["python", "manage.py", "relay_outbox"]
    beat = " ".join(SERVICES["beat"]["command"])
    assert "celery -A celery_app beat" in beat
    assert "flower" in SERVICES["flower"]["command"][0]


def test_workers_can_scale_and_wait_for_healthy_backends():
    worker = SERVICES["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    for name in DJANGO_SERVICES:
        depends = SERVICES[name]["depends_on"]
        for backend in ("postgres", "redis-broker", "redis-cache"):
            assert depends[backend]["condition"] == "service_healthy"
    for name in ("postgres", "redis-broker", "redis-cache", "web"):
        assert SERVICES[name]["healthcheck"]["test"]


def test_database_and_media_live_in_named_volumes():
    assert {"pgdata", "media"} <= set(COMPOSE["volumes"])
    assert "media:/app/media" in SERVICES["worker"]["volumes"]
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])


def compose_default(value: str) -> str:
    """The value compose gives `${NAME:-default}` when NAME is unset."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", str(value))
    return match.group(1) if match else str(value)


def test_compose_runs_with_production_settings_that_pass_the_deploy_check():
    env = {k: compose_default(v) for k, v in SERVICES["web"]["environment"].items()}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL="postgres://nobody@127.0.0.1:1/unused",
        ALLOWED_HOSTS="messages.example.com",
    )
    result = deploy_check(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert env["SECURE_COOKIES"] == "1"


def test_only_the_buffering_front_is_published():
    front = SERVICES["front"]
    assert front["image"].startswith("nginx:")
    assert (
        "./deploy/nginx.conf.template:/etc/nginx/templates/default.conf.template:ro"
        in (front["volumes"])
    )
    assert front["environment"]["WEB_UPSTREAM"] == "web:8000"
    assert front["environment"]["EVENTS_UPSTREAM"] == "events:8001"
    assert "ports" not in SERVICES["events"]
    assert "ports" not in SERVICES["web"]
    assert SERVICES["web"]["environment"]["NUM_PROXIES"] == "1"


def strip_address(command: list[str]) -> list[str]:
    """The command without the address it listens on."""
    kept, skip = [], False
    for part in command:
        if skip:
            skip = False
        elif part in ("--bind", "--host", "--port"):
            skip = True
        else:
            kept.append(part)
    return kept
