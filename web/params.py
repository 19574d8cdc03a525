"""Query values the contract cannot fully check itself."""

from __future__ import annotations

from datetime import datetime

from statuschecker.errors import InvalidInput


def parse_time(name: str, value: str | None) -> datetime | None:
    """Parse an RFC 3339 query value; a time without offset is rejected, not guessed."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} is not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{name} needs a UTC offset or Z: {value!r}")
    return parsed
