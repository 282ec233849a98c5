"""A hostile world (issue 14): guessing, spoofed addresses, malformed input, shared caches.
Each test failed before its fix; docs/reliability.md has a row for each."""

import json
import math
import re
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.db import connection as db_connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from accounts import services as account_services
from core.clients import client_address
from devtools.factories import PASSWORD, MessageFactory, UserFactory
from jobs.models import JobRun
from maintenance import cleanup, sweep, tasks
from messaging import services
from messaging.api.views import MessageViewSet
from messaging.models import Message, MessageHistory
from tests import effects
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
User = get_user_model()

TOKEN = "/api/v1/auth/token/"


def statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


def test_the_token_endpoint_is_throttled_per_address():
    client = APIClient()
    tries = [
        client.post(TOKEN, {"username": f"nobody{n}", "password": "guess"}, format="json")
        for n in range(25)
    ]
    assert statuses(tries[:20]) == [400] * 20
    assert 429 in statuses(tries[20:])


def test_one_username_is_throttled_whatever_address_guesses_it(user):
    client = APIClient()
    tries = [
        client.post(
            TOKEN,
            {"username": user.username, "password": f"guess{n}"},
            format="json",
            REMOTE_ADDR=f"10.0.{n}.1",
        )
        for n in range(12)
    ]
    assert statuses(tries[:10]) == [400] * 10
    assert statuses(tries[10:]) == [429, 429]


WEB_LOGINS = ["/accounts/login/", "/admin/login/"]


@pytest.mark.parametrize("path", WEB_LOGINS)
def test_web_logins_are_throttled_per_address_as_the_api_is(client, path):
    tries = [client.post(path, {"username": f"nobody{n}", "password": "guess"}) for n in range(22)]
    assert statuses(tries[:20]) == [200] * 20  # the form again, with its error
    refused = tries[20]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Request was throttled." in refused.content.decode()


@pytest.mark.parametrize("path", WEB_LOGINS)
def test_web_logins_for_one_username_are_throttled_from_any_address(client, user, path):
    tries = [
        client.post(
            path, {"username": user.username, "password": f"guess{n}"}, REMOTE_ADDR=f"10.0.{n}.1"
        )
        for n in range(12)
    ]
    assert statuses(tries[10:]) == [429, 429]


def test_the_api_and_the_web_login_share_their_buckets(client, user):
    api = APIClient()
    for n in range(10):
        api.post(TOKEN, {"username": user.username, "password": f"guess{n}"}, format="json")
    response = client.post("/accounts/login/", {"username": user.username, "password": "x"})
    assert response.status_code == 429


def test_web_sign_ups_are_throttled_per_address(client):
    tries = [
        client.post(
            "/accounts/signup/",
            {"username": f"newbie{n}", "password1": "x", "password2": "y"},
        )
        for n in range(22)
    ]
    assert statuses(tries[:20]) == [200] * 20
    assert statuses(tries[20:]) == [429, 429]


def test_user_search_lists_no_staff_and_needs_three_characters(api):
    UserFactory(username="zeus", is_staff=True)
    UserFactory(username="zeno")
    found = api.get("/api/v1/users/?search=zen").json()["results"]
    assert [u["username"] for u in found] == ["zeno"]
    assert api.get("/api/v1/users/?search=zeu").json()["results"] == []
    for query in ("", "?search=", "?search=z"):
        response = api.get(f"/api/v1/users/{query}")
        assert response.status_code == 400
        assert "search" in response.json()


def test_a_forwarded_for_header_is_not_a_new_client():
    client = APIClient()
    tries = [
        client.post(
            "/api/v1/auth/register/",
            {"username": f"spoof{n}", "password": "a long enough password 1"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
        for n in range(25)
    ]
    assert 429 in statuses(tries)


def test_the_client_address_comes_from_the_configured_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"
    )
    settings.NUM_PROXIES = 0
    assert client_address(request) == "10.0.0.2"
    settings.NUM_PROXIES = 1
    assert client_address(request) == "198.51.100.7"  # what our proxy saw, not the claim


def test_guessing_the_password_of_an_account_deletion_is_locked_out(user, settings):
    api = client_for(user)
    wrong = [
        api.delete("/api/v1/me/", {"password": "guess"}, format="json")
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses(wrong[:-1]) == [400] * (settings.AXES_FAILURE_LIMIT - 1)
    assert wrong[-1].status_code == 429
    assert api.delete("/api/v1/me/", {"password": PASSWORD}, format="json").status_code == 429
    user.refresh_from_db()
    assert user.is_active


def test_password_reset_is_not_exposed(client):
    assert client.get("/accounts/password_reset/").status_code == 404
    assert client.post("/accounts/password_reset/", {"email": "a@example.com"}).status_code == 404


@pytest.mark.parametrize("path", [TOKEN, "/api/v1/auth/register/"])
def test_json_nested_too_deeply_is_a_400(path):
    body = "[" * 5000 + "]" * 5000
    response = APIClient().generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_nul_in_the_user_search_is_a_400(api):
    response = api.get("/api/v1/users/?search=ab%00c")
    assert response.status_code == 400
    assert "search" in response.json()


def multipart(fields: dict, file_name: str) -> bytes:
    """A multipart body as a client may write it (Django's test client would refuse the
    file name)."""
    parts = [
        f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    parts.append(
        f'--B\r\nContent-Disposition: form-data; name="attachment"; filename="{file_name}"\r\n'
        "Content-Type: text/plain\r\n\r\ncontent\r\n--B--\r\n"
    )
    return "".join(parts).encode()


@pytest.mark.parametrize("name", ["..", ".", "a/.."])
def test_an_attachment_without_a_file_name_is_a_400(api, other_user, name):
    body = multipart({"receiver": other_user.pk, "content": "see attached"}, name)
    response = api.generic(
        "POST", "/api/v1/messages/", body, content_type="multipart/form-data; boundary=B"
    )
    assert response.status_code == 400
    assert "not a file name" in response.json()["detail"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1])
def test_ages_must_be_finite_and_not_negative(media_root, bad):
    root = media_root / "tmp"
    root.mkdir(exist_ok=True)
    with pytest.raises(ValueError, match="finite number of 0 or more"):
        cleanup.cleanup_temporary_files(root, bad)
    with pytest.raises(ValueError, match="finite number of 0 or more"):
        sweep.sweep_orphaned_files(min_age_hours=bad)
    with pytest.raises(CommandError, match="finite number of 0 or more"):
        call_command("cleanup_temporary_files", str(root), "--max-age-days", str(bad))
    with pytest.raises(CommandError, match="finite number of 0 or more"):
        call_command("sweep_orphaned_files", "--min-age-hours", str(bad))


def test_a_task_refuses_a_nan_age_before_recording_a_run(media_root):
    with pytest.raises(ValueError, match="plain JSON"):
        tasks.cleanup_temporary_files(str(media_root / "tmp"), math.nan)
    assert not JobRun.objects.exists()


def test_every_per_user_response_is_private(user, other_user, client):
    message = services.message_send(
        sender=user,
        receiver=other_user,
        content="with a file",
        attachment=SimpleUploadedFile("a.txt", b"x"),
    )
    services.message_edit(message=message, editor=user, content="edited")
    api = client_for(user)
    for path in (
        f"/api/v1/messages/{message.pk}/",
        f"/api/v1/messages/{message.pk}/thread/",
        f"/api/v1/messages/{message.pk}/history/",
        f"/api/v1/messages/{message.pk}/attachment/",
        "/api/v1/notifications/",
        "/api/v1/me/",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        assert "private" in response["Cache-Control"], path
        assert "Authorization" in response["Vary"], path
    client.force_login(user)
    for path in ("/badge/", f"/messages/{message.pk}/", "/notifications/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "private" in response["Cache-Control"], path
    assert json.loads(client.get("/badge/").content) == {"messages": 0, "notifications": 0}


def test_anonymous_pages_stay_shareable(client):
    MessageFactory()
    response = client.get("/accounts/signup/")
    assert "private" not in response.get("Cache-Control", "")


def test_edits_survive_a_broker_that_loses_everything(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="v0")
    effects.deliver()
    for n in range(1, 6):
        message = services.message_edit(message=message, editor=user, content=f"v{n}")
    # Redis came back empty: whatever it held is gone; the outbox still has the five edits.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    assert not MessageHistory.objects.exists()
    assert len(effects.recorded("messaging.record_edit")) == 5
    effects.deliver()
    history = message.history.order_by("edited_at").values_list("old_content", flat=True)
    assert list(history) == ["v0", "v1", "v2", "v3", "v4"]


def test_sending_has_a_per_user_rate_limit(api, other_user, settings):
    settings.MESSAGE_SEND_RATE = "3/min"
    body = {"receiver": other_user.pk, "content": "again"}
    sent = [api.post("/api/v1/messages/", body, format="json") for _ in range(4)]
    assert statuses(sent) == [201, 201, 201, 429]
    assert 1 <= int(sent[-1]["Retry-After"]) <= 60
    assert Message.objects.count() == 3


def test_a_long_thread_is_served_in_parts(api, user, other_user, settings):
    chain = [MessageFactory(sender=other_user, receiver=user, content="post 0")]
    for n in range(1, 450):
        chain.append(
            MessageFactory(
                sender=other_user, receiver=user, content=f"post {n}", parent_message=chain[-1]
            )
        )
    first = api.get(f"/api/v1/messages/{chain[-1].pk}/thread/").json()
    assert (first["root"], first["count"], len(first["messages"])) == (chain[0].pk, 450, 200)
    assert first["messages"][0]["content"] == "post 0"
    assert first["previous"] is None
    last = api.get(first["next"].replace("http://testserver", "")).json()
    last = api.get(last["next"].replace("http://testserver", "")).json()
    assert [m["content"] for m in last["messages"]][-1] == "post 449"
    assert len(last["messages"]) == 50
    assert last["next"] is None


def test_a_thread_page_loads_only_the_part_it_shows(api, user, other_user):
    chain = [MessageFactory(sender=other_user, receiver=user, content="x" * 5000)]
    for _ in range(300):
        chain.append(
            MessageFactory(
                sender=other_user, receiver=user, content="x" * 5000, parent_message=chain[-1]
            )
        )
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/messages/{chain[0].pk}/thread/")
    assert response.status_code == 200
    # The whole thread is walked without its contents; the contents of one part are read.
    content_reads = [q["sql"] for q in queries if '"content"' in q["sql"]]
    assert not [sql for sql in content_reads if "RECURSIVE" in sql]
    [part] = [sql for sql in content_reads if " IN (" in sql]
    [ids] = re.findall(r"IN \(([^)]*)\)", part)
    assert len(ids.split(",")) == 200


def test_a_lookalike_username_is_taken():
    client = APIClient()
    password = "a long enough password 1"
    first = client.post("/api/v1/auth/register/", {"username": "alice1", "password": password})
    assert first.status_code == 201
    # ALICE1 and alice1 in fullwidth letters: NFKC makes them ALICE1 and alice1.
    for lookalike in (
        "ALICE1",
        "\uff21\uff2c\uff29\uff23\uff25\uff11",
        "\uff41\uff4c\uff49\uff43\uff451",
    ):
        response = client.post(
            "/api/v1/auth/register/", {"username": lookalike, "password": password}
        )
        assert response.status_code == 400, lookalike
        assert response.json() == {"username": ["This username is taken."]}
    assert User.objects.count() == 1


def register_at_once(names: list[str]) -> list[str]:
    """Register these names from as many threads at once: "created" or the refusal of each."""
    barrier = threading.Barrier(len(names))
    results = []

    def register(name):
        barrier.wait()
        try:
            account_services.user_register(username=name, password="a long enough password 1")
            results.append("created")
        except ValidationError as error:
            results.append(error.message_dict["username"][0])
        finally:
            db_connection.close()

    threads = [threading.Thread(target=register, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_name_make_one_account():
    names = ["bob7", "BOB7", "Bob7", "bOb7", "boB7", "\uff22\uff2f\uff22\uff17"]
    assert register_at_once(names) == ["This username is taken."] * 5 + ["created"]
    assert User.objects.filter(username__iexact="bob7").count() == 1


# Other scripts' letters that read as Latin ones (Cyrillic, Greek, Armenian, digits).
LOOKALIKES = {
    "clarice": ["\u0441larice", "cl\u0430rice", "clar\u03b9ce", "c1arice", "CLAR\u0406CE"],
    "oscar": ["\u043escar", "osc\u0430r", "\u0585scar", "0scar"],
}


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_names_that_read_like_a_taken_one_are_refused_on_every_path(client, name):
    password = "a long enough password 1"
    assert (
        APIClient()
        .post("/api/v1/auth/register/", {"username": name, "password": password})
        .status_code
        == 201
    )
    for lookalike in LOOKALIKES[name]:
        api = APIClient().post(
            "/api/v1/auth/register/", {"username": lookalike, "password": password}
        )
        assert api.status_code == 400, lookalike
        assert api.json() == {"username": ["This username looks like one already taken."]}
        web = client.post(
            "/accounts/signup/",
            {"username": lookalike, "password1": password, "password2": password},
        )
        assert web.status_code == 200, lookalike
        assert "looks like one already taken" in web.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_lookalike_names_make_one_account():
    names = ["victor9", "v\u0456ctor9", "vict\u043er9", "\u03bdictor9"]
    results = register_at_once(names)
    assert results.count("created") == 1
    assert len(results) == 4
    assert User.objects.count() == 1


def test_an_admin_made_account_takes_its_look_too():
    User.objects.create_user("margaret", password="x")
    with pytest.raises(ValidationError):
        account_services.user_register(
            username="m\u0430rgaret", password="a long enough password 1"
        )


class CountingStream:
    def __init__(self, stream):
        self.stream, self.read_bytes = stream, 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.read_bytes += len(data)
        return data

    def readline(self, *args):
        line = self.stream.readline(*args)
        self.read_bytes += len(line)
        return line


def test_an_oversized_upload_is_refused_before_it_is_read(user, other_user):
    big = SimpleUploadedFile("big.bin", b"\0" * (12 * 1024 * 1024))
    request = APIRequestFactory().post(
        "/api/v1/messages/",
        {"receiver": other_user.pk, "content": "big", "attachment": big},
        format="multipart",
    )
    request._stream = stream = CountingStream(request._stream)
    force_authenticate(request, user=user)
    response = MessageViewSet.as_view({"post": "create"})(request)
    assert response.status_code == 413
    assert "larger than 11 MB" in response.data["detail"]
    assert stream.read_bytes < 1024 * 1024
    assert not Message.objects.exists()


def test_api_tokens_expire_and_a_login_issues_a_new_one(user, settings):
    client = APIClient()
    body = {"username": user.username, "password": PASSWORD}
    key = client.post(TOKEN, body, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").status_code == 200
    Token.objects.filter(key=key).update(
        created=timezone.now() - timedelta(days=settings.API_TOKEN_MAX_AGE_DAYS, seconds=1)
    )
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    new = APIClient().post(TOKEN, body, format="json").json()["token"]
    assert new != key
    client.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert client.get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("key", ["0" * 41, "abc\x00def", "'OR'1'='1'--", "ü" * 40])
def test_a_malformed_token_is_a_401(user, key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("Invalid token")


def test_a_token_of_a_deactivated_user_is_refused_at_once(user):
    client = client_for(user)
    assert client.get("/api/v1/me/").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)  # no signal: nothing cached
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "User inactive or deleted."


@pytest.mark.parametrize("receiver", [2**31, 127913891258930, 2**63 - 1])
def test_a_receiver_id_beyond_the_columns_range_is_a_400(api, receiver):
    refused = api.post(
        "/api/v1/messages/", {"receiver": receiver, "content": "seed"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["receiver"] == [f"No active user has the id {receiver}."]
    assert not Message.objects.exists()
