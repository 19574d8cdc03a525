"""What counts as a secret, and how it is kept out of responses, error details and logs:
header values and URL query values of secret-like names are shown masked, a password in a URL
likewise, receivers' URLs (apprise URLs carry tokens in every part) as scheme://host, and log
fields of such names are replaced, URLs in log text masked the same way."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "********"
_SECRET_NAME = re.compile(
    r"authorization|password|passwd|secret|token|cookie|api[-_]?key|x-auth|session|credential"
    r"|signature",
    re.IGNORECASE,
)
# Short names are secrets only as a whole word of the name (`key`, `x-sig`; not `keyword`).
_SECRET_WORD = re.compile(r"(?:^|[-_.])(?:key|sig|auth|pass|pwd)(?:$|[-_.])", re.IGNORECASE)
# A `name=value` query parameter, after the `?` or `&` that starts it.
_QUERY_PARAM = re.compile(r"(?<=[?&])([^=&#\s'\"<>]+)=([^&#\s'\"<>]*)")
# A URL in free text, up to a blank or a quote.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
# A heartbeat's ping path: its key is the credential (all but its first 4 characters masked).
_PING_KEY = re.compile(r"(/ping/[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TOP_LABEL = re.compile(r"[a-z][a-z0-9-]*")


def is_secret_name(name: str) -> bool:
    """Whether a header, field, query parameter or log key of this name holds a secret."""
    return bool(_SECRET_NAME.search(name) or _SECRET_WORD.search(name))


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as shown: the values of secret-like names replaced by MASK."""
    return {k: MASK if is_secret_name(k) else v for k, v in headers.items()}


def masked_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check options as shown: with their headers masked, and a journey's steps' headers and
    URLs."""
    shown = dict(options)
    if shown.get("headers"):
        shown["headers"] = masked_headers(shown["headers"])
    if shown.get("steps"):
        shown["steps"] = [
            {**masked_options(step), "url": masked_url(step["url"])} for step in shown["steps"]
        ]
    return shown


def unmasked_headers(given: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """Headers of a change, where a MASK value (sent back as it was shown) keeps the stored
    value of that header."""
    stored_by_name = {k.lower(): v for k, v in stored.items()}
    return {k: stored_by_name.get(k.lower(), v) if v == MASK else v for k, v in given.items()}


def unmasked_steps(
    given: Sequence[Mapping[str, Any]], stored: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """A journey's steps of a change, where a step's MASK header values and URL secrets (sent
    back as they were shown) keep those of the stored step at the same place."""
    steps: list[Any] = []
    for index, step in enumerate(given):
        before = stored[index] if index < len(stored) else {}
        if not isinstance(step, Mapping) or not before:
            steps.append(step)
            continue
        kept = dict(step)
        if isinstance(kept.get("headers"), Mapping):
            kept["headers"] = unmasked_headers(kept["headers"], before.get("headers") or {})
        if isinstance(kept.get("url"), str):
            kept["url"] = unmasked_url(kept["url"], str(before.get("url", "")))
        steps.append(kept)
    return steps


def masked_url(url: str) -> str:
    """The URL with the password of its user part, if any, and the values of its secret-like
    query parameters replaced by MASK (a text that does not parse as a URL is returned as it
    is)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if parts.password:  # an empty one hides nothing
        netloc = f"{parts.username or ''}:{MASK}@{netloc.rpartition('@')[2]}"
    query = _QUERY_PARAM.sub(_masked_param, f"&{parts.query}")[1:]
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def unmasked_url(given: str, stored: str) -> str:
    """A URL of a change, where a MASK password or query value (sent back as it was shown)
    keeps the stored URL's password or the value of the stored parameter of that name."""
    parts, before = urlsplit(given), urlsplit(stored)
    netloc = parts.netloc
    if parts.password == MASK and before.password is not None:
        netloc = f"{parts.username or ''}:{before.password}@{netloc.rpartition('@')[2]}"
    stored_values: dict[str, list[str]] = {}
    for name, value in _QUERY_PARAM.findall(f"&{before.query}"):
        stored_values.setdefault(name, []).append(value)
    seen: dict[str, int] = {}

    def restored(match: re.Match[str]) -> str:
        name, value = match[1], match[2]
        nth = seen[name] = seen.get(name, -1) + 1
        values = stored_values.get(name, [])
        return f"{name}={values[nth]}" if value == MASK and nth < len(values) else match[0]

    query = _QUERY_PARAM.sub(restored, f"&{parts.query}")[1:]
    if (netloc, query) == (parts.netloc, parts.query):
        return given
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact(channel: str, target: str) -> str:
    """`scheme://host[:port]` of a receiver's URL: no user info, path, query or fragment.

    Apprise URLs often put a token where the host goes (`tgram://<bot token>/<chat>`), so for
    them a host is kept only when it looks like a DNS name or an IP address.
    """
    try:
        parts = urlsplit(target)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if channel == "apprise" and not _looks_like_host(host):
        return f"{parts.scheme}://"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    with contextlib.suppress(ValueError):  # a port that is not a number is left out
        if host and parts.port is not None:
            host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}"


def masked_text(text: str, show: Callable[[str], str] = masked_url) -> str:
    """`text` (an error detail, a log line) with each URL in it as `show` shows it (by default
    as answers show a service's URL), secret-like query values of URLs without a scheme
    (`GET /path?token=...`) masked, and the keys of heartbeats' ping paths (`GET /ping/KEY`)."""
    if "/ping/" in text:
        text = _PING_KEY.sub(rf"\1{MASK}", text)
    if "=" not in text and "://" not in text:
        return text
    parts, end = [], 0
    for match in _URL_IN_TEXT.finditer(text):
        url = _without_trailing_punctuation(match[0])
        parts += [_QUERY_PARAM.sub(_masked_param, text[end : match.start()]), show(url)]
        end = match.start() + len(url)
    parts.append(_QUERY_PARAM.sub(_masked_param, text[end:]))
    return "".join(parts)


def scrub_log_fields(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor replacing the values of secret-like keys by MASK and masking the
    URLs in text values; those of the `apprise` logger are shown as receivers are (they carry
    tokens in every part)."""
    logger = str(event.get("logger", ""))
    apprise = logger == "apprise" or logger.startswith("apprise.")
    show = partial(redact, "apprise") if apprise else masked_url
    for key, value in event.items():
        if is_secret_name(key):
            event[key] = MASK
        elif isinstance(value, str):
            event[key] = masked_text(value, show)
    return event


def _masked_param(match: re.Match[str]) -> str:
    """A `name=value` query parameter, its value masked when the name is secret-like."""
    name, value = match[1], match[2]
    return f"{name}={MASK}" if value and is_secret_name(unquote_plus(name)) else match[0]


def _without_trailing_punctuation(url: str) -> str:
    """A URL found in text without the punctuation that ends the sentence around it."""
    while url:
        last = url[-1]
        if last in ".,;:!?" or (last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last])):
            url = url[:-1]
        else:
            break
    return url


def _looks_like_host(host: str) -> bool:
    """Whether `host` is `localhost`, an IP address, or a dotted DNS name with an alphabetic
    top label (tokens rarely are)."""
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(host)
        return True
    *labels, top = host.split(".")
    return (
        bool(labels)
        and all(_DNS_LABEL.fullmatch(label) for label in labels)
        and _TOP_LABEL.fullmatch(top) is not None
    )
