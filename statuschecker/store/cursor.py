"""Opaque pagination cursors: the keyset values of the last row, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, tuple_

from statuschecker.errors import InvalidInput
from statuschecker.model import Page

T = TypeVar("T")


def encode(*values: int | datetime) -> str:
    """Pack keyset values into a cursor string."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode(cursor: str, *types: type) -> tuple:
    """Unpack a cursor made by `encode` with values of `types`; InvalidInput if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        return tuple(_parse(value, kind) for value, kind in zip(values, types, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not one this API issued") from exc


def _parse(value: object, kind: type) -> int | datetime:
    if kind is datetime and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 2**63:
            raise ValueError("out of range")
        return value
    raise ValueError(f"expected {kind.__name__}")


def page(rows: Sequence[T], limit: int, key: Callable[[T], tuple]) -> Page[T]:
    """Cut `rows` (fetched with limit + 1) to a page whose cursor is `key` of its last item."""
    items = list(rows[:limit])
    return Page(items, encode(*key(items[-1])) if len(rows) > limit else None)


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
