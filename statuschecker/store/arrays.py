"""Columns of values sent as one PostgreSQL array parameter, for set-based writes
(`unnest(CAST(:param AS type[]))`).

psycopg dumps a plain list as an array literal in text, quoting element by element in Python;
a `Column` is dumped in binary instead (the element dumpers are psycopg's compiled ones),
several times cheaper for the hundreds of values of a batch. The statement casts each array to
the column's type, so the element type psycopg picks (int2 for small ints, text for all-NULL
lists, ...) does not matter; numbers that may mix ints and floats go through `floats`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.array import ListBinaryDumper


class Column(list[Any]):
    """A list psycopg sends as a binary array."""


# Only this class is affected; connections made before this import still dump it (as a list)
# in text, which is slower but the same value.
psycopg.adapters.register_dumper(Column, ListBinaryDumper)


def column(values: Iterable[Any]) -> Column:
    """The values as one array parameter."""
    return Column(values)


def floats(values: Iterable[float | None]) -> Column:
    """Numbers as floats (a binary array holds one element type)."""
    return Column(None if v is None else float(v) for v in values)
