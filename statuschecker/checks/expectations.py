"""What an HTTP response must show to count as up: its status, its body, a JSON field, and
limits on the time each phase took.

`validate` checks these options at registration; `Expectations.of` reads the stored options
again for each check (cheap: the pattern comes from the `regex` module's cache) and
`Expectations.failures` names every expectation a response misses, in the words that go into
the check's error. Patterns run under `regex`, which can stop a runaway match: a body comes from
outside, and `re` would hold the poller's loop for as long as it backtracks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from statuschecker.text import storable

OPTIONS = frozenset(
    {"expected_status", "body_contains", "body_regex", "json_field", "json_value", "max_phase_ms"}
)
"""The options this module validates and applies."""

BODY_OPTIONS = frozenset({"body_contains", "body_regex", "json_field"})
"""The options that need the response body."""

PHASES = ("dns", "connect", "tls", "ttfb", "total")
"""The phases `max_phase_ms` may limit."""

DEFAULT_STATUS = ("200-299",)
MAX_STATUS_ENTRIES = 20
MAX_CONTAINS_CHARS = 4_096
MAX_REGEX_CHARS = 1_000
MAX_JSON_FIELD_CHARS = 200
_SHOWN_CHARS = 60  # how much of an expected or found value an error message quotes
# A pattern that backtracks without end must not hold up the poller's loop for long.
REGEX_TIMEOUT_SECONDS = 0.05

_STATUS = re.compile(r"(\d{3})(?:-(\d{3}))?")
MISSING = object()


@dataclass(frozen=True, slots=True)
class Expectations:
    """The parsed expectations of one check."""

    statuses: tuple[tuple[int, int], ...]
    status_text: str
    contains: str | None = None
    body_pattern: regex.Pattern[str] | None = None
    json_path: tuple[str, ...] | None = None
    json_value: Any = MISSING
    max_phase_ms: Mapping[str, float] | None = None

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Expectations:
        """The expectations in a check's (already validated) options."""
        if options.keys().isdisjoint(OPTIONS):
            return _DEFAULT
        entries = options.get("expected_status", DEFAULT_STATUS)
        pattern = options.get("body_regex")
        field = options.get("json_field")
        return cls(
            statuses=tuple(_status_range(entry) for entry in entries),
            status_text=", ".join(str(entry) for entry in entries),
            contains=options.get("body_contains"),
            body_pattern=None if pattern is None else regex.compile(pattern),
            json_path=None if field is None else tuple(field.split(".")),
            json_value=options.get("json_value", MISSING),
            max_phase_ms=options.get("max_phase_ms"),
        )

    @property
    def reads_body(self) -> bool:
        """Whether judging a response needs its body."""
        return (
            self.contains is not None or self.body_pattern is not None or self.json_path is not None
        )

    def failures(
        self,
        status: int,
        body: bytes,
        cut_at: int | None,
        phases_ms: Mapping[str, float | None],
    ) -> list[str]:
        """Each expectation the response misses, in words; empty when it meets them all.

        `body` is what was read of the (decoded) body; `cut_at` is the byte count it was cut at
        when the body went on (`max_body_bytes`), else None.
        """
        found: list[str] = []
        if not any(low <= status <= high for low, high in self.statuses):
            found.append(f"status {status} not in {self.status_text}")
        if self.reads_body:
            found.extend(self._body_failures(body.decode("utf-8", "replace"), cut_at))
        limits = self.max_phase_ms or {}
        for phase in PHASES:
            limit, took = limits.get(phase), phases_ms.get(phase)
            if limit is not None and took is not None and took > limit:
                found.append(f"{phase} phase {_ms(took)} ms > {limit:g} ms")
        return found

    def _body_failures(self, text: str, cut_at: int | None) -> list[str]:
        """The body expectations `text` misses; a miss in a cut body says where it was cut."""
        cut = "" if cut_at is None else f" in its first {cut_at} bytes (max_body_bytes)"
        found = []
        if self.contains is not None and self.contains not in text:
            found.append(f"body does not contain {_shown(self.contains)}{cut}")
        if self.body_pattern is not None:
            try:
                matched = self.body_pattern.search(text, timeout=REGEX_TIMEOUT_SECONDS) is not None
            except TimeoutError:
                found.append(
                    f"body_regex gave up after {REGEX_TIMEOUT_SECONDS * 1000:g} ms on the body"
                )
            else:
                if not matched:
                    found.append(f"body does not match {_shown(self.body_pattern.pattern)}{cut}")
        if self.json_path is not None:
            if cut_at is not None:
                found.append(
                    f"body is longer than {cut_at} bytes (max_body_bytes), not read as JSON"
                )
            else:
                found.extend(self._json_failures(text, self.json_path))
        return found

    def _json_failures(self, text: str, path: tuple[str, ...]) -> list[str]:
        """Whether the JSON field at `path` exists (and has the expected value) in `text`."""
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json can go
            return ["body is not JSON"]
        field = ".".join(path)
        value = lookup(document, path)
        if value is MISSING:
            return [f"json field {field} is missing"]
        if self.json_value is not MISSING and not _same_json(value, self.json_value):
            return [f"json field {field} is {_shown(value)}, expected {_shown(self.json_value)}"]
        return []


_DEFAULT = Expectations(statuses=((200, 299),), status_text=DEFAULT_STATUS[0])


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The expectation options in `raw`, checked and normalised; only those given are returned.
    ValueError naming the option at fault."""
    return {name: _VALIDATORS[name](value) for name, value in raw.items() if name in OPTIONS}


def _expected_status(value: Any) -> list[int | str]:
    """A non-empty list of codes and ranges; each code becomes an int, each range 'low-high'."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STATUS_ENTRIES:
        raise ValueError(
            f"expected_status must be a list of 1 to {MAX_STATUS_ENTRIES} status codes or ranges"
        )
    normal: list[int | str] = []
    for entry in value:
        low, high = _status_range(entry)
        normal.append(low if low == high else f"{low}-{high}")
    return normal


def _status_range(entry: Any) -> tuple[int, int]:
    """(low, high) of a code (301, "301") or a range ("200-299"); ValueError when invalid."""
    if isinstance(entry, int) and not isinstance(entry, bool):
        low = high = entry
    elif isinstance(entry, str) and (match := _STATUS.fullmatch(entry)):
        low = int(match[1])
        high = low if match[2] is None else int(match[2])
    else:
        raise ValueError(
            f"expected_status: {entry!r} is not a status code or a range like '200-299'"
        )
    low, high = min(low, high), max(low, high)  # "299-200" means what "200-299" does
    if not 100 <= low <= high <= 599:
        raise ValueError(
            f"expected_status: {entry!r} is not a code or a low-high range within 100-599"
        )
    return low, high


def _body_contains(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CONTAINS_CHARS:
        raise ValueError(f"body_contains must be a string of 1 to {MAX_CONTAINS_CHARS} characters")
    return value


def _body_regex(value: Any) -> str:
    """A regular expression (one that does not compile is kept: see `advice`)."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_REGEX_CHARS:
        raise ValueError(f"body_regex must be a string of 1 to {MAX_REGEX_CHARS} characters")
    return value


def advice(options: Mapping[str, Any]) -> list[str]:
    """A `body_regex` that does not compile, in words: the check is down for it."""
    pattern = options.get("body_regex")
    if pattern is None:
        return []
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return [f"body_regex is not a valid regular expression ({exc}), so the check is down"]
    return []


def json_field(value: Any) -> str:
    """A dotted path of non-empty names and list indexes ("checks.0.state")."""
    if not isinstance(value, str) or len(value) > MAX_JSON_FIELD_CHARS or not all(value.split(".")):
        raise ValueError(
            "json_field must be a dotted path of names and list indexes, like 'checks.0.state'"
        )
    return value


def _json_value(value: Any) -> Any:
    """Any JSON value, as JSON would give it back (tuples become lists, and so on)."""
    try:
        return storable(json.loads(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError, RecursionError):
        raise ValueError("json_value must be a JSON value") from None


def _max_phase_ms(value: Any) -> dict[str, float]:
    """An object mapping phases to positive numbers of milliseconds."""
    if not isinstance(value, dict) or not value.keys() <= set(PHASES):
        raise ValueError(f"max_phase_ms must be an object with keys among {', '.join(PHASES)}")
    for phase, limit in value.items():
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
            raise ValueError(f"max_phase_ms.{phase} must be a positive number")
    return dict(value)


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "expected_status": _expected_status,
    "body_contains": _body_contains,
    "body_regex": _body_regex,
    "json_field": json_field,
    "json_value": _json_value,
    "max_phase_ms": _max_phase_ms,
}


def lookup(document: Any, path: Sequence[str]) -> Any:
    """The value at `path` (names into objects, indexes into lists), or `MISSING`."""
    value = document
    for step in path:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdecimal() and int(step) < len(value):
            value = value[int(step)]
        else:
            return MISSING
    return value


def _same_json(found: Any, expected: Any) -> bool:
    """JSON equality: like ==, except that true and false never equal 1 and 0."""
    if isinstance(found, bool) or isinstance(expected, bool):
        return found is expected
    if isinstance(found, dict) and isinstance(expected, dict):
        return found.keys() == expected.keys() and all(
            _same_json(found[key], expected[key]) for key in found
        )
    if isinstance(found, list) and isinstance(expected, list):
        return len(found) == len(expected) and all(map(_same_json, found, expected))
    if isinstance(found, int | float) and isinstance(expected, int | float):
        return found == expected
    return type(found) is type(expected) and found == expected


def _shown(value: Any) -> str:
    """A short rendering of a value for an error: strings quoted, the rest as JSON."""
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _ms(value: float) -> str:
    """Milliseconds for an error: whole from 10 ms up, two significant digits below."""
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"
