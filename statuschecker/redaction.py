"""What counts as a secret, and how it is kept out of responses and logs: header values of
secret-like names are shown masked, a password in a URL likewise, and log fields of such names
are replaced."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "********"
_SECRET_NAME = re.compile(
    r"authorization|password|passwd|secret|token|cookie|api[-_]?key|x-auth|session|credential",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a header, field or log key of this name holds a secret."""
    return bool(_SECRET_NAME.search(name))


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as shown: the values of secret-like names replaced by MASK."""
    return {k: MASK if is_secret_name(k) else v for k, v in headers.items()}


def masked_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check options as shown: with their headers masked."""
    shown = dict(options)
    if shown.get("headers"):
        shown["headers"] = masked_headers(shown["headers"])
    return shown


def unmasked_headers(given: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """Headers of a change, where a MASK value (sent back as it was shown) keeps the stored
    value of that header."""
    stored_by_name = {k.lower(): v for k, v in stored.items()}
    return {k: stored_by_name.get(k.lower(), v) if v == MASK else v for k, v in given.items()}


def masked_url(url: str) -> str:
    """The URL with the password of its user part, if any, replaced by MASK (a text that does
    not parse as a URL is returned as it is)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:{MASK}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def unmasked_url(given: str, stored: str) -> str:
    """A URL of a change, where a MASK password keeps the stored URL's password."""
    parts, before = urlsplit(given), urlsplit(stored)
    if parts.password != MASK or before.password is None:
        return given
    netloc = f"{parts.username or ''}:{before.password}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def scrub_log_fields(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor replacing the values of secret-like keys by MASK."""
    for key in event:
        if is_secret_name(key):
            event[key] = MASK
    return event
