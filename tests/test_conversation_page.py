"""A conversation's page as a chat, through Django's test client: its order, its parts,
its composer's answers. What a browser does with them is in tests/test_chat.py."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from devtools.factories import MessageFactory, UserFactory
from messaging import selectors
from messaging.models import Message

pytestmark = pytest.mark.django_db

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture
def web(client, user):
    client.force_login(user)
    return client


def shown_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="msg[^"]*" id="m(\d+)"', html)]


def exchange(user, other, count: int) -> list[Message]:
    """`count` messages, alternating, a minute apart, the oldest first."""
    start = timezone.now() - timedelta(minutes=count)
    return [
        MessageFactory(
            sender=(user, other)[n % 2],
            receiver=(other, user)[n % 2],
            content=f"line {n}",
            timestamp=start + timedelta(minutes=n),
        )
        for n in range(count)
    ]


def test_the_newest_part_shows_oldest_first_with_a_link_to_older(
    web, user, other_user, monkeypatch
):
    monkeypatch.setattr(selectors, "CONVERSATION_PART_SIZE", 4)
    sent = exchange(user, other_user, 10)
    MessageFactory(sender=other_user, receiver=UserFactory(), content="someone else's")

    html = web.get(f"/people/{other_user.pk}/").content.decode()

    assert shown_ids(html) == [m.pk for m in sent[6:]]
    assert f'href="?before={sent[6].pk}"' in html
    assert "someone else&#x27;s" not in html
    assert "someone else's" not in html


def test_older_and_newer_parts_come_as_rows_alone(web, user, other_user, monkeypatch):
    monkeypatch.setattr(selectors, "CONVERSATION_PART_SIZE", 4)
    sent = exchange(user, other_user, 10)
    url = f"/people/{other_user.pk}/"

    older = web.get(url, {"before": sent[6].pk}, **FETCH)
    assert shown_ids(older.content.decode()) == [m.pk for m in sent[2:6]]
    assert older["X-More-Messages"] == "1"
    assert "<html" not in older.content.decode()
    oldest = web.get(url, {"before": sent[2].pk}, **FETCH)
    assert shown_ids(oldest.content.decode()) == [sent[0].pk, sent[1].pk]
    assert oldest["X-More-Messages"] == "0"
    newer = web.get(url, {"after": sent[7].pk}, **FETCH)
    assert shown_ids(newer.content.decode()) == [sent[8].pk, sent[9].pk]
    # Without the script, an older part is a whole page.
    assert "<html" in web.get(url, {"before": sent[6].pk}).content.decode()


def test_a_part_costs_the_same_queries_however_long_the_conversation(
    web, user, other_user, django_assert_max_num_queries
):
    exchange(user, other_user, 30)
    reply = MessageFactory(sender=other_user, receiver=user, parent_message=Message.objects.first())
    # session, user, the other person, the part, its quoted parents, the unread count,
    # the header's badge
    with django_assert_max_num_queries(8):
        html = web.get(f"/people/{other_user.pk}/").content.decode()
    assert shown_ids(html)[-1] == reply.pk
    assert 'class="quote"' in html


def test_an_anchor_outside_the_conversation_is_a_400(web, user, other_user):
    strangers = MessageFactory()
    url = f"/people/{other_user.pk}/"
    assert web.get(url, {"before": strangers.pk}, **FETCH).status_code == 400
    assert web.get(url, {"after": "x"}, **FETCH).status_code == 400
    assert web.get(url, {"id": 2**70}, **FETCH).status_code == 400


def test_the_divider_stands_above_the_first_unread_and_showing_reads_nothing(web, user, other_user):
    read = MessageFactory(sender=other_user, receiver=user, content="seen", read=True)
    first = MessageFactory(sender=other_user, receiver=user, content="new one")
    MessageFactory(sender=other_user, receiver=user, content="new two")

    html = web.get(f"/people/{other_user.pk}/").content.decode()

    assert html.index(f'id="m{read.pk}"') < html.index('id="unread-divider"')
    assert html.index('id="unread-divider"') < html.index(f'id="m{first.pk}"')
    assert html.count("data-unread>") == 2
    assert Message.objects.filter(read=False).count() == 2


def test_consecutive_messages_of_one_sender_are_grouped(web, user, other_user):
    now = timezone.now()
    a = MessageFactory(sender=other_user, receiver=user, timestamp=now - timedelta(minutes=20))
    b = MessageFactory(sender=other_user, receiver=user, timestamp=now - timedelta(minutes=19))
    c = MessageFactory(sender=other_user, receiver=user, timestamp=now - timedelta(minutes=2))
    d = MessageFactory(sender=user, receiver=other_user, timestamp=now - timedelta(minutes=1))
    html = web.get(f"/people/{other_user.pk}/").content.decode()
    by_id = {int(i): c.split() for c, i in re.findall(r'<li class="(msg[^"]*)" id="m(\d+)"', html)}
    assert ["cont" in by_id[m.pk] for m in (a, b, c, d)] == [False, True, False, False]


def test_the_composer_answers_a_script_with_the_new_row(web, user, other_user):
    parent = MessageFactory(sender=other_user, receiver=user, content="lunch?")
    response = web.post(
        f"/people/{other_user.pk}/send/", {"content": "yes\nat one", "parent": parent.pk}, **FETCH
    )
    assert response.status_code == 201
    message = Message.objects.get(sender=user)
    assert (message.receiver, message.parent_message, message.content) == (
        other_user,
        parent,
        "yes\nat one",
    )
    html = response.content.decode()
    assert shown_ids(html) == [message.pk]
    assert "yes<br>at one" in html
    assert "lunch?" in html


def test_the_composer_refuses_clearly(web, user, other_user, settings):
    url = f"/people/{other_user.pk}/send/"
    empty = web.post(url, {"content": "  "}, **FETCH)
    assert empty.status_code == 400
    assert empty.json()["detail"] == "Write something first, or attach a file."
    strangers = MessageFactory()
    elsewhere = web.post(url, {"content": "hi", "parent": strangers.pk}, **FETCH)
    assert elsewhere.status_code == 400
    assert "not in this conversation" in elsewhere.json()["detail"]
    settings.MESSAGE_SEND_RATE = "1/min"
    assert web.post(url, {"content": "one"}, **FETCH).status_code == 201
    limited = web.post(url, {"content": "two"}, **FETCH)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many messages" in limited.json()["detail"]
    assert list(Message.objects.filter(sender=user).values_list("content", flat=True)) == ["one"]


def test_without_a_script_the_composer_comes_back_with_the_text_kept(
    web, user, other_user, settings
):
    url = f"/people/{other_user.pk}/send/"
    sent = web.post(url, {"content": "plain post"})
    message = Message.objects.get(sender=user)
    assert sent.status_code == 302
    assert sent["Location"] == f"/people/{other_user.pk}/#m{message.pk}"
    settings.MESSAGE_SEND_RATE = "1/min"
    refused = web.post(url, {"content": "kept <text>"})
    assert refused.status_code == 429
    assert "kept &lt;text&gt;</textarea>" in refused.content.decode()


def test_nobody_reads_or_writes_in_a_conversation_that_is_not_theirs(web, user):
    staff = UserFactory(is_staff=True)
    assert web.get(f"/people/{staff.pk}/").status_code == 404
    assert web.post(f"/people/{staff.pk}/send/", {"content": "hi"}).status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_rows_write_times_as_the_language_writes_them(language):
    from django.utils import translation
    from django.utils.formats import date_format

    from messaging.chat_rows import clock

    with translation.override(language):
        write = clock()
        for month in range(1, 13):
            at = datetime(2026, month, 5, 9, 3, tzinfo=UTC)
            assert write(at) == f"{date_format(at, 'SHORT_DATETIME_FORMAT')} UTC"
