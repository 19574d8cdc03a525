"""The stored form of a check result, derived from its one declaration, `model.CheckResult`:
one column per field, typed after the field's annotation. The ticks' table, the recorder's
insert and the history's mapping all take their fields from here."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Double, RowMapping, SmallInteger, Text
from sqlalchemy.types import TypeEngine

from statuschecker.model import DEFAULT_LOCATION, CheckResult

_TYPES: dict[type, tuple[TypeEngine[Any], str]] = {
    bool: (Boolean(), "boolean"),
    float: (Double(), "float8"),
    int: (SmallInteger(), "smallint"),  # a status code
    str: (Text(), "text"),
    datetime: (DateTime(timezone=True), "timestamptz"),
}
"""The column type and the PostgreSQL type name of each Python type a result field has."""


def _python_type(annotation: Any) -> type:
    """The type of a field, `X | None` read as X."""
    if isinstance(annotation, types.UnionType):
        (kind,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return kind
    return annotation


FIELD_TYPES: dict[str, type] = {
    field.name: _python_type(typing.get_type_hints(CheckResult)[field.name])
    for field in dataclasses.fields(CheckResult)
}
"""Each field of a check result, in declaration order, with its Python type."""


def columns() -> list[Column[Any]]:
    """The columns of a result (`up` is the one that is never null)."""
    return [
        Column(name, _TYPES[kind][0], nullable=name != "up") for name, kind in FIELD_TYPES.items()
    ]


def sql_type(name: str) -> str:
    """The PostgreSQL type of a result field's column."""
    return _TYPES[FIELD_TYPES[name]][1]


def result_of(row: RowMapping) -> CheckResult:
    """The check result a row of the ticks' table holds."""
    return CheckResult(**{name: row[name] for name in FIELD_TYPES})


def stored_location(location: str) -> str | None:
    """How a tick's location is stored: NULL for the default one (no bytes in the row)."""
    return None if location == DEFAULT_LOCATION else location
