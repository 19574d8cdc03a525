"""A hostile corpus against every operation that takes a body, over real HTTP, with a token and
without one: deep nesting (the whole body and inside a field), NaN and infinities, numbers too
large for a float or with thousands of digits, huge strings, invalid UTF-8, lone surrogates,
NUL, duplicate keys, chunked bodies, wrong or missing content types, empty bodies.

Every answer must be a 4xx problem (never a 5xx), every 401 must name the Bearer scheme, and
nothing may be stored or changed by any of them. The bodies are bytes sent as they are
(http.client), since a JSON library would refuse to write most of them."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from accounts import PASSWORD, Account
from connexion.exceptions import BadRequestProblem
from sqlalchemy import Engine, text

from statuschecker.runtime import Runtime
from web.app import create_app
from web.validation import MAX_DEPTH, parse_json

MAX_REQUEST_BYTES = 64 * 1024
"""The runtime's body limit here, small enough that a body over it is cheap to send."""


@dataclass(frozen=True)
class Operation:
    """An operation with a body, and a body it accepts (from the account that owns `{id}`)."""

    method: str
    path: str
    valid: dict[str, Any]


def operations(
    account: Account, service_id: int, maintenance_id: int = 1, incident_id: int = 1
) -> list[Operation]:
    """Every operation of the contract that takes a body (test_every_body_operation_is_covered
    holds this list to the spec); the status page's slug is PAGE's."""
    incident = {"title": "down", "impact": "minor", "service_ids": [service_id], "message": "m"}
    return [
        Operation("POST", "/v1/users", {"email": "new@example.com", "password": "p" * 12}),
        Operation("POST", "/v1/auth/token", {"email": account.user.email, "password": PASSWORD}),
        Operation("POST", "/v1/tokens", {"name": "ci", "expires_in_seconds": 3600}),
        Operation(
            "POST",
            "/v1/services",
            {"name": "new", "url": "http://127.0.0.1:9/", "timeout_seconds": 5},
        ),
        Operation(
            "POST",
            "/v1/services:batch",
            {"services": [{"name": "batched", "url": "http://127.0.0.1:9/", "timeout_seconds": 5}]},
        ),
        Operation("PATCH", f"/v1/services/{service_id}", {"name": "renamed", "timeout_seconds": 5}),
        Operation("POST", "/v1/maintenances", {**MAINTENANCE, "service_ids": [service_id]}),
        Operation(
            "PATCH",
            f"/v1/maintenances/{maintenance_id}",
            {"title": "later", "ends_at": "2030-01-02T00:00:00Z"},
        ),
        Operation("POST", "/v1/incidents", incident),
        Operation("PATCH", f"/v1/incidents/{incident_id}", {"title": "later"}),
        Operation(
            "POST", f"/v1/incidents/{incident_id}/updates", {"status": "resolved", "message": "m"}
        ),
        Operation("POST", "/v1/pages", {**PAGE, "slug": "other"}),
        Operation("PATCH", f"/v1/pages/{PAGE['slug']}", {"title": "Shop", "link": None}),
        Operation(
            "POST",
            f"/v1/status/pages/{PAGE['slug']}/subscriptions",
            {"url": "https://hooks.example/in", "secret": "s" * 16},
        ),
        Operation("POST", "/v1/status/subscriptions:cancel", {"token": "abc"}),
        Operation(
            "POST",
            "/v1/config:apply",
            {
                "services": [
                    {"name": "declared", "url": "http://127.0.0.1:9/", "timeout_seconds": 5}
                ]
            },
        ),
    ]


MAINTENANCE = {
    "title": "upgrade",
    "tags": ["db"],
    "starts_at": "2030-01-01T22:00:00Z",
    "ends_at": "2030-01-01T23:00:00Z",
}


PAGE = {"slug": "shop", "title": "Shop status"}


def deep(levels: int) -> str:
    """An array nested `levels` deep."""
    return "[" * levels + "]" * levels


def deep_object(levels: int) -> str:
    """An object nested `levels` deep."""
    return '{"a":' * levels + "1" + "}" * levels


# Hostile JSON values, as the raw text that stands for a field's value.
HOSTILE_VALUES: dict[str, bytes] = {
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "float beyond double": b"1e999",
    "negative float beyond double": b"-1e999",
    "integer of 5000 digits": b"9" * 5000,
    "integer of 4000 digits": b"9" * 4000,
    "integer beyond int64": b"9223372036854775808",
    "float of 3000 digits": b"1" * 3000 + b".5",
    "nested 33 deep": deep(MAX_DEPTH + 1).encode(),
    "nested 1000 deep": deep(1000).encode(),
    "object nested 1000 deep": deep_object(1000).encode(),
    "nested 20000 deep": deep(20000).encode(),
    "huge string": b'"' + b"a" * 60_000 + b'"',
    "string over the body limit": b'"' + b"a" * (MAX_REQUEST_BYTES + 1) + b'"',
    "invalid UTF-8": b'"\xff\xfe\xc3\x28"',
    "lone surrogate escape": b'"\\ud800"',
    "lone low surrogate escape": b'"a\\udfffb"',
    "NUL escape": b'"a\\u0000b"',
    "raw control character": b'"a\x01b"',
}

# Hostile bodies as a whole.
HOSTILE_BODIES: dict[str, bytes] = {
    "empty": b"",
    "null": b"null",
    "an array": b"[]",
    "a number": b"1",
    "NaN alone": b"NaN",
    "nested 1000 deep": deep(1000).encode(),
    "object nested 1000 deep": deep_object(1000).encode(),
    "nested 100000 deep": deep(100_000).encode(),
    "unbalanced": b"[[[[}}}}",
    "invalid UTF-8": b"\xff\xfe{}",
    "UTF-16": '{"name": "x"}'.encode("utf-16"),
    "truncated": b'{"name": "x"',
    "trailing garbage": b'{"name": "x"} x',
    "over the limit": b'{"name": "' + b"a" * (MAX_REQUEST_BYTES + 10) + b'"}',
}


@dataclass(frozen=True)
class Case:
    """One request of the corpus."""

    name: str
    body: bytes
    content_type: str | None = "application/json"
    chunked: bool = False


def with_value(valid: dict[str, Any], field: str, raw: bytes) -> bytes:
    """`valid` as JSON text with `field`'s value replaced by the raw text `raw`."""
    marker = "\x01MARKER\x01"
    text_ = json.dumps({**valid, field: marker}).encode()
    return text_.replace(json.dumps(marker).encode(), raw)


def cases(operation: Operation) -> Iterator[Case]:
    """The corpus for one operation."""
    for field in operation.valid:
        for name, raw in HOSTILE_VALUES.items():
            yield Case(f"{field}: {name}", with_value(operation.valid, field, raw))
    for name, body in HOSTILE_BODIES.items():
        yield Case(f"body {name}", body)
    valid = json.dumps(operation.valid).encode()
    first = next(iter(operation.valid))
    yield Case("duplicate key", valid[:-1] + b", " + json.dumps({first: "x"}).encode()[1:])
    yield Case("NaN, chunked", with_value(operation.valid, first, b"NaN"), chunked=True)
    yield Case("nested 1000 deep, chunked", deep(1000).encode(), chunked=True)
    yield Case(
        "over the limit, chunked",
        b"[" + b'"aaaaaaaa",' * (MAX_REQUEST_BYTES // 10) + b"1]",
        chunked=True,
    )
    yield Case("empty, chunked", b"", chunked=True)
    yield Case("text/plain", valid, content_type="text/plain")
    yield Case(
        "form",
        b"name=x&url=http%3A%2F%2F127.0.0.1%3A9%2F",
        content_type="application/x-www-form-urlencoded",
    )
    yield Case("no content type", valid, content_type=None)
    yield Case("multipart", valid, content_type="multipart/form-data; boundary=x")


def send(
    base: str, method: str, path: str, case: Case, token: str | None
) -> tuple[int, dict, bytes]:
    """Sends one case; the answer's status, headers (lower-cased names) and body."""
    url = urlsplit(base)
    assert url.hostname is not None, base
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if case.content_type:
            headers["Content-Type"] = case.content_type
        if case.chunked:
            chunks = (case.body[i : i + 4096] for i in range(0, len(case.body), 4096))
            conn.request(method, path, body=chunks, headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=case.body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a request of the corpus could store or change."""
    with engine.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT to_jsonb(t) FROM {table} t ORDER BY id"))
            .scalars()
            .all()
            for table in (
                "users",
                "api_tokens",
                "services",
                "maintenances",
                "incidents",
                "incident_updates",
                "status_pages",
                "page_subscriptions",
            )
        }


@pytest.fixture
def hostile_server(make_runtime: Callable[..., Runtime], serve: Callable[[Any], str]) -> str:
    """The API over real HTTP (chunked bodies need it), with response validation on, a small
    body limit and attempt limits no corpus reaches."""
    runtime = make_runtime(auth_rate_limit="100000/minute", max_request_bytes=MAX_REQUEST_BYTES)
    return serve(create_app(runtime, validate_responses=True))


def test_every_answer_to_hostile_input_is_a_4xx_problem_and_changes_nothing(
    hostile_server: str, account: Account, db: Engine
) -> None:
    """Bugs: a body nested 500+ deep answered 500 (RecursionError), NaN reached the database
    (500), an integer of 5000 digits answered 500, a connexion 401 had no WWW-Authenticate."""
    base = hostile_server
    token = account.token
    status, _, body = send(
        base,
        "POST",
        "/v1/services",
        Case("seed", json.dumps({"name": "seed", "url": "http://127.0.0.1:9/"}).encode()),
        token,
    )
    assert status == 201, body
    service_id = json.loads(body)["id"]
    status, _, body = send(
        base, "POST", "/v1/maintenances", Case("seed", json.dumps(MAINTENANCE).encode()), token
    )
    assert status == 201, body
    maintenance_id = json.loads(body)["id"]
    incident = {"title": "t", "impact": "minor", "service_ids": [service_id], "message": "m"}
    status, _, body = send(
        base, "POST", "/v1/incidents", Case("seed", json.dumps(incident).encode()), token
    )
    assert status == 201, body
    incident_id = json.loads(body)["id"]
    status, _, body = send(
        base, "POST", "/v1/pages", Case("seed", json.dumps(PAGE).encode()), token
    )
    assert status == 201, body
    before = snapshot(db)

    failures: list[str] = []
    sent = 0
    for operation in operations(account, service_id, maintenance_id, incident_id):
        for case in cases(operation):
            for who, credential in (("token", token), ("anonymous", None)):
                sent += 1
                status, headers, answer = send(
                    base, operation.method, operation.path, case, credential
                )
                where = f"{operation.method} {operation.path} [{who}] {case.name}: {status}"
                if not 400 <= status < 500:
                    failures.append(f"{where} {answer[:200]!r}")
                elif headers.get("content-type") != "application/problem+json":
                    failures.append(f"{where} content-type {headers.get('content-type')}")
                elif status == 401 and headers.get("www-authenticate") != "Bearer":
                    failures.append(f"{where} without WWW-Authenticate: Bearer")
    assert not failures, f"{len(failures)} of {sent} answers were wrong:\n" + "\n".join(failures)
    assert snapshot(db) == before


def _example_path(path: str) -> str:
    """`path` with its parameters as `operations` fills them in by default."""
    for name, value in (("service_id", 1), ("maintenance_id", 1), ("incident_id", 1)):
        path = path.replace(f"{{{name}}}", str(value))
    return path.replace("{slug}", PAGE["slug"])


def test_every_body_operation_is_covered(account: Account) -> None:
    """The corpus names every operation of the contract that takes a body."""
    import yaml

    from statuschecker.resources import SPEC

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    with_body = {
        (method.upper(), "/v1" + _example_path(path))
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "requestBody" in op
    }
    assert {(op.method, op.path) for op in operations(account, 1)} == with_body


def test_a_chunked_body_is_accepted(hostile_server: str, account: Account) -> None:
    """Bug: a body sent with Transfer-Encoding: chunked (no Content-Length) was refused as
    missing, "RequestBody is required", even 60 bytes of it."""
    body = json.dumps({"name": "chunked", "url": "http://127.0.0.1:9/"}).encode()
    status, _, answer = send(
        hostile_server, "POST", "/v1/services", Case("chunked", body, chunked=True), account.token
    )
    assert status == 201, answer
    assert json.loads(answer)["name"] == "chunked"


def test_a_chunked_body_over_the_limit_is_refused_before_its_end(
    hostile_server: str, account: Account
) -> None:
    """A chunked body answers 413 as soon as it passes the limit: the client gets its answer
    while the rest of the body is still unsent."""
    url = urlsplit(hostile_server)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n"
            + f"Authorization: Bearer {account.token}\r\n\r\n".encode()
        )
        chunk = b"a" * 8192
        for _ in range(MAX_REQUEST_BYTES // len(chunk) + 1):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # The terminating chunk is never sent.
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer


def test_401_without_a_token_names_the_bearer_scheme(client: Any, make_client: Any) -> None:
    """Bug: Connexion's own 401, for a request with no token, carried no WWW-Authenticate."""
    anonymous = make_client()
    response = anonymous.get("/v1/services")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (deep(MAX_DEPTH), False),
        (deep(MAX_DEPTH + 1), True),
        (deep_object(MAX_DEPTH), False),
        (deep_object(MAX_DEPTH + 1), True),
        ("[" + ",".join([deep(MAX_DEPTH - 1)] * 40) + "]", False),  # many brackets, shallow
        ('["' + "[" * 100 + '"]', False),  # brackets inside a string do not nest
        (deep(5000), True),  # past the interpreter's recursion limit
    ],
)
def test_nesting_is_bounded_at_max_depth(body: str, refused: bool) -> None:
    if refused:
        with pytest.raises(BadRequestProblem, match="deeper than 32 levels"):
            parse_json(body)
    else:
        parse_json(body)
