"""Wire formats: how records travel as JSON between stages and in table changelogs, by one rule.

A record is a JSON list of its fields in declaration order (:class:`Row`): compact, and quick to
build and unpack. A state whose fields are mostly unset is a JSON object of the fields not at their
default (:class:`Sparse`). A format changes only by appending a field with a default (rows) or by
adding a field with a default (objects), so what an earlier version wrote, with fewer fields, reads
with the defaults for what it lacks: a row's length is its version. Nothing else reads or writes
the JSON of these records.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, fields
from operator import attrgetter
from typing import Any, Generic, TypeVar

T = TypeVar("T")
#: Turns a field's value into its JSON form, or back.
Convert = Callable[[Any], Any]
_NONE: Mapping[str, Convert] = {}


class Row(Generic[T]):
    """A dataclass as a list of its fields.

    ``optional`` fields end the row and are left out while at their default, so a row is no longer
    than it must be (and no longer than rows written before those fields existed).
    """

    def __init__(
        self,
        cls: type[T],
        *,
        encode: Mapping[str, Convert] = _NONE,
        decode: Mapping[str, Convert] = _NONE,
        optional: Collection[str] = (),
    ) -> None:
        declared = fields(cls)  # type: ignore[arg-type]
        names = [f.name for f in declared]
        if list(optional) != names[len(names) - len(optional) :]:
            raise ValueError(f"optional fields of {cls.__name__} must end the row: {list(optional)}")
        self._cls = cls
        self._get = attrgetter(*names)
        self._encoders = [(i, encode[name]) for i, name in enumerate(names) if name in encode]
        self._decoders = [(i, decode[name]) for i, name in enumerate(names) if name in decode]
        self._least = len(names) - len(optional)
        self._defaults = [f.default for f in declared]

    def to_wire(self, record: T) -> list[Any]:
        values = list(self._get(record))
        length = len(values)
        while length > self._least and values[length - 1] == self._defaults[length - 1]:
            length -= 1
        row = values[:length]
        for i, encode in self._encoders:
            if i < length:
                row[i] = encode(row[i])
        return row

    def from_wire(self, row: list[Any]) -> T:
        if self._decoders:
            row = list(row)
            for i, decode in self._decoders:
                if i < len(row):
                    row[i] = decode(row[i])
        return self._cls(*row)


class Sparse(Generic[T]):
    """A dataclass as a JSON object of its fields that are not at their default."""

    def __init__(self, cls: type[T], *, decode: Mapping[str, Convert] = _NONE) -> None:
        self._cls = cls
        self._fields = [(f.name, f.default) for f in fields(cls)]  # type: ignore[arg-type]
        self._decode = decode

    def to_wire(self, record: T) -> dict[str, Any]:
        wire = {}
        for name, default in self._fields:
            value = getattr(record, name)
            if default is MISSING or value != default:
                wire[name] = value
        return wire

    def from_wire(self, data: Mapping[str, Any]) -> T:
        decode = self._decode
        return self._cls(**{name: decode[name](value) if name in decode else value for name, value in data.items()})
