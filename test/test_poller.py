"""The poller and recorder on a real PostgreSQL against real local HTTP targets."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from accounts import ALL, UNOWNED
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, func, select, text, update
from targets import Target, closed_port_url
from waiting import wait_until

from statuschecker.model import CheckLimits, CheckOutcome, CheckResult
from statuschecker.runtime import Runtime
from statuschecker.store import schedule
from statuschecker.store.tables import service_events, service_metrics, service_ticks, services


@pytest.fixture
def target() -> Iterator[Target]:
    with Target("up", slow_seconds=3.0) as running:
        yield running


def ticks_of(engine: Engine, service_id: int) -> list:
    t = service_ticks.c
    query = select(service_ticks).where(t.service_id == service_id).order_by(t.checked_at)
    with engine.connect() as conn:
        return list(conn.execute(query))


def sample(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    """A sample `registry` must have: a missing one fails here, not in a comparison with None."""
    value = registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def events_of(engine: Engine, service_id: int) -> list:
    e = service_events.c
    query = select(service_events).where(e.service_id == service_id).order_by(e.id)
    with engine.connect() as conn:
        return list(conn.execute(query))


def wait_for_ticks(engine: Engine, service_id: int, count: int, timeout: float = 10.0) -> list:
    return wait_until(
        lambda: (rows := ticks_of(engine, service_id)) and len(rows) >= count and rows,
        timeout=timeout,
    )


def metric_matches_ticks(engine: Engine, service_id: int) -> None:
    """The running metric equals what the stored ticks add up to."""
    t = service_ticks.c
    with engine.connect() as conn:
        metric = conn.execute(
            select(service_metrics).where(service_metrics.c.service_id == service_id)
        ).one()
        up = t.up.is_(True)
        counted = conn.execute(
            select(
                func.count(),
                func.count().filter(up),
                func.count().filter(t.up.is_(False)),
                func.avg(t.response_time_ms).filter(up),
                func.max(t.response_time_ms).filter(up),
                func.max(t.checked_at),
            ).where(t.service_id == service_id)
        ).one()
    assert (metric.tick_count, metric.up_count, metric.down_count) == tuple(counted[:3])
    assert metric.uptime_percent == pytest.approx(100 * counted[1] / counted[0])
    if counted[1]:
        assert metric.average_response_time_ms == pytest.approx(counted[3])
        assert metric.max_response_time_ms == pytest.approx(counted[4])
    assert metric.last_checked_at == counted[5]


def test_states_flip_with_the_target_and_events_follow(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    runtime = make_runtime(with_poller=True)
    runtime.start()
    registered_at = datetime.now(UTC)
    service = runtime.services.register(UNOWNED, "flappy", target.url, 1, 0.5)
    engine = runtime.engine

    first = wait_for_ticks(engine, service.id, 1, timeout=3)
    assert first[0].checked_at - registered_at < timedelta(seconds=2)
    assert first[0].up and first[0].status_code == 200
    assert first[0].response_time_ms > 0 and 0 < first[0].ttfb_ms <= first[0].response_time_ms

    seen = 2
    for mode, reason in [("down", "status 503"), ("slow", "timeout"), ("refuse", "refused")]:
        target.set_mode(mode)

        def failed(r: str = reason) -> list:
            return [x for x in ticks_of(engine, service.id) if r in (x.error or "")]

        rows = wait_until(failed)
        assert not rows[0].up
        seen = len(ticks_of(engine, service.id))
    target.set_mode("up")
    rows = wait_for_ticks(engine, service.id, seen + 1)
    wait_until(lambda: ticks_of(engine, service.id)[-1].up)
    runtime.poller.stop()  # type: ignore[union-attr]

    rows = ticks_of(engine, service.id)
    # Events change exactly at the ticks where the state changed, and only there.
    expected: list[tuple[str, datetime]] = []
    for tick in rows:
        kind = "uptime" if tick.up else "downtime"
        if not expected or expected[-1][0] != kind:
            expected.append((kind, tick.checked_at))
    events = events_of(engine, service.id)
    assert [(e.event, e.date_started) for e in events] == expected
    assert [e.event for e in events] == ["uptime", "downtime", "uptime"]
    for earlier, later in itertools.pairwise(events):
        assert earlier.date_ended == later.date_started
    assert events[-1].date_ended is None
    metric_matches_ticks(engine, service.id)

    current = runtime.services.get(service.id, ALL)
    assert current.status == "up"
    assert current.latest_event is not None and current.latest_event.id == events[-1].id
    assert current.metric.tick_count == len(rows)


def test_recorder_opens_and_closes_events_at_the_right_checks(
    make_runtime: Callable[..., Runtime],
) -> None:
    # Built, not started: its recorder writes; one failure confirms down.
    runtime = make_runtime(with_poller=True, confirm_down_after=1)
    service = runtime.services.register(UNOWNED, "scripted", "http://127.0.0.1:1/", 60, 1)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    pattern = [True, True, False, False, False, True, False]
    outcomes = [
        CheckOutcome(
            service.id,
            t0 + timedelta(seconds=10 * i),
            CheckResult(up=up, response_time_ms=10.0 * (i + 1), status_code=200 if up else 500),
        )
        for i, up in enumerate(pattern)
    ]
    recorder = runtime.poller._recorder  # type: ignore[union-attr]
    recorder.record(outcomes[:3], "test")
    recorder.record(outcomes[3:], "test")  # a second batch continues the open event

    events = events_of(runtime.engine, service.id)
    assert [(e.event, e.date_started, e.date_ended) for e in events] == [
        ("uptime", t0, t0 + timedelta(seconds=20)),
        ("downtime", t0 + timedelta(seconds=20), t0 + timedelta(seconds=50)),
        ("uptime", t0 + timedelta(seconds=50), t0 + timedelta(seconds=60)),
        ("downtime", t0 + timedelta(seconds=60), None),
    ]
    metric_matches_ticks(runtime.engine, service.id)
    metric = runtime.services.get(service.id, ALL).metric
    assert (metric.tick_count, metric.up_count, metric.down_count) == (7, 3, 4)
    assert metric.average_response_time_ms == pytest.approx((10 + 20 + 60) / 3)
    assert metric.max_response_time_ms == 60.0
    assert runtime.services.get(service.id, ALL).status == "down"


def test_a_batch_written_twice_is_stored_once(make_runtime: Callable[..., Runtime]) -> None:
    """What a retry does after a commit whose acknowledgement was lost: nothing more."""
    runtime = make_runtime(with_poller=True, confirm_down_after=1)
    service = runtime.services.register(UNOWNED, "twice", "http://127.0.0.1:1/", 60, 1)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    outcomes = [
        CheckOutcome(service.id, t0 + timedelta(seconds=i), CheckResult(i != 1, float(i + 1)))
        for i in range(3)
    ]
    recorder = runtime.poller._recorder  # type: ignore[union-attr]
    recorder.record(outcomes, "test")
    recorder.record(
        [*outcomes[1:], replace(outcomes[0], checked_at=t0 + timedelta(seconds=3))], "test"
    )

    assert [r.checked_at for r in ticks_of(runtime.engine, service.id)] == [
        t0 + timedelta(seconds=i) for i in range(4)
    ]
    assert [(e.event, e.date_started) for e in events_of(runtime.engine, service.id)] == [
        ("uptime", t0),
        ("downtime", t0 + timedelta(seconds=1)),
        ("uptime", t0 + timedelta(seconds=2)),
    ]
    metric_matches_ticks(runtime.engine, service.id)


def test_database_allows_one_open_event_per_service(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    service = runtime.services.register(UNOWNED, "one-open", "http://127.0.0.1:1/", 60, 1)
    insert = text(
        "INSERT INTO service_events (service_id, event, date_started) VALUES (:id, 'uptime', now())"
    )
    with runtime.engine.begin() as conn:
        conn.execute(insert, {"id": service.id})
    with pytest.raises(Exception, match="uq_service_events_open"), runtime.engine.begin() as conn:
        conn.execute(insert, {"id": service.id})


def test_outcomes_of_deleted_services_are_dropped_not_fatal(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(with_poller=True)
    kept = runtime.services.register(UNOWNED, "kept", "http://127.0.0.1:1/", 60, 1)
    gone = runtime.services.register(UNOWNED, "gone", "http://127.0.0.1:1/", 60, 1)
    runtime.services.delete(gone.id, ALL)
    now = datetime.now(UTC)
    runtime.poller._recorder.record(  # type: ignore[union-attr]
        [
            CheckOutcome(gone.id, now, CheckResult(up=True, response_time_ms=1.0)),
            CheckOutcome(kept.id, now, CheckResult(up=True, response_time_ms=1.0)),
        ],
        "test",
    )
    assert len(ticks_of(runtime.engine, kept.id)) == 1
    assert ticks_of(runtime.engine, gone.id) == []


def test_a_row_the_database_refuses_does_not_block_the_batch(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(with_poller=True)
    service = runtime.services.register(UNOWNED, "poison", "http://127.0.0.1:1/", 60, 1)
    poller = runtime.poller
    assert poller is not None
    now = datetime.now(UTC)
    for outcome in [
        CheckOutcome(service.id, now, CheckResult(up=True, response_time_ms=1.0)),
        # a status code beyond SMALLINT: the database rejects this row
        CheckOutcome(service.id, now + timedelta(seconds=1), CheckResult(False, None, None, 70000)),
        CheckOutcome(service.id, now + timedelta(seconds=2), CheckResult(up=False, error="x\x00y")),
    ]:
        poller.buffer.add(outcome)
    assert asyncio.run(poller.flush()) is True
    rows = ticks_of(runtime.engine, service.id)
    assert [r.up for r in rows] == [True, False]
    assert rows[1].error == "x\ufffdy"  # NUL is not storable in text; it is replaced
    assert len(poller.buffer) == 0
    metric_matches_ticks(runtime.engine, service.id)


def test_claims_skip_locked_rows_and_advance_the_schedule(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    engine = runtime.engine
    ids = [
        runtime.services.register(UNOWNED, f"s{i}", "http://127.0.0.1:1/", 10, 1).id
        for i in range(6)
    ]
    limits = CheckLimits()
    with engine.connect() as first, engine.connect() as second:
        tx = first.begin()
        mine, _ = schedule.claim_due(first, "first", 4, 5.0, limits)
        theirs, _ = schedule.claim_due(second, "second", 10, 5.0, limits)  # first holds locks
        second.commit()
        tx.commit()
        again, ahead = schedule.claim_due(second, "second", 10, 5.0, limits)
        second.commit()
    assert len(mine) == 4 and len(theirs) == 2
    assert {a.service_id for a in mine}.isdisjoint(a.service_id for a in theirs)
    assert {a.service_id for a in mine} | {a.service_id for a in theirs} == set(ids)
    assert again == []  # leased and scheduled for the next slot: nobody claims them now
    assert ahead is not None and 0 < ahead <= 10  # the next slot, one interval on at most


def test_missed_slots_are_skipped_and_the_phase_kept(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    service = runtime.services.register(UNOWNED, "late", "http://127.0.0.1:1/", 10, 1)
    with runtime.engine.begin() as conn:
        now = conn.execute(select(func.now())).scalar_one()
        phase = now - timedelta(seconds=35)  # 3.5 intervals ago: three slots were missed
        conn.execute(update(services).values(next_check_at=phase))
        (claimed,), ahead = schedule.claim_due(conn, "p", 10, 5.0, CheckLimits())
        next_at = conn.execute(
            select(services.c.next_check_at).where(services.c.id == service.id)
        ).scalar_one()
    assert claimed.due_at == phase + timedelta(seconds=30)  # the latest slot, not the first
    assert next_at == phase + timedelta(seconds=40)  # exactly one interval on: no drift
    assert ahead == 5.0  # its next slot is the next thing due, 40 - 35 s from now


def test_two_pollers_never_check_one_service_twice_in_a_slot(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    first = make_runtime(with_poller=True)
    second = make_runtime(with_poller=True)
    ids = [
        first.services.register(UNOWNED, f"shared-{i}", target.url, 1, 0.5).id for i in range(20)
    ]
    first.start()
    second.start()
    wait_until(lambda: all(len(ticks_of(first.engine, i)) >= 4 for i in ids), timeout=15)
    first.poller.stop()  # type: ignore[union-attr]
    second.poller.stop()  # type: ignore[union-attr]

    for service_id in ids:
        times = [row.checked_at for row in ticks_of(first.engine, service_id)]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert min(gaps) > 0.5, (service_id, gaps)  # one check per 1 s slot, never two
    done = [
        sum(
            runtime.metrics.registry.get_sample_value(
                "statuschecker_checks_total", {"result": r, "location": "default"}
            )
            or 0
            for r in ("up", "down")
        )
        for runtime in (first, second)
    ]
    assert all(count > 0 for count in done), done  # both took a share
    assert sum(done) == sum(len(ticks_of(first.engine, i)) for i in ids)


def test_a_dead_pollers_leases_are_taken_over(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    runtime = make_runtime(with_poller=True)
    service = runtime.services.register(UNOWNED, "orphan", target.url, 1, 0.5)
    with runtime.engine.begin() as conn:  # a poller claims it, then dies before recording
        claimed, _ = schedule.claim_due(conn, "dead-poller", 10, 1.0, CheckLimits())
        assert len(claimed) == 1
        lease_ends = conn.execute(
            select(services.c.lease_expires_at).where(services.c.id == service.id)
        ).scalar_one()
    runtime.start()
    (tick,) = wait_for_ticks(runtime.engine, service.id, 1, timeout=6)
    assert tick.checked_at >= lease_ends  # not before the dead poller's lease ran out
    assert tick.checked_at - lease_ends < timedelta(seconds=2)
    with runtime.engine.connect() as conn:
        owner = conn.execute(
            select(services.c.lease_owner).where(services.c.id == service.id)
        ).scalar_one()
    assert owner in (None, runtime.poller.owner)  # type: ignore[union-attr]


def test_pause_stops_checks_and_keeps_the_status(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    runtime = make_runtime(with_poller=True)
    runtime.start()
    service = runtime.services.register(UNOWNED, "pausable", target.url, 1, 0.5)
    wait_for_ticks(runtime.engine, service.id, 1)
    runtime.services.update(service.id, {"paused": True}, ALL)
    settled = len(wait_for_ticks(runtime.engine, service.id, 1))
    hits = target.hits
    target.set_mode("down")
    time.sleep(2.5)  # two and a half intervals
    paused = runtime.services.get(service.id, ALL)
    assert paused.paused and paused.status == "paused"
    assert paused.latest_event is not None and paused.latest_event.event == "uptime"
    assert len(ticks_of(runtime.engine, service.id)) <= settled + 1  # at most one in flight
    assert target.hits <= hits + 1

    runtime.services.update(service.id, {"paused": False}, ALL)
    wait_until(lambda: runtime.services.get(service.id, ALL).status == "down", timeout=5)


def test_patch_takes_effect_at_the_next_check(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    runtime = make_runtime(with_poller=True)
    runtime.start()
    service = runtime.services.register(UNOWNED, "moving", closed_port_url(), 60, 1)
    (first,) = wait_for_ticks(runtime.engine, service.id, 1)
    assert "refused" in first.error
    runtime.services.update(service.id, {"url": target.url}, ALL)  # the next slot is a minute away
    second = wait_for_ticks(runtime.engine, service.id, 2, timeout=3)[1]
    assert second.up


def test_metrics_follow_checks_and_forget_deleted_services(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    runtime = make_runtime(with_poller=True, signup_policy="first-only")  # series served
    runtime.start()
    service = runtime.services.register(UNOWNED, "scraped", target.url, 1, 0.5)
    labels = {"service_id": str(service.id), "service_name": "scraped"}
    registry = runtime.registry
    wait_until(lambda: registry.get_sample_value("statuschecker_service_up", labels) == 1)
    assert sample(registry, "statuschecker_service_response_time_seconds", labels) > 0
    assert sample(registry, "statuschecker_check_duration_seconds_count", {"kind": "http"}) >= 1
    assert sample(registry, "statuschecker_schedule_lag_seconds_count") >= 1
    assert sample(registry, "statuschecker_recorder_batches_total") >= 1
    assert sample(registry, "statuschecker_recorder_rows_written_total") >= 1
    target.set_mode("down")
    wait_until(lambda: registry.get_sample_value("statuschecker_service_up", labels) == 0)
    down_here = {"result": "down", "location": "default"}
    assert sample(registry, "statuschecker_checks_total", down_here) >= 1
    down = {**labels, "result": "down"}
    assert sample(registry, "statuschecker_service_checks_total", down) >= 1

    runtime.services.update(service.id, {"name": "renamed"}, ALL)
    assert registry.get_sample_value("statuschecker_service_up", labels) is None
    renamed = {**labels, "service_name": "renamed"}
    assert registry.get_sample_value("statuschecker_service_up", renamed) == 0  # at once
    runtime.services.delete(service.id, ALL)
    assert registry.get_sample_value("statuschecker_service_up", renamed) is None
    assert registry.get_sample_value("statuschecker_service_checks_total", down) is None


def test_health_follows_the_poller(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(with_poller=True)
    assert runtime.services.health().poller != "ok"
    runtime.start()
    assert runtime.services.health().ok
    runtime.poller.stop()  # type: ignore[union-attr]
    health = runtime.services.health()
    assert not health.ok and health.database == "ok" and "not running" in health.poller
