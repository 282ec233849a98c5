import pytest
from rest_framework.test import APIClient

from accounts.models import AccountDeletion
from devtools.factories import PASSWORD, MessageFactory
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_register_then_get_a_token_then_me():
    anonymous = APIClient()
    response = anonymous.post(
        "/api/v1/auth/register/", {"username": "carol", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["username"] == "carol"

    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "carol", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]

    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = anonymous.get("/api/v1/me/").json()
    assert me == {"id": me["id"], "username": "carol", "email": "", "unread_count": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "dave", "password": "123"}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "dave", "password": PASSWORD, "email": "nope"}, "email"),
    ],
)
def test_register_rejects_bad_input_field_by_field(body, field):
    response = APIClient().post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_register_rejects_a_taken_username(user):
    response = APIClient().post(
        "/api/v1/auth/register/",
        {"username": user.username.upper(), "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 400
    assert "taken" in response.json()["username"][0]


def test_token_with_a_wrong_password_is_refused(user):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400


def test_me_counts_unread_messages(api, user):
    MessageFactory.create_batch(3, receiver=user)
    MessageFactory(receiver=user, read=True)
    assert api.get("/api/v1/me/").json()["unread_count"] == 3


def test_anonymous_requests_get_401():
    assert APIClient().get("/api/v1/me/").status_code == 401


def test_delete_me_with_a_wrong_password_is_400_and_changes_nothing(api, user):
    response = api.delete("/api/v1/me/", {"password": "wrong"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    user.refresh_from_db()
    assert user.is_active


def test_delete_me_without_a_password_is_400(api):
    response = api.delete("/api/v1/me/", {}, format="json")
    assert response.status_code == 400


def log_in(client, user) -> bool:
    """Log in through the login page, as a browser would."""
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    return "_auth_user_id" in client.session


def test_delete_me_locks_out_the_token_and_the_session(user):
    session = APIClient()
    assert log_in(session, user)
    api = client_for(user)
    response = api.delete("/api/v1/me/", {"password": PASSWORD}, format="json")
    assert response.status_code == 202
    assert api.get("/api/v1/me/").status_code == 401
    assert session.get("/api/v1/me/").status_code in (401, 403)
    assert not log_in(APIClient(), user)
    assert AccountDeletion.objects.filter(user=user).exists()


def test_malformed_json_is_400(api):
    response = api.generic(
        "POST", "/api/v1/messages/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_token_endpoint_locks_out_after_repeated_failures(user, settings):
    client = APIClient()

    def attempt(password):
        body = {"username": user.username, "password": password}
        return client.post("/api/v1/auth/token/", body, format="json").status_code

    assert [attempt("guess") for _ in range(settings.AXES_FAILURE_LIMIT - 1)] == [400] * (
        settings.AXES_FAILURE_LIMIT - 1
    )
    assert attempt("guess") == 429  # the failure that reaches the limit
    assert attempt(PASSWORD) == 429  # even the right password, until the cool-off


def test_login_page_locks_out_after_repeated_failures(client, user, settings):
    def attempt(password):
        body = {"username": user.username, "password": password}
        return client.post("/accounts/login/", body).status_code

    assert [attempt("x") for _ in range(settings.AXES_FAILURE_LIMIT - 1)] == [200] * (
        settings.AXES_FAILURE_LIMIT - 1
    )
    assert attempt("x") == 429
    assert attempt(PASSWORD) == 429
    assert "_auth_user_id" not in client.session
