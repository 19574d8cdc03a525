"""What the database checks (postgresql, mysql, redis) share: their options, their URL's parts,
and how the first value of a query's answer is judged.

A database check connects, authenticates with the URL's user and password, and runs a query:
the `query` option (an SQL statement; for redis, a command such as `GET feature:checkout`), or
a trivial one of the kind's own (`SELECT 1`, `PING`) when none is given. With `expected_value`,
the answer's first value (first column of the first row, or the reply) must equal it, compared
as text; NULL and a missing row read as `NULL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

OPTION_NAMES = frozenset({"query", "expected_value"})
MAX_QUERY_CHARS = 4096
MAX_SHOWN_CHARS = 100
"""How much of an unexpected value a failure quotes."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a database URL points and as whom: host, port, user, password and database (the
    URL's path; empty when it names none)."""

    host: str
    port: int
    user: str | None
    password: str | None
    database: str


def target(url: str, default_port: int) -> Target:
    """The parts of a database URL, percent-decoded."""
    parts = urlsplit(url.strip())
    return Target(
        host=parts.hostname or "",
        port=parts.port or default_port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        database=unquote(parts.path.lstrip("/")),
    )


def options(url: str, raw: Mapping[str, Any], *, query_words: str) -> dict[str, Any]:
    """`query` and `expected_value` checked; the URL needs a host and carries no fragment.
    `query_words` names what a query is for the kind ("an SQL statement", "a command")."""
    parts = urlsplit(url.strip())
    if not parts.hostname:
        raise ValueError(f"url: a {parts.scheme}:// URL needs a host")
    if parts.fragment:
        raise ValueError(f"url: a {parts.scheme}:// URL takes no fragment")
    result = {name: value for name, value in raw.items() if value is not None}
    query = result.get("query")
    if query is not None and (
        not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS
    ):
        raise ValueError(f"query must be {query_words} of 1-{MAX_QUERY_CHARS} characters")
    expected = result.get("expected_value")
    if expected is not None and (not isinstance(expected, str) or not expected.strip()):
        raise ValueError("expected_value must be a non-empty string")
    return result


def as_text(value: Any) -> str:
    """A value of an answer as `expected_value` is compared with it: NULL as `NULL`, bytes
    decoded (undecodable bytes replaced), booleans as `true`/`false`, the rest by `str`."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode(errors="replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unexpected(value: Any, options: Mapping[str, Any]) -> str | None:
    """The failure when `expected_value` is set and the answer's first value is not it."""
    expected: str | None = options.get("expected_value")
    if expected is None:
        return None
    got = as_text(value)
    if got == expected:
        return None
    shown = got if len(got) <= MAX_SHOWN_CHARS else got[:MAX_SHOWN_CHARS] + "…"
    return f"expected {expected!r}, got {shown!r}"
