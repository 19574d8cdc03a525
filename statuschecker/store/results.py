"""The recorder's transaction: ticks, running metrics and state periods for a batch of results."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from statuschecker.model import CheckOutcome, EventKind
from statuschecker.store import partitions, rollups
from statuschecker.store.tables import service_events, service_metrics, service_ticks, services


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch changed: the services it touched, the outcomes kept (those of services
    that still exist) and the state changes they caused."""

    service_ids: list[int]
    kept: list[CheckOutcome]
    changes: list[StateChange]


@dataclass(frozen=True, slots=True)
class StateChange:
    """A service entered a new state period at `at` (`previous` is None for its first)."""

    service_id: int
    previous: EventKind | None
    current: EventKind
    at: datetime


def write(conn: Connection, outcomes: list[CheckOutcome]) -> Written:
    """Store a batch of outcomes with their rollups; say what changed.

    0. Make the daily partitions the ticks go to, where they are new.
    1. Lock the services' rows in id order (the order every recorder uses, so two never
       deadlock); outcomes of services deleted meanwhile are dropped.
    2. Insert every tick in one multi-row statement.
    3. Add the batch to each service's running metric and hourly rollups.
    4. Walk each service's outcomes in time order: a state differing from the open event's
       closes it at the check time and opens the other kind.
    """
    partitions.ensure(conn, {partitions.day_of(o.checked_at) for o in outcomes})
    wanted = sorted({o.service_id for o in outcomes})
    locked = select(services.c.id).where(services.c.id.in_(wanted)).order_by(services.c.id)
    present = set(conn.execute(locked.with_for_update()).scalars())
    kept = sorted(
        (_cleaned(o) for o in outcomes if o.service_id in present), key=lambda o: o.checked_at
    )
    if not kept:
        return Written([], [], [])

    conn.execute(insert(service_ticks), [_tick_row(o) for o in kept])
    _add_to_metrics(conn, kept)
    rollups.add(conn, kept)
    return Written(sorted(present), kept, _update_events(conn, kept))


def _tick_row(outcome: CheckOutcome) -> dict:
    result = outcome.result
    return {
        "service_id": outcome.service_id,
        "checked_at": outcome.checked_at,
        "up": result.up,
        "response_time_ms": result.response_time_ms,
        "ttfb_ms": result.ttfb_ms,
        "status_code": result.status_code,
        "error": result.error,
        "dns_ms": result.dns_ms,
        "connect_ms": result.connect_ms,
        "tls_ms": result.tls_ms,
        "cert_expires_at": result.cert_expires_at,
        "packet_loss_percent": result.packet_loss_percent,
    }


def _cleaned(outcome: CheckOutcome, limit: int = 2000) -> CheckOutcome:
    """The outcome with error text PostgreSQL accepts (no NUL) and of bounded length."""
    error = outcome.result.error
    if error is None:
        return outcome
    text = error.replace("\x00", "\ufffd")[:limit]
    return replace(outcome, result=replace(outcome.result, error=text))


def _add_to_metrics(conn: Connection, outcomes: list[CheckOutcome]) -> None:
    """Fold the batch into the running totals; averages and maxima cover successful checks."""
    batch: dict[int, dict] = defaultdict(
        lambda: {"n": 0, "up": 0, "timed": 0, "sum": 0.0, "max": None, "last": None}
    )
    for outcome in outcomes:
        entry = batch[outcome.service_id]
        entry["n"] += 1
        entry["last"] = outcome.checked_at
        rt = outcome.result.response_time_ms
        if outcome.result.up:
            entry["up"] += 1
            if rt is not None:
                entry["timed"] += 1
                entry["sum"] += rt
                entry["max"] = rt if entry["max"] is None else max(entry["max"], rt)
    m = service_metrics.c
    timed_before = m.up_count  # every successful check carries a response time
    timed_after = timed_before + bindparam("b_timed")
    statement = (
        update(service_metrics)
        .where(m.service_id == bindparam("b_id"))
        .values(
            tick_count=m.tick_count + bindparam("b_n"),
            up_count=m.up_count + bindparam("b_up"),
            down_count=m.down_count + bindparam("b_n") - bindparam("b_up"),
            uptime_percent=100.0
            * (m.up_count + bindparam("b_up"))
            / (m.tick_count + bindparam("b_n")),
            average_response_time_ms=func.coalesce(
                (func.coalesce(m.average_response_time_ms, 0.0) * timed_before + bindparam("b_sum"))
                / func.nullif(timed_after, 0),
                m.average_response_time_ms,
            ),
            max_response_time_ms=func.greatest(m.max_response_time_ms, bindparam("b_max")),
            last_checked_at=func.greatest(m.last_checked_at, bindparam("b_last")),
        )
    )
    conn.execute(
        statement,
        [
            {
                "b_id": sid,
                "b_n": e["n"],
                "b_up": e["up"],
                "b_timed": e["timed"],
                "b_sum": e["sum"],
                "b_max": e["max"],
                "b_last": e["last"],
            }
            for sid, e in batch.items()
        ],
    )


def _update_events(conn: Connection, outcomes: list[CheckOutcome]) -> list[StateChange]:
    ids = sorted({o.service_id for o in outcomes})
    e = service_events.c
    open_rows = conn.execute(
        select(e.id, e.service_id, e.event, e.date_started).where(
            e.service_id.in_(ids), e.date_ended.is_(None)
        )
    )
    current: dict[int, tuple[int, EventKind, datetime]] = {
        row.service_id: (row.id, row.event, row.date_started) for row in open_rows
    }
    changes: list[StateChange] = []
    for outcome in outcomes:
        kind: EventKind = "uptime" if outcome.result.up else "downtime"
        open_event = current.get(outcome.service_id)
        if open_event is not None and open_event[1] == kind:
            continue
        at = outcome.checked_at
        if open_event is not None:
            at = max(at, open_event[2])  # never end a period before it began
            conn.execute(update(service_events).where(e.id == open_event[0]).values(date_ended=at))
        reason = outcome.result.error if kind == "downtime" else None
        new_id = conn.execute(
            insert(service_events)
            .values(service_id=outcome.service_id, event=kind, date_started=at, reason=reason)
            .returning(e.id)
        ).scalar_one()
        current[outcome.service_id] = (new_id, kind, at)
        previous = open_event[1] if open_event is not None else None
        changes.append(StateChange(outcome.service_id, previous, kind, at))
    return changes
