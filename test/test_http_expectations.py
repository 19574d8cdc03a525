"""HTTP options and expectations as pure rules: validation at registration, and the words each
missed expectation puts in a check's error. No network."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from statuschecker import checks
from statuschecker.checks import validate_options
from statuschecker.checks.expectations import Expectations

URL = "https://example.com/health"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ({}, {}),
        ({"method": "post", "body": "{}"}, {"method": "POST", "body": "{}"}),
        (
            {"headers": {"X-Api-Key": " k1 ", "Accept": "application/json"}},
            {"headers": {"X-Api-Key": "k1", "Accept": "application/json"}},
        ),
        (
            {"expected_status": ["200-299", 301, "404", "500-503", "418-418"]},
            {"expected_status": ["200-299", 301, 404, "500-503", 418]},
        ),
        ({"follow_redirects": False}, {"follow_redirects": False}),
        (
            {"body_contains": "ok", "body_regex": r"^up\b"},
            {"body_contains": "ok", "body_regex": r"^up\b"},
        ),
        ({"json_field": "checks.0.state"}, {"json_field": "checks.0.state"}),
        ({"json_field": "ok", "json_value": None}, {"json_field": "ok", "json_value": None}),
        ({"json_field": "v", "json_value": (1, "a")}, {"json_field": "v", "json_value": [1, "a"]}),
        (
            {"max_phase_ms": {"tls": 300, "total": 1.5}},
            {"max_phase_ms": {"tls": 300, "total": 1.5}},
        ),
        (  # null stands for not given, except as json_value
            {"method": None, "body": None, "json_field": "a", "json_value": None},
            {"json_field": "a", "json_value": None},
        ),
        (
            {"method": "HEAD", "max_response_time_ms": 500},
            {"method": "HEAD", "max_response_time_ms": 500},
        ),
    ],
)
def test_valid_options_are_normalised_and_only_those_given_kept(
    raw: dict[str, Any], stored: dict[str, Any]
) -> None:
    assert validate_options(URL, raw) == stored


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ({"retries": 3}, "retries: no check kind takes such an option"),
        ({"retries": 3, "port": 1}, "port, retries: no check kind takes such an option"),
        ({"method": "TRACE"}, "method must be one of"),
        ({"method": 1}, "method must be one of"),
        ({"headers": ["X-A: 1"]}, "headers must be an object"),
        (
            {"headers": {f"X-{i}": "v" for i in range(51)}},
            "headers must be an object of at most 50",
        ),
        ({"headers": {"X-A": "line\r\nX-Injected: 1"}}, "headers.X-A must be printable ASCII"),
        ({"headers": {"X-A": "caf\u00e9"}}, "headers.X-A must be printable ASCII"),
        ({"headers": {"X-A": 1}}, "headers.X-A must be printable ASCII"),
        ({"body": 1}, "body must be a string of at most 65536 characters"),
        ({"body": "x" * 65537}, "body must be a string of at most 65536 characters"),
        ({"body": "\ud800"}, "body must be a string of at most 65536 characters"),
        ({"follow_redirects": "yes"}, "follow_redirects must be true or false"),
        ({"expected_status": "200-299"}, "expected_status must be a list"),
        ({"expected_status": []}, "expected_status must be a list"),
        ({"expected_status": ["2xx"]}, "expected_status: '2xx' is not a status code or a range"),
        ({"expected_status": [" 200"]}, "expected_status: ' 200' is not a status code or a range"),
        ({"expected_status": [200] * 21}, "expected_status must be a list of 1 to 20"),
        ({"expected_status": [True]}, "expected_status: True is not a status code or a range"),
        ({"expected_status": [600]}, "expected_status: 600 is not a code or a low-high range"),
        ({"expected_status": ["099-200"]}, "expected_status: '099-200' is not a code"),
        ({"body_contains": ""}, "body_contains must be a string of 1 to"),
        ({"body_regex": "a" * 1001}, "body_regex must be a string of 1 to 1000 characters"),
        ({"json_field": "checks..state"}, "json_field must be a dotted path"),
        ({"json_field": ""}, "json_field must be a dotted path"),
        ({"json_field": "v", "json_value": float("nan")}, "json_value must be a JSON value"),
        ({"json_field": "v", "json_value": {1, 2}}, "json_value must be a JSON value"),
        ({"max_phase_ms": {"handshake": 1}}, "max_phase_ms must be an object with keys among dns"),
        ({"max_phase_ms": 300}, "max_phase_ms must be an object"),
        ({"max_phase_ms": {"tls": 0}}, "max_phase_ms.tls must be a positive number"),
        ({"max_phase_ms": {"tls": True}}, "max_phase_ms.tls must be a positive number"),
        ({"max_response_time_ms": -1}, "max_response_time_ms must be a positive number"),
    ],
)
def test_invalid_options_are_rejected_naming_the_field(raw: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(error)):
        validate_options(URL, raw)


@pytest.mark.parametrize(
    ("raw", "stored", "warnings"),
    [
        ({"expected_status": ["299-200"]}, {"expected_status": ["200-299"]}, []),
        (
            {"headers": {"Bad Name": "v", "X-Ok": "1"}},
            {"headers": {"Bad Name": "v", "X-Ok": "1"}},
            [
                "'headers.Bad Name' is unused: not a header name "
                "(letters, digits and !#$%&'*+-.^_`|~)"
            ],
        ),
        (
            {"headers": {"Host": "example.org"}},
            {"headers": {"Host": "example.org"}},
            ["'headers.Host' is unused: the check sets this header itself"],
        ),
        (
            {"headers": {"a\x00b": "v"}},
            {"headers": {"a\ufffdb": "v"}},
            [
                "'headers.a\ufffdb' is unused: not a header name "
                "(letters, digits and !#$%&'*+-.^_`|~)"
            ],
        ),
        (
            {"method": "HEAD", "body_contains": "ok"},
            {"method": "HEAD", "body_contains": "ok"},
            ["'body_contains' is unused: a HEAD request gets no body"],
        ),
        (
            {"json_value": "ok"},
            {"json_value": "ok"},
            ["'json_value' is unused: it applies to the value at json_field, which is not set"],
        ),
        (
            {"body_regex": "(unclosed"},
            {"body_regex": "(unclosed"},
            [
                "body_regex is not a valid regular expression (missing ) at position 9), so "
                "the check is down"
            ],
        ),
        (
            {"record_type": "MX", "packet_count": 2},
            {"record_type": "MX", "packet_count": 2},
            [
                "packet_count is an option of icmp:// checks: kept, but unused by this "
                "http(s):// service",
                "record_type is an option of dns:// checks: kept, but unused by this "
                "http(s):// service",
            ],
        ),
    ],
)
def test_what_cannot_apply_is_kept_and_named(
    raw: dict[str, Any], stored: dict[str, Any], warnings: list[str]
) -> None:
    """Schema-valid settings that cannot work as the others are set used to be refused with a
    400 the contract did not announce; they are kept, and the service's warnings say why."""
    options = validate_options(URL, raw)
    assert options == stored
    assert checks.warnings(URL, options, 30, 10) == warnings


def test_a_timeout_longer_than_the_interval_is_named() -> None:
    assert checks.warnings(URL, {}, 5, 6) == [
        "timeout_seconds (6) is longer than interval_seconds (5): a check still running when "
        "the next is due makes that one wait"
    ]


NO_PHASES: dict[str, float | None] = {}
DOC = b'{"status": "degraded", "ok": true, "n": 1, "checks": [{"state": "up"}], "none": null}'


@pytest.mark.parametrize(
    ("options", "status", "body", "failures"),
    [
        ({}, 200, b"", []),
        ({}, 299, b"", []),
        ({}, 301, b"", ["status 301 not in 200-299"]),
        ({"expected_status": [301, "500-503"]}, 502, b"", []),
        ({"expected_status": [301, "500-503"]}, 504, b"", ["status 504 not in 301, 500-503"]),
        ({"body_contains": "ok"}, 200, b"all ok", []),
        ({"body_contains": "ok"}, 200, b"all good", ["body does not contain 'ok'"]),
        ({"body_contains": "caf\u00e9"}, 200, "caf\u00e9".encode(), []),
        ({"body_contains": "ok"}, 200, b"\xff\xfeok", []),  # undecodable bytes do not hide a match
        ({"body_regex": "^all (ok|good)$"}, 200, b"all good", []),
        ({"body_regex": "^all ok$"}, 200, b"all bad", ["body does not match '^all ok$'"]),
        ({"json_field": "checks.0.state"}, 200, DOC, []),
        ({"json_field": "checks.1.state"}, 200, DOC, ["json field checks.1.state is missing"]),
        ({"json_field": "status.x"}, 200, DOC, ["json field status.x is missing"]),
        ({"json_field": "none"}, 200, DOC, []),
        ({"json_field": "none", "json_value": None}, 200, DOC, []),
        ({"json_field": "n", "json_value": 1.0}, 200, DOC, []),
        ({"json_field": "ok", "json_value": 1}, 200, DOC, ["json field ok is true, expected 1"]),
        ({"json_field": "n", "json_value": True}, 200, DOC, ["json field n is 1, expected true"]),
        ({"json_field": "checks", "json_value": [{"state": "up"}]}, 200, DOC, []),
        (
            {"json_field": "status", "json_value": "ok"},
            200,
            DOC,
            ["json field status is 'degraded', expected 'ok'"],
        ),
        (
            {"json_field": "checks", "json_value": "x" * 100},
            200,
            DOC,
            [f'json field checks is [{{"state": "up"}}], expected \'{"x" * 56}...'],
        ),
        ({"json_field": "status"}, 200, b"<html>", ["body is not JSON"]),
        ({"json_field": "status"}, 200, b"[" * 100_000, ["body is not JSON"]),
        (
            {"body_contains": "ok", "json_field": "status", "json_value": "ok"},
            503,
            b'{"status": "degraded"}',
            [
                "status 503 not in 200-299",
                "body does not contain 'ok'",
                "json field status is 'degraded', expected 'ok'",
            ],
        ),
    ],
)
def test_each_missed_expectation_is_named(
    options: dict[str, Any], status: int, body: bytes, failures: list[str]
) -> None:
    expect = Expectations.of(validate_options(URL, options))
    assert expect.failures(status, body, None, NO_PHASES) == failures


@pytest.mark.parametrize(
    ("options", "failures"),
    [
        ({"body_contains": "xx"}, []),  # found in what was read: decided
        (
            {"body_contains": "y"},
            ["body does not contain 'y' in its first 4 bytes (max_body_bytes)"],
        ),
        ({"body_regex": "x$"}, []),
        ({"body_regex": "y"}, ["body does not match 'y' in its first 4 bytes (max_body_bytes)"]),
        (
            {"json_field": "a"},
            ["body is longer than 4 bytes (max_body_bytes), not read as JSON"],
        ),
    ],
)
def test_a_body_cut_short_says_so_when_it_decides_a_miss(
    options: dict[str, Any], failures: list[str]
) -> None:
    expect = Expectations.of(options)
    assert expect.failures(200, b"xxxx", 4, NO_PHASES) == failures


def test_phases_over_their_limits_are_named() -> None:
    expect = Expectations.of({"max_phase_ms": {"dns": 5, "tls": 300, "ttfb": 1000, "total": 2}})
    phases = {"dns": 0.042, "connect": 9.0, "tls": 412.3, "ttfb": 500.0, "total": 2.25}
    assert expect.failures(200, b"", None, phases) == [
        "tls phase 412 ms > 300 ms",
        "total phase 2.2 ms > 2 ms",
    ]


def test_a_phase_that_did_not_happen_is_not_judged() -> None:
    expect = Expectations.of({"max_phase_ms": {"tls": 1}})
    assert expect.failures(200, b"", None, {"tls": None}) == []


def test_only_body_expectations_make_the_check_read_the_body() -> None:
    assert not Expectations.of({}).reads_body
    assert not Expectations.of({"expected_status": [200], "max_phase_ms": {"dns": 1}}).reads_body
    for option, value in [("body_contains", "a"), ("body_regex", "a"), ("json_field", "a")]:
        assert Expectations.of({option: value}).reads_body


def test_a_runaway_body_regex_gives_up_instead_of_holding_the_poller() -> None:
    # Guards against catastrophic backtracking: `re` has no timeout, so a pattern like this on
    # a hostile body would block the poller's event loop for as long as it ran.
    expectations = Expectations.of({"body_regex": "(a|aa)+$"})
    body = b"a" * 40 + b"!"
    started = time.perf_counter()
    failures = expectations.failures(200, body, None, {})
    assert time.perf_counter() - started < 1.0
    assert failures == ["body_regex gave up after 50 ms on the body"]


def test_an_option_several_kinds_take_names_them_all() -> None:
    """`body` belongs to http(s), tcp, udp and ws(s) checks alike: a tls service's warning
    names them all; `body_regex`, to http(s) alone."""
    options = validate_options("tls://a.test", {"body": "PING", "body_regex": "x"})
    assert checks.warnings("tls://a.test", options, 30, 10) == [
        "body is an option of http(s)://, tcp://, udp:// and ws(s):// checks: kept, but unused by"
        " this tls:// service",
        "body_regex is an option of http(s):// checks: kept, but unused by this tls:// service",
    ]
