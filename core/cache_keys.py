"""How cache_result turns a call's arguments into a key: each value written with its type, so
that values that differ, even in type alone, never share an entry.

What can be an argument: None, bool, int, float, str, bytes, Decimal, date, datetime, time,
timedelta, UUID, Enum members, paths, lists, tuples, sets, dicts (any keyable keys), frozen
dataclasses (by their fields), classes (by their dotted path), saved model instances (by
model and primary key), and any object with a `cache_key()` method (by what it returns).
Anything else is a TypeError saying so; an unsaved model instance too (it has no identity).
"""

import dataclasses
import datetime
import decimal
import enum
import hashlib
import json
import pathlib
import uuid

from django.db import models


class UnkeyableArgument(TypeError):
    """An argument cache_result cannot build a key from."""


def digest(values) -> str:
    return hashlib.sha256(encode(values).encode()).hexdigest()


def encode(value) -> str:
    """A string that stands for `value` and its type, the same in every process."""
    kind = type(value)
    writer = _WRITERS.get(kind)
    if writer is not None:
        return writer(value)
    return _encode_other(value)


def _sequence(tag: str):
    return lambda value: f"{tag}[{','.join(encode(item) for item in value)}]"


_WRITERS = {
    type(None): lambda value: "N",
    bool: lambda value: "b1" if value else "b0",
    int: lambda value: f"i{value}",
    float: lambda value: f"f{value.hex()}",
    str: lambda value: f"s{json.dumps(value)}",
    bytes: lambda value: f"y{value.hex()}",
    decimal.Decimal: lambda value: f"d{value}",
    datetime.datetime: lambda value: f"dt{value.isoformat()}",
    datetime.date: lambda value: f"da{value.isoformat()}",
    datetime.time: lambda value: f"ti{value.isoformat()}",
    datetime.timedelta: lambda value: f"td{value.days},{value.seconds},{value.microseconds}",
    uuid.UUID: lambda value: f"u{value}",
    list: _sequence("l"),
    tuple: _sequence("t"),
    set: lambda value: f"S[{','.join(sorted(encode(item) for item in value))}]",
    frozenset: lambda value: f"F[{','.join(sorted(encode(item) for item in value))}]",
    dict: lambda value: (
        "m{" + ",".join(sorted(f"{encode(k)}:{encode(v)}" for k, v in value.items())) + "}"
    ),
}


def _path(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _encode_other(value) -> str:
    kind = type(value)
    if isinstance(value, models.Model):
        if value.pk is None:
            raise UnkeyableArgument(
                f"cache_result cannot key an unsaved {value._meta.label} (it has no primary "
                "key yet): save it first, or pass what identifies it"
            )
        return f"M{value._meta.label_lower}:{encode(value.pk)}"
    if isinstance(value, type):
        return f"C{_path(value)}"
    if isinstance(value, enum.Enum):
        return f"e{_path(kind)}:{encode(value.value)}"
    if isinstance(value, pathlib.PurePath):
        return f"p{_path(kind)}:{json.dumps(str(value))}"
    if callable(getattr(value, "cache_key", None)):
        return f"k{_path(kind)}:{encode(value.cache_key())}"
    if dataclasses.is_dataclass(value) and kind.__dataclass_params__.frozen:
        fields = ",".join(
            f"{f.name}={encode(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"D{_path(kind)}({fields})"
    # Subclasses of the plain types (a str or dict subclass): keyed as such, with their type.
    for base, writer in _WRITERS.items():
        if base is not type(None) and isinstance(value, base):
            return f"x{_path(kind)}:{writer(value)}"
    raise UnkeyableArgument(
        f"cache_result cannot build a key from an argument of type {kind.__name__}; pass "
        "plain values, saved model instances or frozen dataclasses, give the type a "
        "cache_key() method, or give the decorator key=..."
    )
