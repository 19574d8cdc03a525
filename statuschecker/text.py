"""Text PostgreSQL can store: no NUL (U+0000), no lone surrogate (U+D800 to U+DFFF, which UTF-8
cannot encode)."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def unstorable(value: Any) -> bool:
    """Whether a string anywhere in a JSON value (keys included) holds a character PostgreSQL
    cannot store."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(unstorable(v) for v in value)
    return False


def storable(value: Any) -> Any:
    """A JSON value (keys included) with each character PostgreSQL cannot store replaced by
    U+FFFD: for free-form text that is kept rather than refused (a check's error, a header
    name the check cannot send anyway, a JSON value to compare with)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
