"""Who may do what: every endpoint and page, for anonymous, a stranger and the owner."""

import secrets

import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from devtools.factories import PASSWORD, MessageFactory, UserFactory
from messaging import services
from messaging.models import Notification
from tests.conftest import client_for
from tests.servers import deploy_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(user, other_user):
    """A message from `user` to `other_user` (with a file and a notification), a stranger."""
    message = services.message_send(
        sender=user,
        receiver=other_user,
        content="ours",
        attachment=ContentFile(b"file", name="f.txt"),
    )
    services.notifications_create(message_ids=[message.pk])
    return {
        "sender": user,
        "receiver": other_user,
        "stranger": UserFactory(),
        "message": message,
        "notification": Notification.objects.get(message=message),
    }


# (method, path, body, who succeeds, status for the stranger, status for the receiver)
API_OBJECT_ROUTES = [
    ("get", "/api/v1/messages/{m}/", None, 200, 404, 200),
    ("patch", "/api/v1/messages/{m}/", {"content": "changed"}, 200, 404, 403),
    ("get", "/api/v1/messages/{m}/history/", None, 200, 404, 200),
    ("get", "/api/v1/messages/{m}/thread/", None, 200, 404, 200),
    ("get", "/api/v1/messages/{m}/attachment/", None, 200, 404, 200),
]
API_LIST_ROUTES = [
    ("get", "/api/v1/me/", None),
    ("get", "/api/v1/messages/", None),
    ("post", "/api/v1/messages/", {"receiver": 1, "content": "x"}),
    ("get", "/api/v1/messages/unread-count/", None),
    ("post", "/api/v1/messages/mark-read/", {}),
    ("get", "/api/v1/conversations/{r}/", None),
    ("get", "/api/v1/notifications/", None),
    ("post", "/api/v1/notifications/mark-read/", {}),
    ("get", "/api/v1/users/", None),
    ("delete", "/api/v1/me/", {"password": "x"}),
]


def fill(path: str, world) -> str:
    return path.format(m=world["message"].pk, r=world["receiver"].pk)


@pytest.mark.parametrize(("method", "path", "body"), API_LIST_ROUTES)
def test_api_refuses_anonymous_requests(world, method, path, body):
    response = getattr(APIClient(), method)(fill(path, world), body, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "ok", "stranger", "receiver"), API_OBJECT_ROUTES
)
def test_api_object_routes_by_who_asks(world, method, path, body, ok, stranger, receiver):
    url = fill(path, world)

    def call(user):
        client = client_for(user) if user else APIClient()
        return getattr(client, method)(url, body, format="json").status_code

    assert call(None) == 401
    assert call(world["stranger"]) == stranger
    assert call(world["receiver"]) == receiver
    assert call(world["sender"]) == ok


def test_api_lists_never_show_a_strangers_data(world):
    stranger = client_for(world["stranger"])
    assert stranger.get("/api/v1/messages/").json()["results"] == []
    assert stranger.get("/api/v1/messages/?box=sent").json()["results"] == []
    assert stranger.get("/api/v1/notifications/").json()["results"] == []
    conversation = stranger.get(f"/api/v1/conversations/{world['receiver'].pk}/").json()
    assert conversation["results"] == []
    marked = stranger.post(
        "/api/v1/notifications/mark-read/", {"ids": [world["notification"].pk]}, format="json"
    )
    assert marked.json() == {"updated": 0}
    marked = stranger.post(
        "/api/v1/messages/mark-read/", {"ids": [world["message"].pk]}, format="json"
    )
    assert marked.json() == {"updated": 0}


WEB_PAGES = ["/", "/sent/", "/compose/", "/notifications/", "/badge/", "/account/delete/"]
# (method, path, status for the stranger, for the receiver, for the sender)
WEB_OBJECT_ROUTES = [
    ("get", "/messages/{m}/", 404, 200, 200),
    ("get", "/messages/{m}/edit/", 404, 403, 200),
    ("post", "/messages/{m}/reply/", 404, 302, 302),
    ("post", "/notifications/{n}/read/", 404, 302, 404),
]


@pytest.mark.parametrize("path", WEB_PAGES)
def test_pages_send_anonymous_visitors_to_the_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(("method", "path", "stranger", "receiver", "sender"), WEB_OBJECT_ROUTES)
def test_pages_by_who_asks(client, world, method, path, stranger, receiver, sender):
    url = path.format(m=world["message"].pk, n=world["notification"].pk)
    data = {"content": "hello"} if method == "post" else None

    def call(user):
        client.force_login(user)
        return getattr(client, method)(url, data).status_code

    assert call(world["stranger"]) == stranger
    assert call(world["receiver"]) == receiver
    assert call(world["sender"]) == sender


def test_deploy_check_is_clean_with_production_settings():
    result = deploy_check(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "messages.example.com",
            "SECURE_SSL_REDIRECT": "1",
            "SECURE_HSTS_SECONDS": "31536000",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_csrf_is_enforced_on_forms(user, other_user):
    from django.test import Client

    message = MessageFactory(sender=user, receiver=other_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url, data in [
        ("/compose/", {"receiver": other_user.username, "content": "x"}),
        (f"/messages/{message.pk}/reply/", {"content": "x"}),
        ("/account/delete/", {"password": "x"}),
        ("/inbox/read-all/", {}),
    ]:
        assert client.post(url, data).status_code == 403, url


def test_passwords_are_stored_with_argon2_and_older_hashes_upgraded_at_login(settings, client):
    from config import settings as configured

    settings.PASSWORD_HASHERS = configured.PASSWORD_HASHERS
    user = UserFactory()
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save()

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$")


CSP_PAGES = ["/", "/compose/", "/notifications/", "/accounts/login/", "/admin/", "/api/docs/"]


@pytest.mark.parametrize("path", CSP_PAGES)
def test_every_page_has_a_content_security_policy_without_inline_scripts(client, path):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    # Swagger UI styles its elements inline as it renders; only there.
    assert policy["style-src"] == ("'self' 'unsafe-inline'" if path == "/api/docs/" else "'self'")
    assert policy["object-src"] == "'none'"
    assert "<script>" not in response.content.decode()


def test_api_docs_load_swagger_ui_from_our_own_static_files(client):
    client.force_login(UserFactory())
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_the_api_carries_django_csps_own_policy(api):
    from csp.utils import build_policy

    response = api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == build_policy()
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
