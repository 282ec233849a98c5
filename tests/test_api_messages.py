"""The messages, notifications, conversations and users endpoints."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework import serializers as drf_serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from devtools.factories import MessageFactory, UserFactory
from messaging import services
from messaging.api.serializers import ThreadMessageSerializer
from messaging.models import Message, MessageHistory, Notification
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

MESSAGE_KEYS = {
    "id",
    "sender",
    "receiver",
    "content",
    "timestamp",
    "edited",
    "edited_at",
    "read",
    "parent_message",
    "attachment",
    "attachment_name",
    "attachment_size",
    "attachment_type",
    "thumbnail",
    "deleted_at",
}


def test_inbox_is_paginated_newest_first_and_only_mine(api, user, other_user):
    older, newer = MessageFactory.create_batch(2, sender=other_user, receiver=user)
    MessageFactory(sender=other_user, receiver=UserFactory())
    body = api.get("/api/v1/messages/").json()
    assert set(body) >= {"results", "next", "previous"}
    assert [m["id"] for m in body["results"]] == [newer.pk, older.pk]
    assert set(body["results"][0]) == MESSAGE_KEYS
    assert body["results"][0]["sender"] == other_user.pk


def test_sent_box_and_unread_filter(api, user, other_user):
    sent = MessageFactory(sender=user, receiver=other_user)
    unread = MessageFactory(sender=other_user, receiver=user)
    MessageFactory(sender=other_user, receiver=user, read=True)
    assert [m["id"] for m in api.get("/api/v1/messages/?box=sent").json()["results"]] == [sent.pk]
    got = api.get("/api/v1/messages/?unread=true").json()["results"]
    assert [m["id"] for m in got] == [unread.pk]
    assert api.get("/api/v1/messages/?box=drafts").status_code == 400


def test_inbox_query_count_does_not_grow(api, user, other_user, django_assert_max_num_queries):
    MessageFactory.create_batch(5, sender=other_user, receiver=user)
    with django_assert_max_num_queries(4) as few:
        api.get("/api/v1/messages/")
    MessageFactory.create_batch(50, sender=UserFactory(), receiver=user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        api.get("/api/v1/messages/?page=2")


def test_send_is_201_with_the_message(api, user, other_user):
    response = api.post(
        "/api/v1/messages/", {"receiver": other_user.pk, "content": "hello"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_KEYS
    assert (body["sender"], body["receiver"], body["content"]) == (user.pk, other_user.pk, "hello")
    assert body["attachment"] is None


def test_send_with_an_attachment_serves_it_to_the_two_people_only(api, user, other_user):
    upload = SimpleUploadedFile("plan.txt", b"the plan", content_type="text/plain")
    response = api.post(
        "/api/v1/messages/",
        {"receiver": other_user.pk, "content": "see file", "attachment": upload},
        format="multipart",
    )
    assert response.status_code == 201
    url = response.json()["attachment"]
    assert url.endswith(f"/api/v1/messages/{response.json()['id']}/attachment/")
    path = url.split("testserver", 1)[1]
    assert b"".join(client_for(other_user).get(path).streaming_content) == b"the plan"
    assert client_for(UserFactory()).get(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"content": "no receiver"}, "receiver", "required"),
        ({"receiver": 999999, "content": "x"}, "receiver", "No active user"),
        ({"receiver": "abc", "content": "x"}, "receiver", "valid integer"),
        ({"receiver": 2**64, "content": "x"}, "receiver", "less than or equal"),
        ({"receiver": None, "content": ""}, "content", "must not be empty"),
        ({"receiver": None, "content": "   "}, "content", "must not be empty"),
        ({"receiver": None, "content": "x" * 10_001}, "content", "10000"),
        ({"receiver": None, "content": "x", "parent_message": 999999}, "parent_message", "No"),
    ],
)
def test_bad_send_is_400_with_a_message_per_field(api, other_user, body, field, text):
    if "receiver" in body and body["receiver"] is None:
        body["receiver"] = other_user.pk
    response = api.post("/api/v1/messages/", body, format="json")
    assert response.status_code == 400
    assert text in str(response.json()[field])
    assert not Message.objects.exists()


def test_send_to_an_inactive_user_is_400(api):
    ghost = UserFactory(is_active=False)
    response = api.post("/api/v1/messages/", {"receiver": ghost.pk, "content": "x"}, format="json")
    assert response.status_code == 400
    assert "receiver" in response.json()


def test_attachment_over_10_mb_is_400(api, other_user):
    big = SimpleUploadedFile("big.pdf", b"\0" * (10 * 1024 * 1024 + 1))
    response = api.post(
        "/api/v1/messages/",
        {"receiver": other_user.pk, "content": "big", "attachment": big},
        format="multipart",
    )
    assert response.status_code == 400
    assert "10 MB" in response.json()["attachment"][0]


def test_reply_outside_my_threads_is_400(api, user, other_user):
    strangers = MessageFactory()
    response = api.post(
        "/api/v1/messages/",
        {"receiver": other_user.pk, "content": "x", "parent_message": strangers.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "parent_message" in response.json()


def test_reply_to_a_third_person_is_400(api, user, other_user):
    root = MessageFactory(sender=other_user, receiver=user)
    third = UserFactory()
    response = api.post(
        "/api/v1/messages/",
        {"receiver": third.pk, "content": "x", "parent_message": root.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "other person" in response.json()["parent_message"][0]


def test_message_detail_is_404_for_anybody_else(api, user, other_user):
    mine = MessageFactory(sender=other_user, receiver=user)
    assert api.get(f"/api/v1/messages/{mine.pk}/").json()["id"] == mine.pk
    assert client_for(UserFactory()).get(f"/api/v1/messages/{mine.pk}/").status_code == 404


def test_edit_by_the_sender_marks_edited(api, user, other_user, django_capture_on_commit_callbacks):
    message = MessageFactory(sender=user, receiver=other_user, content="first")
    with django_capture_on_commit_callbacks(execute=False):
        response = api.patch(
            f"/api/v1/messages/{message.pk}/", {"content": "second"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["edited"] is True
    assert response.json()["content"] == "second"


def test_edit_by_the_receiver_is_403_and_by_a_stranger_404(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="first")
    url = f"/api/v1/messages/{message.pk}/"
    assert client_for(other_user).patch(url, {"content": "x"}, format="json").status_code == 403
    assert client_for(UserFactory()).patch(url, {"content": "x"}, format="json").status_code == 404
    assert Message.objects.get(pk=message.pk).content == "first"


def test_edit_with_blank_content_is_400(api, user):
    message = MessageFactory(sender=user)
    response = api.patch(f"/api/v1/messages/{message.pk}/", {"content": " "}, format="json")
    assert response.status_code == 400
    assert "content" in response.json()


def test_history_lists_previous_versions_oldest_first(api, user, other_user):
    message = MessageFactory(sender=user, receiver=other_user)
    for i, old in enumerate(["v1", "v2"]):
        MessageHistory.objects.create(
            message=message, old_content=old, edited_at=message.timestamp.replace(second=i)
        )
    body = api.get(f"/api/v1/messages/{message.pk}/history/").json()
    assert [v["old_content"] for v in body["results"]] == ["v1", "v2"]


def test_thread_endpoint_returns_root_and_depths(api, user, other_user):
    root = MessageFactory(sender=other_user, receiver=user)
    reply = MessageFactory(sender=user, receiver=other_user, parent_message=root)
    body = api.get(f"/api/v1/messages/{reply.pk}/thread/").json()
    assert body["root"] == root.pk
    assert [(m["id"], m["depth"]) for m in body["messages"]] == [(root.pk, 0), (reply.pk, 1)]


def test_unread_count_and_mark_read(api, user, other_user):
    messages = MessageFactory.create_batch(3, sender=other_user, receiver=user)
    assert api.get("/api/v1/messages/unread-count/").json() == {"count": 3}
    body = api.post("/api/v1/messages/mark-read/", {"ids": [messages[0].pk]}, format="json")
    assert body.json() == {"updated": 1}
    assert api.post("/api/v1/messages/mark-read/", {}, format="json").json() == {"updated": 2}
    assert api.get("/api/v1/messages/unread-count/").json() == {"count": 0}


def test_mark_read_with_bad_ids_is_400(api):
    response = api.post("/api/v1/messages/mark-read/", {"ids": ["x"]}, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()


def test_conversation_lists_threads_with_that_user(api, user, other_user):
    root = MessageFactory(sender=user, receiver=other_user)
    reply = MessageFactory(sender=other_user, receiver=user, parent_message=root)
    MessageFactory(sender=user)
    body = api.get(f"/api/v1/conversations/{other_user.pk}/").json()
    assert [t["root"] for t in body["results"]] == [root.pk]
    assert [m["id"] for m in body["results"][0]["messages"]] == [root.pk, reply.pk]
    assert api.get("/api/v1/conversations/999999/").status_code == 404


def test_notifications_list_and_mark_read(api, user, other_user):
    first, second = MessageFactory.create_batch(2, sender=other_user, receiver=user)
    for message in (first, second):
        services.notifications_create(message_ids=[message.pk])
    services.notifications_create(message_ids=[MessageFactory().pk])
    body = api.get("/api/v1/notifications/").json()
    assert [n["message"] for n in body["results"]] == [second.pk, first.pk]
    assert body["results"][0]["sender_username"] == other_user.username
    mark = api.post("/api/v1/notifications/mark-read/", {"ids": [body["results"][0]["id"]]})
    assert mark.json() == {"updated": 1}
    unread = api.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [n["message"] for n in unread] == [first.pk]
    assert Notification.objects.filter(read=True).count() == 1


def test_user_search_finds_active_users_by_name(api, user):
    UserFactory(username="zelda")
    UserFactory(username="zelma", is_active=False)
    body = api.get("/api/v1/users/?search=zel").json()
    assert [u["username"] for u in body["results"]] == ["zelda"]


def test_schema_describes_every_endpoint(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/messages/",
        "/api/v1/messages/{id}/",
        "/api/v1/messages/{id}/history/",
        "/api/v1/messages/{id}/thread/",
        "/api/v1/messages/{id}/attachment/",
        "/api/v1/messages/unread-count/",
        "/api/v1/messages/mark-read/",
        "/api/v1/conversations/",
        "/api/v1/conversations/{user_id}/",
        "/api/v1/notifications/",
        "/api/v1/notifications/mark-read/",
        "/api/v1/users/",
    } <= paths
    assert api.get("/api/docs/").status_code == 200


def test_message_representation_is_what_drf_would_build_from_the_declared_fields(
    user, other_user, media_root
):
    root = services.message_send(
        sender=user,
        receiver=other_user,
        content="with a file",
        attachment=SimpleUploadedFile("a.txt", b"x"),
    )
    reply = services.message_send(
        sender=other_user, receiver=user, content="reply", parent_message=root
    )
    services.message_edit(message=reply, editor=other_user, content="reply, edited")
    request = Request(APIRequestFactory().get("/", SERVER_NAME="localhost"))
    serializer = ThreadMessageSerializer(context={"request": request})

    thread = Message.objects.thread(root.pk)

    assert [m.edited for m in thread] == [False, True]
    for message in thread:
        generic = drf_serializers.Serializer.to_representation(serializer, message)
        assert serializer.to_representation(message) == generic


def test_the_api_root_lists_every_resource_and_each_answers(client, api):
    listed = client.get("/api/v1/").json()
    assert {"messages", "conversations", "notifications", "users", "me", "token"} <= set(listed)
    for name, url in listed.items():
        assert url.startswith("http://testserver/"), name
        if name not in ("events", "register", "token"):  # a stream; POST-only ones
            path = url.removeprefix("http://testserver")
            assert api.get(path, {"search": "abc"} if name == "users" else {}).status_code == 200, (
                name
            )
