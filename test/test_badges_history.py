"""The history behind uptime bars and the SVG badges: figures from recorded checks, and shown
without a token for public services only."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accounts import Account

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.runtime import Runtime

SVG = "{http://www.w3.org/2000/svg}"


def up(ms: float) -> CheckResult:
    return CheckResult(up=True, response_time_ms=ms, status_code=200)


DOWN = CheckResult(up=False, error="connection refused")


@pytest.fixture
def world(
    make_runtime: Callable[..., Runtime], make_client: Callable[..., Any], account: Account
) -> tuple[Any, Any, Callable[..., int], Callable[..., None]]:
    """The owner's client, an anonymous client, and ways to register services of the owner and
    record results for them. Both go through a runtime of their own (as a poller's would be),
    so the API's runtime has cached nothing of a service before the test first reads it."""
    # For its recorder; never started; one failure confirms down.
    runtime = make_runtime(with_poller=True, confirm_down_after=1)
    recorder = runtime.poller._recorder  # type: ignore[union-attr]

    def register(name: str, public: bool) -> int:
        return runtime.services.register(account.caller, name, "http://a.test/", public=public).id

    def record(service_id: int, *results: tuple[datetime, CheckResult]) -> None:
        recorder.record([CheckOutcome(service_id, at, r) for at, r in results], "test")

    return make_client(account), make_client(), register, record


def test_history_has_a_bucket_per_hour_or_day_with_the_recorded_figures(world: tuple) -> None:
    owner, _, register, record = world
    service = register("site", public=False)
    now = datetime.now(UTC)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    earlier = this_hour - timedelta(hours=3)
    days_ago = this_hour - timedelta(days=3)
    record(
        service,
        (days_ago, up(40.0)),
        (earlier, up(10.0)),
        (earlier + timedelta(minutes=1), DOWN),
        (earlier + timedelta(minutes=2), up(30.0)),
        (this_hour, up(5.0)),
    )
    day = owner.get(f"/v1/services/{service}/history").json()
    assert (day["window"], day["bucket_seconds"], len(day["buckets"])) == ("24h", 3600, 24)
    buckets = day["buckets"]
    assert buckets[-1]["start"] == this_hour.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert buckets[-4] == {
        "start": earlier.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "checks": 3,
        "successful": 2,
        "availability_percent": pytest.approx(200 / 3),
        "avg_response_time_ms": 20.0,
        "max_response_time_ms": 30.0,
    }
    assert buckets[-1]["checks"] == 1 and buckets[-1]["avg_response_time_ms"] == 5.0
    empty = buckets[0]
    assert (empty["checks"], empty["availability_percent"], empty["avg_response_time_ms"]) == (
        0,
        None,
        None,
    )
    assert sum(b["checks"] for b in buckets) == 4, "three days ago is outside the last 24 h"

    week = owner.get(f"/v1/services/{service}/history?window=7d").json()
    assert (week["bucket_seconds"], len(week["buckets"])) == (86400, 7)
    assert sum(b["checks"] for b in week["buckets"]) == 5
    assert week["buckets"][-1]["start"] == now.strftime("%Y-%m-%dT00:00:00Z")
    month = owner.get(f"/v1/services/{service}/history?window=30d").json()
    assert len(month["buckets"]) == 30
    quarter = owner.get(f"/v1/services/{service}/history?window=90d").json()
    assert (quarter["bucket_seconds"], len(quarter["buckets"])) == (86400, 90)
    assert sum(b["checks"] for b in quarter["buckets"]) == 5
    assert quarter["buckets"][-1]["start"] == now.strftime("%Y-%m-%dT00:00:00Z")
    assert owner.get(f"/v1/services/{service}/history?window=1y").status_code == 400


def test_history_and_badges_of_a_private_service_are_not_shown_without_a_token(
    world: tuple, make_account: Callable[..., Account], make_client: Callable[..., Any]
) -> None:
    owner, anonymous, register, _ = world
    private = register("db", public=False)
    stranger = make_client(make_account("stranger@example.com"))
    for path in ("history", "badge/status.svg", "badge/uptime.svg"):
        assert owner.get(f"/v1/services/{private}/{path}").status_code == 200, path
        for other in (anonymous, stranger):
            refused = other.get(f"/v1/services/{private}/{path}")
            assert refused.status_code == 404, path
            assert refused.headers["content-type"] == "application/problem+json"
    public = register("site", public=True)
    assert anonymous.get(f"/v1/services/{public}/history").status_code == 200


def badge_texts(response: Any) -> tuple[list[str], list[str]]:
    """The badge's texts and fill colours, from a response that must be an SVG document."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    assert root.tag == f"{SVG}svg" and int(root.attrib["width"]) > 0
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    fills = [r.attrib["fill"] for r in root.iter(f"{SVG}rect")]
    return texts, fills


def test_the_status_badge_says_the_current_state(world: tuple) -> None:
    owner, anonymous, register, record = world
    now = datetime.now(UTC)
    fine, broken, resting, new = (register(n, True) for n in ("A & <B>", "b", "c", "d"))
    record(fine, (now, up(10.0)))
    record(broken, (now - timedelta(minutes=1), up(10.0)), (now, DOWN))
    owner.patch(f"/v1/services/{resting}", json={"paused": True})
    shown = {
        sid: badge_texts(anonymous.get(f"/v1/services/{sid}/badge/status.svg"))
        for sid in (fine, broken, resting, new)
    }
    assert shown == {
        fine: (["A & <B>", "up"], ["#555", "#4c1"]),
        broken: (["b", "down"], ["#555", "#e05d44"]),
        resting: (["c", "paused"], ["#555", "#9f9f9f"]),
        new: (["d", "unknown"], ["#555", "#9f9f9f"]),
    }


@pytest.mark.parametrize(
    ("ups", "downs", "message", "colour"),
    [(4, 0, "100%", "#4c1"), (3, 1, "75%", "#e05d44"), (19, 1, "95%", "#dfb317")],
)
def test_the_uptime_badge_says_the_availability_of_its_window(
    world: tuple, ups: int, downs: int, message: str, colour: str
) -> None:
    _, anonymous, register, record = world
    service, unchecked = register("site", public=True), register("new", True)
    start = datetime.now(UTC) - timedelta(hours=5)
    results = [up(10.0)] * ups + [DOWN] * downs
    record(service, *[(start + timedelta(minutes=i), r) for i, r in enumerate(results)])
    for window in ("24h", "7d", "30d"):
        shown = anonymous.get(f"/v1/services/{service}/badge/uptime.svg?window={window}")
        assert badge_texts(shown) == ([f"uptime {window}", message], ["#555", colour])
    nothing = anonymous.get(f"/v1/services/{unchecked}/badge/uptime.svg")
    assert badge_texts(nothing) == (["uptime 30d", "no data"], ["#555", "#9f9f9f"])
