"""Each live event is declared once (core.event_types, messaging.events): the README's table,
the API schema, the pages' handlers and every payload published agree with it."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pydantic import ValidationError

from accounts import services as account_services
from core import event_types
from devtools.factories import PASSWORD, MessageFactory, UserFactory
from messaging import events, services
from tests import effects
from tests.servers import ROOT

DECLARED = event_types.declared()


def readme_table() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("## Live events", 1)[1]
    rows = re.findall(r"^\| `([a-z.]+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    return {name: to.strip() for name, to in rows}


def test_every_declared_event_is_in_the_readme_table_and_nothing_else():
    assert readme_table() == {name: event.receivers for name, event in DECLARED.items()}


def test_the_pages_handle_every_declared_event():
    script = (ROOT / "messaging/static/messaging/live.js").read_text()
    handlers = set(re.findall(r'^\s+"([a-z.]+)": \(\w*\) =>', script, flags=re.MULTILINE))
    assert handlers == set(DECLARED)


def test_the_api_schema_describes_every_event(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    stream = schema["paths"]["/api/v1/events/"]["get"]["responses"]["200"]["content"]
    refs = {ref["$ref"].rsplit("/", 1)[1] for ref in stream["text/event-stream"]["schema"]["oneOf"]}
    assert refs == {event_types.schema_name(event) for event in DECLARED.values()}
    received = components["MessageReceivedEvent"]
    assert set(received["properties"]) == {"message", "unread"}
    assert received["additionalProperties"] is False
    for name in DECLARED:
        assert f"`{name}`" in schema["paths"]["/api/v1/events/"]["get"]["description"]


def test_a_payload_with_an_unknown_or_missing_field_is_refused():
    good = {"unread": {"messages": 1, "notifications": 0}}
    assert event_types.validate("unread.changed", good).unread.messages == 1
    with pytest.raises(ValidationError):
        event_types.validate("unread.changed", {**good, "secret": "x"})
    with pytest.raises(ValidationError):
        event_types.validate("unread.changed", {})
    with pytest.raises(ValidationError):
        events.Unread(messages="many", notifications=0)


@pytest.mark.django_db
def test_every_event_the_writes_publish_matches_its_declaration(user, other_user):
    root = services.message_send(sender=user, receiver=other_user, content="hello")
    services.message_send(sender=other_user, receiver=user, content="re", parent_message=root)
    services.message_edit(message=root, editor=user, content="hello again")
    picture = io.BytesIO()
    Image.new("RGB", (40, 30)).save(picture, "PNG")
    services.message_send(
        sender=user,
        receiver=other_user,
        content="",
        attachment=SimpleUploadedFile("p.png", picture.getvalue()),
    )
    services.messages_mark_read(user=other_user)
    effects.deliver()  # the edit's version is written before the message goes
    services.message_delete(message=root, deleter=user)
    gone = UserFactory()
    gone.set_password(PASSWORD)
    gone.save()
    MessageFactory(sender=gone, receiver=user)
    effects.deliver()
    account_services.account_delete(user=gone, password=PASSWORD)
    effects.deliver()

    seen = effects.published_events(user.pk) + effects.published_events(other_user.pk)
    for name, data in seen:
        event_types.validate(name, data)
    names = {name for name, _ in seen}
    assert names == set(DECLARED) - {"stream.reset"}
