"""Opaque pagination cursors: the keyset values of the last row, 8 bytes each in unpadded
base64url (11 characters for an id, 22 for a time and an id, 32 for three values)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, tuple_

from statuschecker.errors import InvalidInput
from statuschecker.model import Page

T = TypeVar("T")


_CURSOR = re.compile(r"[A-Za-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_ID = 2**63 - 1
_MIN_MICROS = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_MICROS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def encode(*values: int | datetime) -> str:
    """Pack keyset values into a cursor string: each as 8 bytes (an id as an unsigned
    integer, a time as signed microseconds since 1970), in unpadded base64url."""
    raw = b"".join(
        ((v - _EPOCH) // timedelta(microseconds=1)).to_bytes(8, "big", signed=True)
        if isinstance(v, datetime)
        else v.to_bytes(8, "big")
        for v in values
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, *types: type) -> tuple:
    """Unpack a cursor of `types` (int or datetime); InvalidInput if it has not their shape.

    Every string of the shape (the contract's pattern: base64url characters, 11 per value
    after the first's) is a cursor: its values are clamped to the ids and times there can be,
    so a cursor from another page, service or release still pages somewhere."""
    if len(cursor) != length(len(types)) or not _CURSOR.fullmatch(cursor):
        raise InvalidInput("cursor is not one this API issued")
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    return tuple(_parse(raw[8 * i : 8 * i + 8], kind) for i, kind in enumerate(types))


def length(values: int) -> int:
    """Characters of a cursor holding `values` values."""
    return (32 * values + 2) // 3


def _parse(raw: bytes, kind: type) -> int | datetime:
    if kind is datetime:
        micros = int.from_bytes(raw, "big", signed=True)
        micros = min(max(micros, _MIN_MICROS), _MAX_MICROS)
        return _EPOCH + timedelta(microseconds=micros)
    return min(int.from_bytes(raw, "big"), _MAX_ID)


def page(rows: Sequence[T], limit: int, key: Callable[[T], tuple]) -> Page[T]:
    """Cut `rows` (fetched with limit + 1) to a page whose cursor is `key` of its last item."""
    items = list(rows[:limit])
    return Page(items, encode(*key(items[-1])) if len(rows) > limit else None)


def in_id_order(
    query: Select,
    id_column: ColumnElement,
    *,
    limit: int,
    after: str | None = None,
    descending: bool = False,
) -> Select:
    """`query` in id order (newest first with `descending`), past the cursor `after`, fetching
    one row more than `limit` (for `page`)."""
    query = query.order_by(id_column.desc() if descending else id_column).limit(limit + 1)
    if after is not None:
        (last_id,) = decode(after, int)
        query = query.where(id_column < last_id if descending else id_column > last_id)
    return query


def newest_first(
    query: Select,
    time_column: ColumnElement,
    id_column: ColumnElement,
    *,
    limit: int,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
) -> Select:
    """`query` newest first by (time, id), within [since, until), past the cursor `after`,
    fetching one row more than `limit` (for `page`)."""
    query = query.order_by(time_column.desc(), id_column.desc()).limit(limit + 1)
    if since is not None:
        query = query.where(time_column >= since)
    if until is not None:
        query = query.where(time_column < until)
    if after is not None:
        last_at, last_id = decode(after, datetime, int)
        query = query.where(tuple_(time_column, id_column) < tuple_(last_at, last_id))
    return query
