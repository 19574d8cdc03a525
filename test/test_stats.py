"""Statistics through the API compared with values computed directly from the inserted ticks,
over raw, rolled-up, mixed and pruned ranges, from all locations and from one."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from accounts import Account
from sqlalchemy import func, select

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.polling import retention
from statuschecker.rules.buckets import outcome_of
from statuschecker.runtime import Runtime
from statuschecker.store.tables import service_ticks
from web.app import create_app

NOW = datetime.now(UTC)
STEP = timedelta(minutes=7)  # not a divisor of an hour, so hours hold uneven counts
SPAN = timedelta(days=3)
LOCATIONS = ("default", "eu-west", "us-east")


def synthetic_outcomes(service_id: int) -> list[CheckOutcome]:
    """Three days of checks from three locations in turn: mostly up with varied times, some
    503s, timeouts and refusals, and one long outage."""
    outcomes = []
    at = NOW - SPAN
    i = 0
    while at < NOW - timedelta(seconds=30):
        outage = NOW - timedelta(hours=30) <= at < NOW - timedelta(hours=27)
        if outage or i % 11 == 0:
            result = CheckResult(up=False, error="timeout (read)")
        elif i % 13 == 0:
            result = CheckResult(
                up=False, response_time_ms=5.0, ttfb_ms=4.0, status_code=503, error="status 503"
            )
        elif i % 17 == 0:
            result = CheckResult(up=False, error="connection refused")
        else:
            rt = 20.0 + (i * 37) % 400 + (i % 7) * 0.25
            result = CheckResult(up=True, response_time_ms=rt, ttfb_ms=rt / 2, status_code=200)
        outcomes.append(CheckOutcome(service_id, at, result, location=LOCATIONS[i % 3]))
        at += STEP
        i += 1
    return outcomes


def expected(
    outcomes: list[CheckOutcome], since: datetime, until: datetime, location: str | None = None
) -> dict[str, Any]:
    inside = [
        o for o in outcomes if since <= o.checked_at < until and location in (None, o.location)
    ]
    ok = [o.result for o in inside if o.result.up]
    rts = sorted(r.response_time_ms for r in ok if r.response_time_ms is not None)
    return {
        "checks": len(inside),
        "successful": len(ok),
        "failed": len(inside) - len(ok),
        "availability_percent": 100 * len(ok) / len(inside) if inside else None,
        "avg": statistics.fmean(rts) if rts else None,
        "max": max(rts) if rts else None,
        "ttfb_avg": statistics.fmean(r.ttfb_ms for r in ok) if ok else None,  # type: ignore[misc]
        "quantiles": statistics.quantiles(rts, n=100, method="inclusive") if len(rts) > 1 else None,
        "status_codes": dict(Counter(outcome_of(o.result) for o in inside)),
    }


@pytest.fixture
def loaded(make_runtime: Callable[..., Runtime], account: Account) -> Iterator[tuple]:
    """A service with three days of recorded checks, and an API client on the database."""
    # Its recorder writes ticks, rollups and events; one failure confirms down.
    runtime = make_runtime(with_poller=True, confirm_down_after=1)
    service = runtime.services.register(account.caller, "stats", "http://127.0.0.1:1/", 60, 1)
    outcomes = synthetic_outcomes(service.id)
    recorder = runtime.poller._recorder  # type: ignore[union-attr]
    for start in range(0, len(outcomes), 100):
        recorder.record(outcomes[start : start + 100], "test")
    app = create_app(make_runtime(), validate_responses=True)
    with app.test_client(headers=account.headers) as client:
        yield client, service.id, outcomes, runtime


def stats_of(client: Any, service_id: int, **query: Any) -> dict:
    params = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in query.items()}
    response = client.get(f"/v1/services/{service_id}/stats", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def assert_matches(body: dict, want: dict, exact_percentiles: bool) -> None:
    for key in ("checks", "successful", "failed"):
        assert body[key] == want[key], key
    assert body["availability_percent"] == pytest.approx(want["availability_percent"])
    assert body["response_time_ms"]["avg"] == pytest.approx(want["avg"])
    assert body["response_time_ms"]["max"] == pytest.approx(want["max"])
    assert body["ttfb_ms"]["avg"] == pytest.approx(want["ttfb_avg"])
    assert body["status_codes"] == want["status_codes"]
    assert body["percentiles"] == ("exact" if exact_percentiles else "estimated")
    q = want["quantiles"]
    tolerance = 1e-9 if exact_percentiles else 0.10
    for name, index in (("p50", 49), ("p95", 94), ("p99", 98)):
        assert body["response_time_ms"][name] == pytest.approx(q[index], rel=tolerance), name


def test_short_windows_are_exact_from_raw_ticks(loaded: tuple) -> None:
    client, service_id, outcomes, _ = loaded
    body = stats_of(client, service_id, window_seconds=6 * 3600)
    until = datetime.fromisoformat(body["until"])
    since = datetime.fromisoformat(body["since"])
    assert until - since == timedelta(hours=6)
    assert_matches(body, expected(outcomes, since, until), exact_percentiles=True)


def test_long_ranges_mix_rollups_with_raw_edges(loaded: tuple) -> None:
    client, service_id, outcomes, _ = loaded
    since = NOW - timedelta(days=2, minutes=23, seconds=5)  # mid-hour at both ends
    until = NOW - timedelta(minutes=41)
    body = stats_of(client, service_id, since=since, until=until)
    assert datetime.fromisoformat(body["since"]) == since
    assert datetime.fromisoformat(body["until"]) == until
    assert_matches(body, expected(outcomes, since, until), exact_percentiles=False)


@pytest.mark.parametrize("location", LOCATIONS)
def test_each_location_has_its_own_figures(loaded: tuple, location: str) -> None:
    client, service_id, outcomes, _ = loaded
    body = stats_of(client, service_id, window_seconds=6 * 3600, location=location)
    since, until = parse(body["since"]), parse(body["until"])
    assert_matches(body, expected(outcomes, since, until, location), exact_percentiles=True)
    # Downtime is the service's, decided over all its locations: none is reported for one.
    assert (body["downtime_seconds"], body["downtime_periods"]) == (None, None)

    since, until = NOW - timedelta(days=2, minutes=23), NOW - timedelta(minutes=41)
    body = stats_of(client, service_id, since=since, until=until, location=location)
    assert_matches(body, expected(outcomes, since, until, location), exact_percentiles=False)

    summary = client.get(
        f"/v1/services/{service_id}/stats/summary", params={"location": location}
    ).json()["data"]
    assert summary[-1]["checks"] == sum(o.location == location for o in outcomes)

    days = client.get(
        f"/v1/services/{service_id}/history", params={"window": "7d", "location": location}
    ).json()["buckets"]
    assert sum(b["checks"] for b in days) == sum(o.location == location for o in outcomes)
    assert sum(b["successful"] for b in days) == sum(
        o.result.up for o in outcomes if o.location == location
    )


def test_all_locations_add_up_and_an_unknown_one_has_none(loaded: tuple) -> None:
    client, service_id, outcomes, _ = loaded
    days = client.get(f"/v1/services/{service_id}/history?window=7d").json()["buckets"]
    assert sum(b["checks"] for b in days) == len(outcomes)
    body = stats_of(client, service_id, window_seconds=7 * 86400, location="mars")
    assert (body["checks"], body["availability_percent"]) == (0, None)
    response = client.get(f"/v1/services/{service_id}/stats?location=Not%20One")
    assert response.status_code == 400, response.text
    assert "location" in response.json()["detail"]


def test_downtime_comes_from_events_clipped_to_the_range(loaded: tuple) -> None:
    client, service_id, outcomes, _ = loaded
    since = NOW - timedelta(hours=29)  # inside the long outage
    until = NOW - timedelta(hours=1)
    body = stats_of(client, service_id, since=since, until=until)
    # Down periods: from each failing tick after an up one until the next up tick.
    periods, seconds = 0, 0.0
    down_since = None
    for o in outcomes:
        if not o.result.up and down_since is None:
            down_since = o.checked_at
        elif o.result.up and down_since is not None:
            start, end = max(down_since, since), min(o.checked_at, until)
            if start < end:
                periods += 1
                seconds += (end - start).total_seconds()
            down_since = None
    assert body["downtime_periods"] == periods
    assert body["downtime_seconds"] == pytest.approx(seconds)


def test_pruned_hours_are_answered_whole_from_rollups(loaded: tuple) -> None:
    client, service_id, outcomes, runtime = loaded
    # Keep two days of raw ticks: the days wholly before the day two days ago go.
    kept_from = datetime.combine((NOW - timedelta(days=2)).date(), time(), UTC)
    dropped = retention.prune(runtime.engine, timedelta(days=2), now=NOW)
    # The days before go, this test's and those of partitions earlier tests left (emptied).
    assert {o.checked_at.date() for o in outcomes if o.checked_at < kept_from} <= set(dropped)
    assert max(dropped) < kept_from.date()
    with runtime.engine.connect() as conn:
        oldest, count = conn.execute(
            select(func.min(service_ticks.c.checked_at), func.count())
        ).one()
    assert oldest >= kept_from
    assert count == sum(1 for o in outcomes if o.checked_at >= kept_from)

    since = kept_from - timedelta(hours=11, minutes=20)  # mid-hour, in the pruned past
    until = NOW - timedelta(minutes=5)
    body = stats_of(client, service_id, since=since, until=until)
    widened = since.replace(minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(body["since"]) == widened  # the whole first hour
    assert datetime.fromisoformat(body["until"]) == until
    assert_matches(body, expected(outcomes, widened, until), exact_percentiles=False)

    summary = client.get(f"/v1/services/{service_id}/stats/summary").json()["data"]
    assert [w["window"] for w in summary] == ["10m", "1h", "24h", "7d", "30d", "365d"]
    year = summary[-1]
    assert year["checks"] == len(outcomes)  # rollups still hold every pruned check
    assert year["successful"] == sum(o.result.up for o in outcomes)


def test_uptime_in_the_service_representation(loaded: tuple) -> None:
    client, service_id, outcomes, _ = loaded
    # The server's hour, not NOW's: collection may have been in the hour before (a past flake).
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    service = client.get(f"/v1/services/{service_id}").json()
    day = [o for o in outcomes if o.checked_at >= hour - timedelta(hours=24)]
    assert service["uptime"]["24h"] == pytest.approx(100 * sum(o.result.up for o in day) / len(day))
    assert service["uptime"]["30d"] == pytest.approx(
        100 * sum(o.result.up for o in outcomes) / len(outcomes)
    )


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("window_seconds=0", 400, "less than the minimum"),
        ("since=noon", 400, "RFC 3339"),
    ],
)
def test_bad_ranges_are_problems(loaded: tuple, query: str, status: int, detail: str) -> None:
    client, service_id, _, _ = loaded
    response = client.get(f"/v1/services/{service_id}/stats?{query}")
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]


def test_an_empty_range_is_answered_not_refused(loaded: tuple) -> None:
    """Bug: since equal to until, an empty range and a valid question, answered 400."""
    client, service_id, _, _ = loaded
    at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    body = stats_of(client, service_id, since=at, until=at)
    assert (parse(body["since"]), parse(body["until"])) == (at, at)
    assert (body["checks"], body["availability_percent"], body["downtime_seconds"]) == (0, None, 0)


JAN, FEB = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        # Inverted: the empty range at until.
        ({"since": FEB, "until": JAN}, JAN, JAN),
        # Starting in the future: the empty range at now.
        ({"since": datetime(3000, 1, 1, tzinfo=UTC)}, "now", "now"),
        # Longer than five years: its last five years.
        ({"since": datetime(1900, 1, 1, tzinfo=UTC)}, "now - 5 years", "now"),
        # window_seconds with since: that long from since.
        ({"since": JAN, "window_seconds": 60}, JAN, JAN + timedelta(seconds=60)),
    ],
)
def test_ranges_the_contract_allows_are_answered_as_they_are_cut(
    loaded: tuple, query: dict, since: Any, until: Any
) -> None:
    """Bug: schema-valid ranges (inverted, in the future, over five years long, since with
    window_seconds) answered 400; each is answered, with the range it was cut to."""
    client, service_id, _, _ = loaded
    before = datetime.now(UTC)
    body = stats_of(client, service_id, **query)
    after = datetime.now(UTC)
    got_since, got_until = parse(body["since"]), parse(body["until"])
    # Where ticks were pruned, a partial end hour is taken whole (and the range says so).
    hour = timedelta(hours=1)
    if until == "now":
        assert before <= got_until <= after
    else:
        assert until <= got_until < until + hour
    if since == "now":
        assert got_since == got_until
    elif since == "now - 5 years":
        assert timedelta(days=366 * 5) <= got_until - got_since < timedelta(days=366 * 5) + hour
    else:
        assert got_since == since


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_stats_of_an_unknown_service_is_404(client: Any) -> None:
    response = client.get("/v1/services/4242/stats")
    assert response.status_code == 404
    assert client.get("/v1/services/4242/stats/summary").status_code == 404
