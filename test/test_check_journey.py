"""The journey check, against a small shop API on 127.0.0.1: log in for a token, place an order
with it, read the order back; and each way a step can fail."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from accounts import ALL
from localserver import ServingThread
from peers import run

from statuschecker.checks import journey, run_check, validate_options, warnings
from statuschecker.model import CheckLimits, CheckResult, CheckSpec
from statuschecker.redaction import MASK, masked_options, unmasked_steps

PASSWORD = "hunter2-shop"
TIMEOUT = 3.0


class Shop(BaseHTTPRequestHandler):
    """POST /login {"user", "password"} → {"data": {"token"}}; POST /orders (Bearer token) →
    201 {"id"}, Location /orders/<id>; GET /orders/<id> (Bearer token) → {"id", "state"};
    GET /whoami (Bearer token) → {"token"}; GET /slow waits for the test to end."""

    tokens: set[str]
    orders: dict[str, str]
    released: threading.Event
    seen: list[tuple[str, str, str | None]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(("POST", self.path, self.headers.get("Authorization")))
        if self.path == "/login":
            given = json.loads(body or b"{}")
            if given.get("password") != PASSWORD:
                return self._send(401, {"error": "bad credentials"})
            token = secrets.token_hex(16)
            self.tokens.add(token)
            return self._send(200, {"data": {"token": token, "user": given.get("user")}})
        if self.path == "/orders" and self._authorised():
            order = str(len(self.orders) + 41)
            self.orders[order] = "placed"
            return self._send(201, {"id": int(order)}, {"Location": f"/orders/{order}"})
        return self._send(401, {"error": "no token"})

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, self.headers.get("Authorization")))
        if self.path == "/slow":
            self.released.wait(5)
            return self._send(200, {})
        if self.path == "/whoami" and self._authorised():
            return self._send(200, {"token": self.headers["Authorization"].split()[1]})
        order = self.path.removeprefix("/orders/")
        if not self._authorised():
            return self._send(401, {"error": "no token"})
        if order not in self.orders:
            return self._send(404, {"error": "no such order"})
        return self._send(200, {"id": int(order), "state": self.orders[order]})

    def _authorised(self) -> bool:
        return self.headers.get("Authorization", "").removeprefix("Bearer ") in self.tokens

    def _send(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[tuple[str, type[Shop]]]:
    """The shop's journey+http base URL, and its handler class (what it saw, its orders)."""
    handler: type[Shop] = type(
        "ShopHandler",
        (Shop,),
        {"tokens": set(), "orders": {}, "released": threading.Event(), "seen": []},
    )
    serving = ServingThread(ThreadingHTTPServer(("127.0.0.1", 0), handler), "shop")
    yield f"journey+http://127.0.0.1:{serving.server.server_address[1]}", handler
    handler.released.set()
    serving.close()


def steps(expected_state: str = "placed") -> list[dict[str, Any]]:
    """Log in, capture the token; place an order with it, capture its id; read it back."""
    return [
        {
            "name": "log in",
            "method": "POST",
            "url": "/login",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"user": "ada", "password": PASSWORD}),
            "captures": {"token": {"json": "data.token"}},
        },
        {
            "name": "order",
            "method": "POST",
            "url": "/orders",
            "headers": {"Authorization": "Bearer {{token}}"},
            "expected_status": [201],
            "captures": {"id": {"json": "id"}, "where": {"header": "Location"}},
        },
        {
            "name": "read back",
            "url": "/orders/{{id}}",
            "headers": {"Authorization": "Bearer {{token}}"},
            "json_field": "state",
            "json_value": expected_state,
        },
    ]


def check(url: str, given: list[dict[str, Any]], timeout: float = TIMEOUT) -> CheckResult:
    options = validate_options(url, {"steps": given or None})
    return run(run_check, CheckSpec(url, timeout, CheckLimits(), options))[0]


def step_results(result: CheckResult) -> list[dict[str, Any]]:
    return json.loads(result.steps or "null")


def test_a_journey_logs_in_and_uses_its_token_on_two_more_steps(
    shop: tuple[str, type[Shop]],
) -> None:
    url, handler = shop
    result = check(url, steps())
    assert (result.up, result.error, result.status_code) == (True, None, 200), result
    recorded = step_results(result)
    assert [(s["name"], s["up"], s["status_code"]) for s in recorded] == [
        ("log in", True, 200),
        ("order", True, 201),
        ("read back", True, 200),
    ]
    assert all(s["response_time_ms"] > 0 and s["error"] is None for s in recorded)
    assert (result.response_time_ms or 0) >= sum(s["response_time_ms"] for s in recorded)
    (token,) = handler.tokens
    assert [(m, p, a) for m, p, a in handler.seen] == [
        ("POST", "/login", None),
        ("POST", "/orders", f"Bearer {token}"),
        ("GET", "/orders/41", f"Bearer {token}"),
    ]
    assert token not in (result.steps or "")  # a captured secret is never recorded


def test_a_broken_expectation_fails_at_its_step_with_its_reason(
    shop: tuple[str, type[Shop]],
) -> None:
    url, _ = shop
    result = check(url, steps(expected_state="shipped"))
    assert not result.up and result.error == (
        "step 3 (read back): json field state is 'placed', expected 'shipped'"
    )
    assert [s["up"] for s in step_results(result)] == [True, True, False]


@pytest.mark.parametrize(
    ("change", "error", "ran"),
    [
        (
            {0: {"body": json.dumps({"user": "ada", "password": "wrong"})}},
            "step 1 (log in): status 401 not in 200-299",
            1,
        ),
        (
            {1: {"captures": {"id": {"json": "order.id"}}}},
            "step 2 (order): capture 'id': json field order.id is missing"
            " (or the body is not JSON)",
            2,
        ),
        (
            {1: {"captures": {"id": {"regex": "number=(\\d+)"}}}},
            "step 2 (order): capture 'id': body does not match 'number=(\\\\d+)'",
            2,
        ),
        (
            {1: {"captures": {"id": {"header": "X-Order"}}}},
            "step 2 (order): capture 'id': no header X-Order",
            2,
        ),
        (
            {2: {"url": "/orders/{{id}}0"}},
            "step 3 (read back): status 404 not in 200-299; json field state is missing",
            3,
        ),
    ],
)
def test_each_failure_names_its_step_and_stops_the_journey(
    shop: tuple[str, type[Shop]], change: dict[int, dict[str, Any]], error: str, ran: int
) -> None:
    url, handler = shop
    given = steps()
    for index, fields in change.items():
        given[index] = {**given[index], **fields}
    result = check(url, given)
    assert (result.up, result.error) == (False, error), result
    assert len(step_results(result)) == ran == len(handler.seen)


def test_a_regex_and_a_header_capture_feed_later_steps(shop: tuple[str, type[Shop]]) -> None:
    url, handler = shop
    given = steps()
    given[1]["captures"] = {"where": {"header": "Location"}, "id": {"regex": '"id": (\\d+)'}}
    given[2]["url"] = "{{where}}"
    assert check(url, given).up
    assert handler.seen[-1][1] == "/orders/41"


def test_a_token_quoted_in_an_error_is_masked(shop: tuple[str, type[Shop]]) -> None:
    url, handler = shop
    whoami = {"name": "who", "url": "/whoami", "headers": {"Authorization": "Bearer {{token}}"},
              "json_field": "token", "json_value": "someone else"}  # fmt: skip
    result = check(url, [steps()[0], whoami])
    assert result.error == (
        f"step 2 (who): json field token is '{MASK}', expected 'someone else'"
    ), result
    (token,) = handler.tokens
    assert token not in str(result)


def test_the_journey_shares_the_services_timeout(shop: tuple[str, type[Shop]]) -> None:
    url, _ = shop
    given = [*steps(), {"name": "slow", "url": "/slow"}]
    result, elapsed = run(
        run_check, CheckSpec(url, 0.6, CheckLimits(), validate_options(url, {"steps": given}))
    )
    assert result.error == "step 4 (slow): timeout (the journey's 0.6s)", result
    assert elapsed < 1.2


def test_the_target_policy_holds_on_every_step(shop: tuple[str, type[Shop]]) -> None:
    url, handler = shop
    options = validate_options(url, {"steps": steps()})
    limits = CheckLimits(allow_private_targets=False)
    result, _ = run(run_check, CheckSpec(url, TIMEOUT, limits, options))
    assert result.error == (
        "step 1 (log in): refused by target policy: 127.0.0.1 is a loopback address"
    )
    assert handler.seen == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "steps must be a list of 1 to 10 steps"),
        ([{"url": "/a"}] * 11, "steps must be a list of 1 to 10 steps"),
        ([{"url": "/a", "color": "red"}], "steps[0].color: not a field of a step"),
        ([{"method": "GET"}], "steps[0].url: must be a URL or a path"),
        ([{"url": "/a", "captures": {"t": {"xpath": "a"}}}], "steps[0].captures.t: must be one"),
        ([{"url": "/a", "captures": {"t": {"json": "a..b"}}}], "steps[0].captures.t.json: must"),
        ([{"url": "/a", "method": "FETCH"}], "steps[0].method must be one of"),
    ],
)
def test_steps_the_contract_refuses_are_refused(given: list[Any], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        journey.options("journey+https://shop.example", {"steps": given})
    assert str(refused.value).startswith(message), refused.value


def test_what_the_contract_cannot_say_is_kept_and_named_and_fails_its_step(
    shop: tuple[str, type[Shop]],
) -> None:
    given: list[dict[str, Any]] = [
        {"url": "/a", "headers": {"X-T": "{{t}}"}, "captures": {"t": {"json": "t"}}},
        {"url": "ftp://x/", "name": "step 1"},
        {"url": "/b/{{nope}}", "captures": {"1x": {"regex": "("}}},
    ]
    kept = journey.options("journey+https://shop.example", {"steps": given})
    assert [step["url"] for step in kept["steps"]] == ["/a", "ftp://x/", "/b/{{nope}}"]
    assert journey.advice(kept) == [
        "steps[0].headers.X-T: {{t}} is not captured by an earlier step",
        "steps[1].url: 'ftp://x/' is not an http(s) URL or a path",
        "steps[1].name: 'step 1' names an earlier step too",
        "steps[2].url: {{nope}} is not captured by an earlier step",
        "steps[2].captures.1x: unusable as {{name}}: a name is a letter or _ then up to 31 "
        "letters, digits or _",
        "steps[2].captures.1x.regex: not a valid regular expression (missing ) at position 1)",
    ]
    url, handler = shop
    assert check(url, given).error == "step 1 (step 1): {{t}} is not captured"
    refused_login = {"url": "/login", "method": "POST", "expected_status": [401]}
    assert check(url, [refused_login, given[1]]).error == (
        "step 2 (step 1): 'ftp://x/' is not an http(s) URL or a path"
    )
    assert len(handler.seen) == 1  # a step that cannot be sent is not


def test_a_journey_without_steps_gets_its_base(shop: tuple[str, type[Shop]]) -> None:
    url, handler = shop
    result = check(url + "/orders/1", [])
    assert result.error == "step 1 (step 1): status 401 not in 200-299", result
    assert handler.seen == [("GET", "/orders/1", None)]


def test_journey_urls_are_routed_here_and_take_no_query() -> None:
    given = {"steps": [{"url": "/health"}]}
    assert validate_options("JOURNEY+HTTPS://shop.example/api", given) == given
    with pytest.raises(ValueError, match=r"^url: a journey"):
        journey.options("journey+https://shop.example/?a=1", given)
    assert warnings("journey+https://shop.example", given, 60, 10) == []


def test_a_journey_is_registered_checked_with_stats_per_step_and_its_secrets_masked(
    make_runtime: Callable[..., Any], account: Any, shop: tuple[str, type[Shop]]
) -> None:
    from waiting import wait_until

    from web.app import create_app

    url, _ = shop
    given = steps()
    given[0]["headers"]["X-Api-Key"] = "k3y-s3cret"
    runtime = make_runtime(with_poller=True)
    with create_app(runtime).test_client(headers=account.headers) as client:
        body = {"name": "shop", "url": url, "steps": given, "interval_seconds": 1}
        created = client.post("/v1/services", json=body)
        assert created.status_code == 201, created.text
        shown = created.json()
        assert shown["kind"] == "journey"
        assert shown["check_options"]["steps"][0]["headers"]["X-Api-Key"] == MASK
        assert "k3y-s3cret" not in created.text
        path = f"/v1/services/{shown['id']}"
        wait_until(lambda: len(client.get(f"{path}/ticks").json()["data"]) >= 2, timeout=15)
        (tick, *_) = client.get(f"{path}/ticks").json()["data"]
        assert [s["name"] for s in tick["steps"]] == ["log in", "order", "read back"]
        figures = client.get(f"{path}/stats").json()["steps_ms"]
        assert [(f["name"], f["failed"]) for f in figures] == [
            ("log in", 0), ("order", 0), ("read back", 0)
        ]  # fmt: skip
        assert all(f["runs"] >= 2 and f["avg"] > 0 and f["p95"] >= f["avg"] * 0.5 for f in figures)
        # Sent back as shown, the masked header keeps its stored value.
        changed = client.patch(path, json={"steps": shown["check_options"]["steps"][:2]})
        assert changed.status_code == 200, changed.text
    stored = runtime.services.get(shown["id"], ALL)
    assert stored.check_options["steps"][0]["headers"]["X-Api-Key"] == "k3y-s3cret"
    assert len(stored.check_options["steps"]) == 2


def test_steps_are_shown_masked_and_sent_back_as_shown_keep_their_secrets() -> None:
    stored: list[dict[str, Any]] = [
        {"url": "https://u:pw@h.example/x?token=abc&page=2",
         "headers": {"Authorization": "Bearer s3", "X-Trace": "1"}},
        {"url": "/b/{{id}}", "body": "{}"},
    ]  # fmt: skip
    shown = masked_options({"steps": stored})["steps"]
    assert shown == [
        {"url": f"https://u:{MASK}@h.example/x?token={MASK}&page=2",
         "headers": {"Authorization": MASK, "X-Trace": "1"}},
        {"url": "/b/{{id}}", "body": "{}"},
    ]  # fmt: skip
    assert unmasked_steps(shown, stored) == stored
    changed = [{**shown[0], "headers": {"Authorization": "Bearer new"}}, *shown[1:], {"url": "/c"}]
    assert unmasked_steps(changed, stored) == [
        {**stored[0], "headers": {"Authorization": "Bearer new"}},
        stored[1],
        {"url": "/c"},
    ]


def test_a_capture_name_postgresql_cannot_store_is_kept_storable_and_named() -> None:
    kept = journey.options(
        "journey+https://shop.example",
        {"steps": [{"url": "/", "captures": {"a\x00b": {"json": "a"}}}]},
    )
    assert list(kept["steps"][0]["captures"]) == ["a\ufffdb"]
    assert journey.advice(kept)[0].startswith("steps[0].captures.a\ufffdb: unusable as {{name}}")


def test_the_api_keeps_what_the_contract_cannot_bound_of_a_step_storable(client: Any) -> None:
    """Header and capture names, and json_value, are free text the contract cannot bound: a
    NUL in them is kept storable, as in a service's own headers, not refused."""
    step = {"url": "/", "headers": {"X-\u0000": "1"}, "json_field": "a",
            "json_value": "b\u0000", "captures": {"c\u0000": {"json": "a"}}}  # fmt: skip
    created = client.post(
        "/v1/services", json={"name": "odd", "url": "journey+http://127.0.0.1:9", "steps": [step]}
    )
    assert created.status_code == 201, created.text
    (kept,) = created.json()["check_options"]["steps"]
    assert (list(kept["headers"]), kept["json_value"], list(kept["captures"])) == (
        ["X-\ufffd"],
        "b\ufffd",
        ["c\ufffd"],
    )
    assert any("captures.c\ufffd: unusable" in w for w in created.json()["warnings"])
