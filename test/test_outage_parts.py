"""The two parts a poller leans on while the database is away: its bounded results buffer and
its local copy of the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statuschecker.model import Assignment, CheckOutcome, CheckResult, CheckSpec
from statuschecker.polling.local_schedule import LocalSchedule
from statuschecker.polling.results_buffer import ResultsBuffer

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def outcome(n: int) -> CheckOutcome:
    return CheckOutcome(n, T0 + timedelta(seconds=n), CheckResult(up=True))


def assignment(service_id: int, interval: int, due_at: datetime = T0) -> Assignment:
    spec = CheckSpec(url="http://127.0.0.1:1/", timeout_seconds=1)
    return Assignment(service_id, f"s{service_id}", spec, due_at, interval)


def test_the_buffer_keeps_order_and_drops_the_oldest_beyond_its_bound() -> None:
    drops: list[int] = []
    buffer = ResultsBuffer(limit=5, on_drop=drops.append)
    for n in range(7):
        buffer.add(outcome(n))
    assert (len(buffer), buffer.dropped, drops) == (5, 2, [1, 1])
    batch = buffer.take(3)
    assert [o.service_id for o in batch] == [2, 3, 4]
    buffer.add(outcome(7))
    buffer.add(outcome(8))
    buffer.give_back(batch)  # not written: back in front, where the oldest are dropped
    assert [o.service_id for o in buffer.take(10)] == [4, 5, 6, 7, 8]
    assert buffer.dropped == 4 and len(buffer) == 0


def test_the_local_schedule_serves_each_service_on_its_own_slots() -> None:
    local = LocalSchedule(grace_seconds=5)
    local.remember([assignment(1, 10), assignment(2, 30)], T0)
    assert local.due(10, T0 + timedelta(seconds=9), busy=set()) == []
    assert local.seconds_until_next(T0) == 10

    (first,) = local.due(10, T0 + timedelta(seconds=10.5), busy=set())
    assert (first.service_id, first.due_at) == (1, T0 + timedelta(seconds=10))
    # 45 s on: service 1 (the most overdue) missed slots 20 and 30, which are skipped with
    # the phase kept; service 2 is due at 30
    late = local.due(10, T0 + timedelta(seconds=45), busy=set())
    assert [(a.service_id, a.due_at) for a in late] == [
        (1, T0 + timedelta(seconds=40)),
        (2, T0 + timedelta(seconds=30)),
    ]
    assert local.due(10, T0 + timedelta(seconds=50), busy={1}) == []  # still being checked
    assert local.due(1, T0 + timedelta(seconds=60), busy=set())[0].service_id == 1  # limit


def test_services_no_longer_claimed_while_online_are_forgotten() -> None:
    local = LocalSchedule(grace_seconds=5)
    local.remember([assignment(1, 10), assignment(2, 10)], T0)
    back = T0 + timedelta(minutes=5)  # the database was away until now: nothing is forgotten
    local.forget_unclaimed(back, online_since=back)
    assert len(local) == 2
    local.remember([assignment(1, 10, due_at=back)], back + timedelta(seconds=20))
    local.forget_unclaimed(back + timedelta(seconds=26), online_since=back)
    assert len(local) == 1  # service 2 was not claimed for 2 intervals + grace: not ours
