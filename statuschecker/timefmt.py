"""Times and durations as the API, the alert messages and the notifications write them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from statuschecker.errors import InvalidInput


def rfc3339(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """A duration as people read it: `1h 5m 12s`, `42s`, `3d 4h`."""
    whole = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    if whole or not parts:
        parts.append(f"{whole}s")
    return " ".join(parts)


def parsed(name: str, value: Any) -> datetime | None:
    """An RFC 3339 time of the request; InvalidInput when it is not one or has no offset."""
    if value is None or isinstance(value, datetime):
        time = value
    else:
        try:
            time = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"{name} is not an RFC 3339 time: {value!r}") from None
    if time is not None and time.tzinfo is None:
        raise InvalidInput(f"{name} needs a UTC offset or Z: {value!r}")
    return time
