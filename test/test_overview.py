"""GET /v1/services:stats, the dense view's one request: every service's row with figures from
recorded checks (the last one, 24 hours, 30 days, the hourly sparkline), sorted by each
column, filtered, paged, and only the caller's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accounts import Account

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.runtime import Runtime


def up(ms: float) -> CheckResult:
    return CheckResult(up=True, response_time_ms=ms, status_code=200)


DOWN = CheckResult(up=False, error="connection refused")


@pytest.fixture
def shop(
    make_runtime: Callable[..., Runtime],
    make_client: Callable[..., Any],
    account: Account,
    make_account: Callable[..., Account],
) -> tuple[Any, dict[str, int]]:
    """The owner's client and its services by name, with checks recorded:
    web (group shop, tag eu): up at 10 ms 3 hours ago, up at 30 ms now: 100 % and 100 %;
    api (group shop): up 10 days ago, down an hour ago and now: 0 % and 33.3 %;
    db (no group, tag eu): never checked;
    another account's service, which the owner never sees."""
    runtime = make_runtime(with_poller=True, confirm_down_after=1)
    recorder = runtime.poller._recorder  # type: ignore[union-attr]
    register = runtime.services.register
    ids = {
        "web": register(account.caller, "web", "http://a.test/", group="shop", tags=["eu"]).id,
        "api": register(account.caller, "api", "http://b.test/", group="shop").id,
        "db": register(account.caller, "db", "tcp://c.test:5432", tags=["eu"]).id,
    }
    stranger = make_account("stranger@example.com")
    register(stranger.caller, "theirs", "http://d.test/")

    def record(name: str, *results: tuple[datetime, CheckResult]) -> None:
        recorder.record([CheckOutcome(ids[name], at, r) for at, r in results], "test")

    now = datetime.now(UTC)  # at the test: the hours the answer counts are this hour's
    hour = now.replace(minute=0, second=0, microsecond=0)
    record("web", (hour - timedelta(hours=3), up(10.0)), (now, up(30.0)))
    record("api", (now - timedelta(days=10), up(50.0)), (hour - timedelta(hours=1), DOWN),
           (now, DOWN))  # fmt: skip
    return make_client(account), ids


def rows(client: Any, query: str = "") -> dict[str, Any]:
    answer = client.get(f"/v1/services:stats{query}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_each_row_has_its_figures_from_the_recorded_checks(shop: tuple[Any, dict]) -> None:
    client, ids = shop
    found = rows(client)
    assert found["total"] == 3 and found["next_cursor"] is None
    by_name = {row["name"]: row for row in found["data"]}
    assert list(by_name) == ["api", "db", "web"]  # by name; the stranger's is not there
    web, api, db = by_name["web"], by_name["api"], by_name["db"]
    assert {k: web[k] for k in ("id", "group", "kind", "public", "tags", "status")} == {
        "id": ids["web"], "group": "shop", "kind": "http", "public": False, "tags": ["eu"],
        "status": "up",
    }  # fmt: skip
    assert (web["response_time_ms"], web["uptime_24h"], web["uptime_30d"]) == (30.0, 100.0, 100.0)
    assert (api["status"], api["response_time_ms"], api["uptime_24h"]) == ("down", None, 0.0)
    assert api["uptime_30d"] == pytest.approx(100 / 3)
    assert (db["status"], db["last_checked_at"], db["uptime_24h"], db["uptime_30d"]) == (
        "unknown", None, None, None
    )  # fmt: skip
    hourly = web["hourly"]
    assert hourly["checks"] == [0] * 20 + [1, 0, 0, 1]  # 3 hours ago and now
    assert hourly["availability_percent"] == [None] * 20 + [100.0, None, None, 100.0]
    assert hourly["avg_response_time_ms"] == [None] * 20 + [10.0, None, None, 30.0]
    assert api["hourly"]["availability_percent"][-2:] == [0.0, 0.0]
    assert api["hourly"]["avg_response_time_ms"][-2:] == [None, None]
    assert db["hourly"] == {"checks": [0] * 24, "availability_percent": [None] * 24,
                            "avg_response_time_ms": [None] * 24}  # fmt: skip


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?sort=name&order=desc", ["web", "db", "api"]),
        ("?sort=status", ["api", "db", "web"]),  # down, unknown, up: the worst first
        ("?sort=uptime_24h", ["api", "web", "db"]),  # db has none: last either way
        ("?sort=uptime_24h&order=desc", ["web", "api", "db"]),
        ("?sort=uptime_30d", ["api", "web", "db"]),
        ("?sort=response_time&order=desc", ["web", "api", "db"]),  # api's last got none
        ("?sort=group", ["api", "web", "db"]),  # ties by name; no group last
        ("?group=shop", ["api", "web"]),
        ("?tag=eu", ["db", "web"]),
        ("?name=A", ["api"]),
        ("?status=down", ["api"]),
    ],
)
def test_rows_sort_by_each_column_and_filter(
    shop: tuple[Any, dict], query: str, names: list[str]
) -> None:
    client, _ = shop
    found = rows(client, query)
    assert [row["name"] for row in found["data"]] == names
    assert found["total"] == len(names)


def test_pages_follow_the_sort_without_overlap(shop: tuple[Any, dict]) -> None:
    client, _ = shop
    first = rows(client, "?sort=uptime_24h&limit=2")
    assert [row["name"] for row in first["data"]] == ["api", "web"] and first["total"] == 3
    second = rows(client, f"?sort=uptime_24h&limit=2&cursor={first['next_cursor']}")
    assert ([row["name"] for row in second["data"]], second["next_cursor"]) == (["db"], None)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("?sort=colour", "query parameter 'sort'"),
        ("?order=up", "query parameter 'order'"),
        ("?limit=501", "query parameter 'limit'"),
        ("?cursor=nope", "query parameter 'cursor'"),
        ("?group=%20", "query parameter 'group'"),
    ],
)
def test_bad_parameters_are_named(shop: tuple[Any, dict], query: str, detail: str) -> None:
    client, _ = shop
    answer = client.get(f"/v1/services:stats{query}")
    assert answer.status_code == 400 and detail in answer.json()["detail"], answer.text


def test_without_a_token_there_are_no_rows(make_client: Callable[..., Any]) -> None:
    assert make_client().get("/v1/services:stats").status_code == 401


def test_checks_recorded_after_a_request_show_in_the_next(
    shop: tuple[Any, dict], make_runtime: Callable[..., Runtime]
) -> None:
    """Each API process keeps what it read of the rollups: a check of the current hour, and
    one recorded late into a closed hour (which moves no figure of the current hour), must
    both show in the next answer."""
    client, ids = shop
    web = rows(client, "?sort=uptime_24h")["data"][1]
    assert (web["name"], web["uptime_24h"], web["hourly"]["checks"][-4:]) == (
        "web", 100.0, [1, 0, 0, 1]
    )  # fmt: skip
    recorder = make_runtime(with_poller=True).poller._recorder  # type: ignore[union-attr]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    recorder.record([CheckOutcome(ids["web"], hour - timedelta(hours=2), DOWN)], "test")
    web = rows(client, "?sort=uptime_24h")["data"][1]
    assert (web["uptime_24h"], web["hourly"]["checks"][-4:]) == (100 * 2 / 3, [1, 1, 0, 1])
    assert web["hourly"]["availability_percent"][-3] == 0.0
    recorder.record([CheckOutcome(ids["web"], datetime.now(UTC), up(50.0))], "test")
    web = rows(client, "?sort=uptime_24h")["data"][1]
    assert (web["uptime_24h"], web["response_time_ms"], web["hourly"]["checks"][-1]) == (
        75.0, 50.0, 2
    )  # fmt: skip
