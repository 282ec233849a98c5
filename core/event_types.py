"""Live event types, each declared once (Zulip's `event_types.py`).

An event type is a pydantic model with closed fields: its class says the event's name, who
receives it and what its data holds. The publisher builds instances (so a payload that does
not match its declaration fails where it is made), and the API schema, the README's table
and the pages' handlers are checked against `declared()`.

    class MessageEdited(EventType, name="message.edited", to="both people"):
        message: MessageData

    events.publish_typed([(user_id, MessageEdited(message=data))])
"""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

_DECLARED: dict[str, type["EventType"]] = {}


class Payload(BaseModel):
    """A closed part of an event's data: unknown fields are refused, values are final."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EventType(Payload):
    """One declared live event. Subclass with `name=` (the SSE `event:` field) and `to=`
    (who receives it, for the README and the API schema); the docstring says when."""

    event_name: ClassVar[str]
    receivers: ClassVar[str]

    def __init_subclass__(cls, *, name: str, to: str, **kwargs):
        super().__init_subclass__(**kwargs)
        if name in _DECLARED:
            raise TypeError(f"event {name!r} is declared twice")
        cls.event_name, cls.receivers = name, to
        _DECLARED[name] = cls

    def data(self) -> dict:
        """The event's `data:` as JSON-ready values (datetimes as ISO 8601 with "Z")."""
        return self.model_dump(mode="json")


def declared() -> dict[str, type[EventType]]:
    """Every declared event type by name, in declaration order."""
    return dict(_DECLARED)


def validate(name: str, data: dict) -> EventType:
    """The payload `data` of event `name` checked against its declaration (ValidationError,
    or KeyError for an undeclared name)."""
    return _DECLARED[name].model_validate(data)


class StreamReset(EventType, name="stream.reset", to="the stream's client"):
    """Events were missed and cannot be replayed: reload what you show."""

    reason: str
