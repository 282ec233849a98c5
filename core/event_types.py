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


class StreamReset(EventType, name="stream.reset", to="a client that came back too late"):
    """Events were missed and cannot be replayed: reload what you show."""

    reason: str


def describe() -> str:
    """The declared events as a Markdown list (the API's description of the stream)."""
    lines = []
    for name, event in _DECLARED.items():
        fields = ", ".join(f"`{field}`" for field in event.model_fields)
        lines.append(f"- `{name}` (to {event.receivers}): {{{fields}}}. {event.__doc__}")
    return "\n".join(lines)


def schema_name(event: type[EventType]) -> str:
    return f"{event.__name__}Event"


def add_to_schema(result, generator, request, public):
    """drf-spectacular postprocessing hook: each declared event's data as a component
    (`<Class>Event`), and the stream's `text/event-stream` response as one of them."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    refs = []
    for event in _DECLARED.values():
        schema = event.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        schema["description"] = f"`event: {event.event_name}`, to {event.receivers}. " + (
            event.__doc__ or ""
        )
        components[schema_name(event)] = schema
        refs.append({"$ref": f"#/components/schemas/{schema_name(event)}"})
    for path, operations in result.get("paths", {}).items():
        if not path.endswith("/events/"):
            continue
        for operation in operations.values():
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            if "text/event-stream" in content:
                content["text/event-stream"]["schema"] = {"oneOf": refs}
    return result
