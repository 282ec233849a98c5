"""Delete for everyone (services.message_delete): the sender empties a message; its place,
its replies and an audit row stay; its file and versions go; both people are told."""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from devtools.factories import MessageFactory, UserFactory
from messaging import services
from messaging.models import Conversation, Message, MessageDeletion, MessageHistory, Notification
from tests import effects

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_user(client, user):
    client.force_login(user)
    return client


def test_the_sender_deletes_content_file_and_versions_and_ops_keep_who_and_when(user, other_user):
    message = services.message_send(sender=user, receiver=other_user, content="secret plan")
    message.attachment.save("plan.txt", ContentFile(b"the plan"), save=True)
    name = message.attachment.name
    services.message_edit(message=message, editor=user, content="secret plan v2")
    effects.deliver()
    assert MessageHistory.objects.filter(message=message).count() == 1

    services.message_delete(message=message, deleter=user)

    assert default_storage.exists(name)  # until the deletion runs, after the commit
    effects.deliver()
    assert not default_storage.exists(name)
    stored = Message.objects.get(pk=message.pk)
    assert (stored.content, stored.attachment.name, stored.edited) == ("", "", False)
    assert stored.deleted_at is not None
    assert not MessageHistory.objects.filter(message=message).exists()
    audit = MessageDeletion.objects.get(message_id=message.pk)
    assert (audit.sender_id, audit.receiver_id, audit.had_attachment) == (
        user.pk,
        other_user.pk,
        True,
    )
    assert audit.versions_deleted == 1
    assert "secret" not in json.dumps([str(v) for v in vars(audit).values()])
    for person in (user, other_user):
        assert (
            "message.deleted",
            {"id": message.pk, "sender": user.pk, "receiver": other_user.pk},
        ) in effects.published_events(person.pk)


def test_an_unread_deleted_message_leaves_no_count_behind(user, other_user):
    message = services.message_send(sender=other_user, receiver=user, content="oops")
    effects.deliver()
    assert Conversation.objects.get(owner=user, other=other_user).unread == 1

    services.message_delete(message=message, deleter=other_user)

    assert Conversation.objects.get(owner=user, other=other_user).unread == 0
    assert not Notification.objects.filter(user=user, read=False).exists()
    assert Message.unread_messages.filter(receiver=user).count() == 0


def test_replies_stay_under_the_placeholder_and_it_takes_no_new_ones(web_user, user, other_user):
    root = services.message_send(sender=user, receiver=other_user, content="question")
    reply = services.message_send(
        sender=other_user, receiver=user, content="answer", parent_message=root
    )
    services.message_delete(message=root, deleter=user)

    html = web_user.get(f"/people/{other_user.pk}/").content.decode()
    assert "question" not in html
    assert html.count("Message deleted") == 2  # its place, and the reply's quote of it
    assert Message.objects.get(pk=reply.pk).parent_message_id == root.pk

    refused = web_user.post(
        f"/people/{other_user.pk}/send/",
        {"content": "more", "parent": root.pk},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert refused.status_code == 400
    assert "deleted" in refused.json()["detail"]


def test_the_api_deletes_for_the_sender_only(api, user, other_user):
    mine = MessageFactory(sender=user, receiver=other_user, content="mine")
    theirs = MessageFactory(sender=other_user, receiver=user, content="theirs")
    strangers = MessageFactory(content="not ours")

    assert api.delete(f"/api/v1/messages/{theirs.pk}/").status_code == 403
    assert api.delete(f"/api/v1/messages/{strangers.pk}/").status_code == 404
    assert api.delete(f"/api/v1/messages/{mine.pk}/").status_code == 204
    assert api.delete(f"/api/v1/messages/{mine.pk}/").status_code == 204  # again: nothing

    shown = api.get(f"/api/v1/messages/{mine.pk}/").json()
    assert shown["content"] == ""
    assert shown["deleted_at"] is not None
    edit = api.patch(f"/api/v1/messages/{mine.pk}/", {"content": "back"}, format="json")
    assert edit.status_code == 400
    assert Message.objects.get(pk=theirs.pk).content == "theirs"
    assert MessageDeletion.objects.count() == 1


def test_the_page_asks_first_and_a_script_gets_a_204(web_user, user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="to go")
    theirs = MessageFactory(sender=other_user, receiver=user, content="stays")

    asked = web_user.get(f"/messages/{message.pk}/delete/")
    assert asked.status_code == 200
    assert "Delete for everyone" in asked.content.decode()
    assert Message.objects.get(pk=message.pk).deleted_at is None

    assert web_user.post(f"/messages/{theirs.pk}/delete/").status_code == 403
    done = web_user.post(f"/messages/{message.pk}/delete/", HTTP_X_REQUESTED_WITH="fetch")
    assert done.status_code == 204
    assert Message.objects.get(pk=message.pk).deleted_at is not None
    # A page left open on its edit form finds it gone.
    edit = web_user.get(f"/messages/{message.pk}/edit/")
    assert edit.status_code == 302


def test_a_version_arriving_after_the_delete_is_not_written(user, other_user):
    message = services.message_send(sender=user, receiver=other_user, content="one")
    services.message_edit(message=message, editor=user, content="two")  # version pending
    services.message_delete(message=message, deleter=user)
    effects.deliver()
    assert not MessageHistory.objects.filter(message=message).exists()


def test_a_stranger_cannot_delete_through_the_service(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user)
    with pytest.raises(services.PermissionDenied):
        services.message_delete(message=message, deleter=UserFactory())
