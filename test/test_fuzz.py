"""A property-based fuzz run of the whole API from openapispec.yaml (schemathesis).

Every operation of the contract gets a bounded number of generated requests, valid ones and
invalid ones, sent over real HTTP to the app served on 127.0.0.1 and authenticated as a normal
account. Each answer must be no 5xx, carry a status code, content type and headers the
contract documents for the operation, have a body that conforms to the contract's schema, and,
for invalid input, be a 4xx. Generation is derandomized and the example database is off, so a
run repeats the one before it and writes nothing into the repository.

The runtime has no poller, so nothing registered here is ever checked: fuzzed URLs would send
traffic off the machine. Private targets stay allowed (the default), so registration resolves
no names; a guard on `socket.getaddrinfo` fails the run should anything try.
"""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from accounts import Account
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import Engine, text

from statuschecker.runtime import Runtime
from web.app import BASE_PATH, SPEC, create_app

EXAMPLES_PER_OPERATION = 25
"""Hypothesis examples of the fuzzing phase per operation (the coverage and examples phases add
their own, fewer, deterministic cases)."""

SEED = 20240611

# Hypothesis keeps caches (and its example database, which is off here) under its home
# directory, `.hypothesis` in the working directory unless told otherwise; schemathesis fills
# them while it builds the tests, at collection. Keep them out of the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "statuschecker-hypothesis")


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Host names something tried to resolve: each lookup of a name (not an IP address) fails
    and is recorded, so the test can prove that no DNS query left the machine."""
    real_getaddrinfo = socket.getaddrinfo
    names: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(text)
        except ValueError:
            if text != "localhost":
                names.append(text)
                raise socket.gaierror(
                    socket.EAI_NONAME, "lookups are off in the fuzz run"
                ) from None
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def fuzz_runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    """A runtime without a poller and with log-in, sign-up and subscription limits no fuzzer
    reaches (a chain replayed must meet the answers it met first)."""
    return make_runtime(
        with_poller=False, auth_rate_limit="100000/minute", subscribe_rate_limit="100000/minute"
    )


@pytest.fixture
def fuzz_server(
    fuzz_runtime: Runtime, serve: Callable[[Any], str], lookups: list[str]
) -> Iterator[str]:
    """The API over HTTP on 127.0.0.1 with a runtime that has no poller and a log-in/sign-up
    limit no fuzzer reaches; its base URL. Response validation in the app is off: the fuzz
    checks every answer against the contract itself and names the violation, where the app's
    own validation would turn it into an opaque 500.

    Real HTTP rather than schemathesis' in-process ASGI transport: that one starts the app's
    lifespan once and keeps it until the interpreter exits, past this test's runtime. (conftest's
    `live_server` runs a poller, which a fuzz must not have.)"""
    yield serve(create_app(fuzz_runtime))
    assert not lookups, f"the fuzz run tried to resolve host names: {sorted(set(lookups))}"


KEPT = ["admin@example.com", "fuzz@example.com"]
"""The accounts that exist before the fuzz: an admin, so that a sign-up by the fuzzer is not
the first one, and the normal account the fuzz acts as."""


@pytest.fixture
def fuzz_account(make_account: Callable[..., Account]) -> Account:
    """The normal (not admin) account the fuzz acts as (an admin exists too)."""
    make_account(KEPT[0], admin=True)
    return make_account(KEPT[1])


SEEDED = [
    {
        "name": "web",
        "url": "http://user:secret@127.0.0.1:9/health",
        "public": True,
        "method": "POST",
        "headers": {"Authorization": "Bearer hidden", "Accept": "application/json"},
        "body": "{}",
        "expected_status": [200, "300-399"],
        "json_field": "checks.0.state",
        "json_value": {"ok": [1, None]},
        "max_phase_ms": {"tls": 300},
        "alert_policy": {
            "max_failures": 2,
            "webhooks": [{"url": "http://127.0.0.1:9/hook", "secret": "s3cret"}],
            "apprise_urls": ["json://127.0.0.1:9/path/with-token"],
        },
    },
    {"name": "port", "url": "tcp://127.0.0.1:9", "body": "PING", "body_contains": "PONG"},
    {"name": "ping", "url": "icmp://127.0.0.1", "packet_count": 2},
    {
        "name": "name",
        "url": "dns://example.invalid",
        "record_type": "MX",
        "resolver": "127.0.0.1:9",
    },
    {"name": "cert", "url": "tls://127.0.0.1:9", "min_cert_days": 7},
]
"""Services the fuzz account owns before the fuzz starts, one per kind with its options, so
that the operations on a service also answer about one that exists (ids 1 to 5: the coverage
phase tries the smallest id). Never checked: the runtime has no poller."""


@pytest.fixture
def seeded(
    fuzz_server: str, fuzz_runtime: Runtime, fuzz_account: Account, db: Engine
) -> Callable[[], None]:
    """Registers the SEEDED services through the API; the callable it gives puts the server
    back in that state (what the fuzz did since forgotten, ids counted from 1 again)."""

    def seed() -> None:
        with db.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE services, api_tokens, maintenances, incidents, status_pages"
                    " RESTART IDENTITY CASCADE"
                )
            )
            conn.execute(text("DELETE FROM users WHERE NOT email = ANY(:kept)"), {"kept": KEPT})
        fuzz_runtime.services.forget_all_cached()
        with httpx.Client(
            base_url=f"{fuzz_server}{BASE_PATH}", headers=fuzz_account.headers
        ) as client:
            for body in SEEDED:
                response = client.post("/services", json=body)
                assert response.status_code == 201, response.text

    seed()
    return seed


class Tally:
    """Cases sent per operation and answers per status class, reported in pytest's terminal
    summary (so visible without -s)."""

    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self.stateful: Counter[str] = Counter()

    def line(self) -> str:
        """The summary: cases, operations, and how they were answered."""
        answers = ", ".join(f"{n} {status}" for status, n in sorted(self.answers.items()))
        return (
            f"fuzz: {self.cases.total()} cases over {len(self.cases)} operations and "
            f"{self.stateful.total()} stateful calls ({answers})"
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.cases or self.stateful:
            terminalreporter.write_line(self.line())


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Tally:
    """The module's tally, registered as a plugin for the terminal summary."""
    counts = Tally()
    request.config.pluginmanager.register(counts, f"statuschecker-fuzz-tally-{id(counts)}")
    return counts


# One pytest item per operation (`@schema.parametrize()` on a schema loaded at import): the lazy
# `schemathesis.pytest.from_fixture` would share one server among all operations, but
# schemathesis 4.32 sets `Function._nodeid`, which pytest 9 no longer has.
def load(mode: str) -> Any:
    """The contract as schemathesis reads it, generating `mode` data (positive, negative, all)."""
    return schemathesis.openapi.from_path(
        SPEC,
        config=schemathesis.Config.from_dict(
            {
                "seed": SEED,
                "generation": {"mode": mode},
                # Every built-in check, positive_data_acceptance included: the contract says what
                # the server enforces, so schema-valid input is acceptable input (2xx, or a 401,
                # 403, 404, 409 or 429 that depends on who asks and on what is stored).
                "checks": {"enabled": True},
                # Except a maintenance window's schedule: the grammar of an RRULE, the names of
                # time zones, the order of its times and which services exist are beyond a JSON
                # schema, so a schema-valid window may be one the server refuses, with a 400
                # saying what is wrong (test/test_maintenances.py holds each refusal). So too a
                # configuration document, which holds windows and names what it refers to
                # (services it depends on, receivers) by name (test/test_config_apply.py). And
                # incidents and status pages, which name services that must be the caller's (a
                # page's, public ones), and whose start may not be ahead of now nor message
                # blank (test/test_written_incidents.py, test/test_status_pages.py).
                "operations": [
                    {
                        "include-operation-id-regex": (
                            "^((create|update)_(maintenance|incident|status_page)"
                            "|add_incident_update|apply_config)$"
                        ),
                        "checks": {
                            "positive_data_acceptance": {
                                "expected-statuses": [
                                    "2xx",
                                    "400",
                                    "401",
                                    "403",
                                    "404",
                                    "409",
                                    "429",
                                ]
                            }
                        },
                    },
                    # Nor does a configuration document's coverage phase go over every field of
                    # a service again (a registration's does), which would take a minute.
                    {
                        "include-operation-id": "apply_config",
                        "phases": {"coverage": {"enabled": False}},
                    },
                ],
                "phases": {
                    "examples": {"enabled": True},
                    "coverage": {"enabled": True},
                    "fuzzing": {"enabled": True},
                    "stateful": {"enabled": True},
                },
            }
        ),
    )


schema = load("all")
# The chains act with a log-in token on every call, so a case made negative by leaving out
# its Authorization header would be sent with one: they generate schema-valid data only (the
# one-call fuzz above covers the invalid).
chains_schema = load("positive")


MAX_PARENTS = 50


def well_formed_ids(values: list[Any]) -> bool:
    """Whether `values` is a non-empty `depends_on` as the contract has it: distinct int64
    ids of at least 1, `MAX_PARENTS` at the most."""
    ids = all(type(v) is int and 1 <= v < 2**63 for v in values)
    return ids and 0 < len(values) <= MAX_PARENTS and len(set(values)) == len(values)


def without_parents(body: Any) -> Any:
    """A service's `depends_on` names other services of the caller's by id: which ids those
    are is beyond the contract, and the server answers 400 naming any other (as the issue
    asks; test/test_judgement_settings.py holds each refusal). A well-formed list is sent
    empty, so that the rest of the body is still held to positive data acceptance (in every
    phase, hence here rather than in a generation hook); malformed ones are left as they are
    for the negative cases."""
    if isinstance(body, dict):
        parents = body.get("depends_on")
        if isinstance(parents, list) and well_formed_ids(parents):
            return {**body, "depends_on": []}
    return body


def within_its_locations(body: Any) -> Any:
    """A `quorum` asks for at most as many locations as the service names, a rule between two
    fields beyond the contract: the server answers 400 naming it (test/test_locations.py). A
    well-formed quorum that asks for more than the body's `locations` is left out."""
    if isinstance(body, dict) and type(body.get("quorum")) is int:
        locations = body.get("locations")
        if not isinstance(locations, list) or body["quorum"] > len(locations):
            return {k: v for k, v in body.items() if k != "quorum"}
    return body


SCHEDULE = {"interval_seconds": 60, "grace_seconds": 30}
NOT_WITH_A_SCHEDULE = ("url", "interval_seconds", "timeout_seconds", "locations", "quorum")


def with_a_valid_schedule(body: Any) -> Any:
    """A heartbeat's schedule holds a cron expression and a time zone name, whose grammar is
    beyond a JSON schema, and rules between its fields (an interval or a cron expression; the
    shortest run shorter than the longest): the server answers 400 naming what is wrong
    (test/test_heartbeats.py holds each refusal). A well-formed schedule object is sent as a
    valid one, so that the rest of the body is still held to positive data acceptance;
    malformed ones are left as they are for the negative cases.

    The contract's rule that a heartbeat has no `url`, `interval_seconds`, `timeout_seconds`,
    `locations` or `quorum` (a `not` within a `oneOf`) is one schemathesis does not keep to when it
    generates or re-validates a body, so those go from a body with a schedule; the server's
    answer to them is tested in test/test_heartbeats.py."""
    if isinstance(body, dict) and isinstance(body.get("heartbeat"), dict):
        kept = {k: v for k, v in body.items() if k not in NOT_WITH_A_SCHEDULE}
        return {**kept, "heartbeat": SCHEDULE}
    return body


FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection"})


def drop_framing(headers: MutableMapping[str, Any] | None) -> None:
    """Take out of generated headers those that frame the HTTP message: a malformed
    `Content-Length` is refused by the HTTP server (uvicorn, a text/plain 400) before any
    request reaches the app, so no contract can speak of it, and an HTTP client sets them
    itself."""
    if headers is None:
        return
    for name in [name for name in headers if name.lower() in FRAMING]:
        del headers[name]


def each_registration(fix: Callable[[Any], Any], body: Any) -> Any:
    """`fix` applied to a registration's body, or to each registration of a batch
    (`POST /services:batch`), whose items are held to the same rules."""
    if isinstance(body, dict) and isinstance(body.get("services"), list):
        return {**body, "services": [fix(item) for item in body["services"]]}
    return fix(body)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    # One server serves all the examples of an operation, on purpose: a fresh runtime and
    # database per example would cost more than the fuzz itself.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@pytest.mark.parametrize("anonymous", [False, True], ids=["with a token", "without a token"])
def test_api_conforms_to_its_contract(
    case: schemathesis.Case,
    anonymous: bool,
    fuzz_server: str,
    fuzz_account: Account,
    seeded: Callable[[], None],
    tally: Tally,
) -> None:
    """Every operation, fuzzed with the account's token and without one: no 5xx, and every
    answer is one the contract allows."""
    tally.cases[case.operation.label] += 1
    headers = {} if anonymous else fuzz_account.headers
    case.body = each_registration(
        lambda b: with_a_valid_schedule(within_its_locations(without_parents(b))), case.body
    )
    drop_framing(case.headers)
    response = case.call_and_validate(base_url=f"{fuzz_server}{BASE_PATH}", headers=headers)
    tally.answers[f"{response.status_code // 100}xx"] += 1


def checked_only(body: Any) -> Any:
    """The chains register checked services only: a heartbeat's answers hold a random ping
    key, which the chains' generation feeds on and then would not replay. A body with a
    well-formed schedule is sent with a URL instead (heartbeats are fuzzed one call at a
    time above)."""
    if isinstance(body, dict) and isinstance(body.get("heartbeat"), dict):
        kept = {k: v for k, v in body.items() if k != "heartbeat"}
        return {"url": "http://127.0.0.1:9/", **kept}
    return body


STATEFUL_SCENARIOS = 50
"""Hypothesis examples of the stateful phase: each a chain of up to STATEFUL_STEPS calls that
follows the contract's links (a registration's id into the service's reads, changes and
deletion, a token's id into its revocation)."""
STATEFUL_STEPS = 8
SERVICE_OPERATIONS_REACHED = 5
"""How many operations on one service (read, change, delete, history, ...) the chains must
see answer 2xx, not only 404: the links carry a registered service's id into them."""


def test_api_conforms_to_its_contract_statefully(
    fuzz_server: str, fuzz_account: Account, seeded: Callable[[], None], tally: Tally
) -> None:
    """Chains of calls along the links: what the fuzz creates, it then reads, changes and
    deletes, so operations on a service answer about one that exists and not only 404. Acts
    with a log-in (JWT) token, which no chain can revoke (it revokes API tokens only)."""

    class Chains(chains_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": f"{fuzz_server}{BASE_PATH}", "headers": fuzz_account.headers}

        def before_call(self, case: schemathesis.Case) -> None:
            case.body = each_registration(
                lambda b: checked_only(within_its_locations(without_parents(b))), case.body
            )

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            tally.stateful[f"{case.operation.label} {response.status_code}"] += 1
            tally.answers[f"{response.status_code // 100}xx"] += 1

        def teardown(self) -> None:
            # Each chain starts where the first did: replayed, a chain meets the same answers.
            seeded()

    Chains.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    created = sum(n for step, n in tally.stateful.items() if step.startswith("POST /services 201"))
    reached = {
        step.rsplit(" ", 1)[0]
        for step in tally.stateful
        if step.rsplit(" ", 1)[1] in ("200", "204")
    }
    on_a_service = {step for step in reached if "/services/{service_id}" in step}
    assert created > 0, tally.stateful
    assert len(on_a_service) >= SERVICE_OPERATIONS_REACHED, sorted(reached)


# Defects the fuzz run found, each guarded on its own so a smaller fuzz cannot lose it.


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/services", {"name": "a\x00b", "url": "http://127.0.0.1:9/"}),
        ("patch", "/v1/services/1", {"alert_policy": {"apprise_urls": ["json://127.0.0.1/\x00"]}}),
        ("post", "/v1/tokens", {"name": "\x00"}),
        ("post", "/v1/auth/token", {"email": "a\x00@example.com", "password": "x" * 12}),
        ("get", "/v1/services?name=a%00", None),
        ("get", "/v1/status/service/a%00b", None),
    ],
)
def test_text_with_a_nul_is_refused_not_a_500(
    client: Any, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Bug: PostgreSQL cannot store U+0000, so text holding one answered 500."""
    response = client.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # The contract's pattern refuses it first where there is one (naming U+0000, or, for a
    # long pattern, the form its description gives), the check for unstorable text where
    # there is none.
    detail = response.json()["detail"]
    assert "NUL" in detail or "u0000" in detail or "is not of the form" in detail, detail


def test_a_too_long_value_is_not_repeated_in_the_detail(client: Any) -> None:
    """Bug: the 400 for a string over its 64 KiB maxLength quoted the whole string, making a
    detail longer than the contract's own bound on details."""
    body = {"name": "n", "url": "http://127.0.0.1:9/", "body": "a" * 65537}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "aaaa" not in detail and "max length 65536" in detail


def test_405_names_every_method_served_at_the_path(client: Any) -> None:
    """Bug: Connexion routes each operation on its own, so a 405's Allow named the methods of
    one operation only (`Allow: POST` for /tokens, which serves GET too)."""
    response = client.request("put", "/v1/tokens")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, HEAD"
    assert response.headers["content-type"] == "application/problem+json"
