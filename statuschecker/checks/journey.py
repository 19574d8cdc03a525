"""Journey check: several HTTP requests in order, one check, up only if every step meets its
expectations.

`journey+https://api.example.com[/base]` (or `journey+http://`) names the base its steps'
relative URLs are resolved against; the `steps` option lists them (up to `MAX_STEPS`; none: one
GET of the base). A step
is an http(s) check's request and expectations (`method`, `headers`, `body`,
`follow_redirects`, `expected_status`, `body_contains`, `body_regex`, `json_field` and
`json_value`, `max_phase_ms`), its `url` (relative to the base, or absolute), an optional
`name`, and `captures`: values taken from its answer for later steps, each a JSON field
(`{"json": "data.token"}`), a regular expression's first group (or its whole match) in the
body (`{"regex": "id=(\\d+)"}`), or a header (`{"header": "Location"}`). A later step uses one
as `{{name}}` in its URL (where characters no URL holds are percent-encoded), a header
value or its body.

Each step is an http(s) check (see `http`): its own connection, the target policy and the
source address, within what is left of the service's timeout, which the whole journey shares.
The first step that fails ends the journey: the result's `error` is "step 2 (order): status
500 not in 200-299", and a capture that finds nothing fails its step ("capture 'token': json
field data.token is missing"), as does a `{{name}}` no earlier step captured ("{{token}} is not
captured"; `advice` names it at registration). The result's `steps` holds each step run, as
JSON: its name, whether it met its expectations, status code, time and error. Captured values
are secrets (a token, a session): they are never recorded, and an error that would quote one
shows it masked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import regex

from statuschecker.checks import expectations, http
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.redaction import MASK, masked_text
from statuschecker.text import storable

MAX_STEPS = 10
MAX_CAPTURES = 10
MAX_NAME_CHARS = 100
MAX_URL_CHARS = 2048
OPTION_NAMES = frozenset({"steps"})
DEFAULT_STEPS = ({"url": ""},)
"""Without steps, a journey is one GET of its base."""
CAPTURE_SOURCES = ("json", "regex", "header")
_CAPTURE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TEMPLATED = ("url", "body")
"""A step's fields (besides header values) where `{{name}}` is replaced."""
_REQUEST_AND_EXPECTATIONS = http.OPTION_NAMES
_URL_CHARACTERS = ":/?#[]@!$&'()*+,;=%~"
"""What a captured value keeps as it is in a URL (RFC 3986's reserved characters and `%`)."""
_MIN_SECRET_CHARS = 4
"""Captured values shorter than this are not masked in errors (a `1` would mask every digit)."""


async def check(spec: CheckSpec) -> CheckResult:
    """Run the steps of `spec.options` in order, each with what the steps before captured."""
    base = spec.url.split("+", 1)[1]
    started = time.perf_counter()
    captured: dict[str, str] = {}
    done: list[dict[str, Any]] = []
    answer: http.Answer | None = None
    for number, step in enumerate(spec.options.get("steps") or DEFAULT_STEPS, start=1):
        name = step.get("name") or f"step {number}"
        left = spec.timeout_seconds - (time.perf_counter() - started)
        answer = await _run(step, base, captured, spec, left)
        result = answer.result
        error = result.error
        if result.up:
            error = _capture(step.get("captures") or {}, answer, captured)
        if error is not None and error.startswith("timeout (deadline"):
            error = f"timeout (the journey's {spec.timeout_seconds:g}s)"
        shown = None if error is None else _masked(error, captured)
        done.append(
            {
                "name": name,
                "up": error is None,
                "status_code": result.status_code,
                "response_time_ms": result.response_time_ms,
                "error": shown,
            }
        )
        if shown is not None:
            return _result(started, done, f"step {number} ({name}): {shown}", answer)
    return _result(started, done, None, answer)


async def _run(
    step: Mapping[str, Any], base: str, captured: Mapping[str, str], spec: CheckSpec, left: float
) -> http.Answer:
    """The step's request, its templates filled, within the `left` seconds."""
    if left <= 0:
        return http.Answer(CheckResult(up=False, error="timeout (deadline 0s)"))
    missing = [used for _, used in _uses(step) if used not in captured]
    if missing:
        return http.Answer(CheckResult(up=False, error=f"{{{{{missing[0]}}}}} is not captured"))
    url = urljoin(base, _filled(step["url"], captured, in_url=True))
    if fault := _url_fault(url, base):
        return http.Answer(CheckResult(up=False, error=fault))
    options = {k: v for k, v in step.items() if k in _REQUEST_AND_EXPECTATIONS}
    if "body" in options:
        options["body"] = _filled(options["body"], captured)
    if "headers" in options:
        options["headers"] = {k: _filled(v, captured) for k, v in options["headers"].items()}
    keep = bool(step.get("captures"))
    return await http.answer(CheckSpec(url, left, spec.limits, options), keep_body=keep)


def _filled(text: str, captured: Mapping[str, str], *, in_url: bool = False) -> str:
    """`text` with each `{{name}}` replaced by its captured value; in a URL, the characters no
    URL holds (blanks, quotes, non-ASCII) percent-encoded, so a captured path still works."""
    return _PLACEHOLDER.sub(
        lambda m: quote(captured[m[1]], safe=_URL_CHARACTERS) if in_url else captured[m[1]], text
    )


def _capture(captures: Mapping[str, Any], answer: http.Answer, into: dict[str, str]) -> str | None:
    """Take each capture from the answer into `into`; the failure of the first that finds
    nothing, or None."""
    text = answer.body.decode("utf-8", "replace")
    for name, source in captures.items():
        kind, wanted = next(iter(source.items()))
        value = _captured(kind, wanted, text, answer.headers)
        if value is None:
            return f"capture {name!r}: {_missing(kind, wanted)}"
        into[name] = value
    return None


def _captured(
    kind: str, wanted: str, text: str, headers: tuple[tuple[str, str], ...]
) -> str | None:
    """The value a capture finds, as text (JSON for an object or a list), or None."""
    if kind == "header":
        return next((v for k, v in headers if k == wanted.lower()), None)
    if kind == "regex":
        try:
            match = regex.search(wanted, text, timeout=expectations.REGEX_TIMEOUT_SECONDS)
        except (TimeoutError, regex.error):
            return None
        return None if match is None else match[1 if match.re.groups else 0]
    try:
        value = expectations.lookup(json.loads(text), wanted.split("."))
    except (ValueError, RecursionError):
        return None
    if value is expectations.MISSING:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _missing(kind: str, wanted: str) -> str:
    return {
        "json": f"json field {wanted} is missing (or the body is not JSON)",
        "regex": f"body does not match {wanted!r}",
        "header": f"no header {wanted}",
    }[kind]


def _masked(error: str, captured: Mapping[str, str]) -> str:
    """An error with the values captured so far, and URL secrets, masked."""
    for value in sorted(captured.values(), key=len, reverse=True):
        if len(value) >= _MIN_SECRET_CHARS:
            error = error.replace(value, MASK)
    return masked_text(error)


def _result(
    started: float, done: list[dict[str, Any]], error: str | None, last: http.Answer | None
) -> CheckResult:
    """The journey's result: the total time when every step ran, the last step's status."""
    total = (time.perf_counter() - started) * 1000.0
    return CheckResult(
        up=error is None,
        error=error,
        response_time_ms=total if error is None else None,
        status_code=last.result.status_code if last else None,
        cert_expires_at=last.result.cert_expires_at if last else None,
        steps=json.dumps(done, separators=(",", ":")),
    )


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`steps`, each checked as an http(s) check's options plus its name, URL and captures, in
    the form the contract gives them (ValueError naming the step and field at fault:
    `steps[2].method must be ...`). What the contract cannot say (a capture used before it is
    made, a step URL that is no http(s) one) is kept, and named by `advice`: the step fails."""
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.query or parts.fragment:
        raise ValueError(f"url: a {parts.scheme}:// URL takes only a host, a port and a path")
    if raw.get("steps") is None:
        return {}
    steps = raw["steps"]
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise ValueError(f"steps must be a list of 1 to {MAX_STEPS} steps")
    normal = []
    for index, step in enumerate(steps):
        try:
            normal.append(_step(step))
        except ValueError as exc:
            raise ValueError(f"steps[{index}].{exc}") from None
    return {"steps": normal}


def _step(step: Any) -> dict[str, Any]:
    """One step in its stored form (an error starts with the field at fault)."""
    if not isinstance(step, dict):
        raise ValueError("step: must be an object")
    unknown = sorted(set(step) - _REQUEST_AND_EXPECTATIONS - {"name", "url", "captures"})
    if unknown:
        raise ValueError(f"{unknown[0]}: not a field of a step")
    name = step.get("name")
    if name is not None and (
        not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME_CHARS
    ):
        raise ValueError(f"name: must be a text of 1 to {MAX_NAME_CHARS} characters")
    target = step.get("url")
    if not isinstance(target, str) or not 1 <= len(target) <= MAX_URL_CHARS:
        raise ValueError(f"url: must be a URL or a path of 1 to {MAX_URL_CHARS} characters")
    given = {k: v for k, v in step.items() if k in _REQUEST_AND_EXPECTATIONS}
    normal: dict[str, Any] = {"url": target, **http.options(target, given)}
    if name is not None:
        normal = {"name": name.strip(), **normal}
    captures = _captures(step.get("captures"))
    if captures:
        normal["captures"] = captures
    return normal


def _captures(value: Any) -> dict[str, dict[str, str]]:
    """Up to `MAX_CAPTURES` names, each with one source: json (a dotted path), regex (a
    pattern) or header (a name)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_CAPTURES:
        raise ValueError(f"captures: must be an object of at most {MAX_CAPTURES} captures")
    normal = {}
    for name, source in value.items():
        if (
            not isinstance(source, dict)
            or len(source) != 1
            or next(iter(source)) not in CAPTURE_SOURCES
        ):
            raise ValueError(
                f"captures.{name}: must be one of {{json: path}}, {{regex: pattern}}, "
                "{header: name}"
            )
        kind, wanted = next(iter(source.items()))
        if not isinstance(wanted, str) or not 1 <= len(wanted) <= expectations.MAX_REGEX_CHARS:
            raise ValueError(
                f"captures.{name}.{kind}: must be a text of 1 to "
                f"{expectations.MAX_REGEX_CHARS} characters"
            )
        if kind == "json" and not all(wanted.split(".")):
            raise ValueError(f"captures.{name}.json: must be a dotted path like 'data.token'")
        normal[storable(name)] = {kind: wanted}  # a name no placeholder can use: see `advice`
    return normal


def advice(options: Mapping[str, Any]) -> list[str]:
    """What will make a step fail as the steps are set, in words: a `{{name}}` no earlier
    step captures, a URL that is no http(s) one, a capture's pattern that does not compile or
    name that cannot be used; names given twice; and each step's http(s) advice."""
    found: list[str] = []
    captured: set[str] = set()
    names: set[str] = set()
    for index, step in enumerate(options.get("steps") or []):
        at = f"steps[{index}]"
        for field, used in _uses(step):
            if used not in captured:
                found.append(f"{at}.{field}: {{{{{used}}}}} is not captured by an earlier step")
        if _url_fault(_PLACEHOLDER.sub("x", step["url"]), "https://base.invalid/"):
            found.append(f"{at}.url: {step['url']!r} is not an http(s) URL or a path")
        for name, source in (step.get("captures") or {}).items():
            if not _CAPTURE_NAME.fullmatch(name):
                found.append(
                    f"{at}.captures.{name}: unusable as {{{{name}}}}: a name is a letter or _ "
                    "then up to 31 letters, digits or _"
                )
            if "regex" in source and (fault := _regex_fault(source["regex"])):
                found.append(f"{at}.captures.{name}.regex: {fault}")
            captured.add(name)
        name = step.get("name") or f"step {index + 1}"
        if name in names:
            found.append(f"{at}.name: {name!r} names an earlier step too")
        names.add(name)
        found += [f"{at}: {words}" for words in http.advice(step)]
    return found


def _uses(step: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each `{{name}}` the step uses, with the field it stands in."""
    texts = [(field, step[field]) for field in _TEMPLATED if isinstance(step.get(field), str)]
    texts += [(f"headers.{k}", v) for k, v in (step.get("headers") or {}).items()]
    return [(field, used) for field, text in texts for used in _PLACEHOLDER.findall(text)]


def _url_fault(url: str, base: str) -> str | None:
    """Why a step's URL (resolved against `base`) cannot be requested, or None."""
    parts = urlsplit(urljoin(base, url))
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL or a path"
    return None


def _regex_fault(pattern: str) -> str | None:
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"not a valid regular expression ({exc})"
    return None
