"""The recorder's transaction: ticks, running metrics and state periods for a batch of results.

Every table is written with one set-based statement per batch: the rows (or per-service
aggregates, computed here) travel as one array per column (statuschecker.store.arrays) and
are unpacked by `unnest`, so the statement text never changes (psycopg prepares it after a few
uses) and costs one round trip whatever the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, text

from statuschecker.model import CheckOutcome
from statuschecker.rules import periods
from statuschecker.rules.periods import OpenPeriod, StateChange
from statuschecker.store import partitions, result_columns, rollups
from statuschecker.store.arrays import column, floats
from statuschecker.text import storable

_LOCK = text(
    "SELECT id FROM services WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"
)

_RESULT_CASTS = ", ".join(
    f"CAST(:{name} AS {result_columns.sql_type(name)}[])" for name in result_columns.FIELD_TYPES
)
_INSERT_TICKS = text(
    f"""
    INSERT INTO service_ticks (service_id, checked_at, {", ".join(result_columns.FIELD_TYPES)})
    SELECT * FROM unnest(
        CAST(:service_id AS bigint[]), CAST(:checked_at AS timestamptz[]), {_RESULT_CASTS})
    ON CONFLICT (service_id, checked_at) DO NOTHING
    RETURNING service_id, checked_at
    """
)

# The batch's totals per service (d) folded into the running ones (m, the values before this
# statement): averages and maxima cover successful checks, every one of which carries a
# response time, so the old average weighs m.up_count checks; greatest() ignores NULLs.
_UPDATE_METRICS = text(
    """
    UPDATE service_metrics AS m SET
        tick_count = m.tick_count + d.n,
        up_count = m.up_count + d.up,
        down_count = m.down_count + d.n - d.up,
        uptime_percent = CAST(100.0 AS float8) * (m.up_count + d.up) / (m.tick_count + d.n),
        average_response_time_ms = coalesce(
            (coalesce(m.average_response_time_ms, CAST(0.0 AS float8)) * m.up_count + d.rt_sum)
                / nullif(m.up_count + d.timed, 0),
            m.average_response_time_ms),
        max_response_time_ms = greatest(m.max_response_time_ms, d.rt_max),
        last_checked_at = greatest(m.last_checked_at, d.last)
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:n AS bigint[]), CAST(:up AS bigint[]),
                CAST(:timed AS bigint[]), CAST(:rt_sum AS float8[]), CAST(:rt_max AS float8[]),
                CAST(:last AS timestamptz[]))
         AS d(service_id, n, up, timed, rt_sum, rt_max, last)
    WHERE m.service_id = d.service_id
    """
)

_OPEN_EVENTS = text(
    """
    SELECT id, service_id, event, date_started FROM service_events
    WHERE service_id = ANY(CAST(:ids AS bigint[])) AND date_ended IS NULL
    """
)

_CLOSE_EVENTS = text(
    """
    UPDATE service_events AS e SET date_ended = d.ended
    FROM unnest(CAST(:id AS bigint[]), CAST(:ended AS timestamptz[])) AS d(id, ended)
    WHERE e.id = d.id
    """
)

# In the order given, so event ids follow the walk (time order) as they would row by row.
_OPEN_NEW_EVENTS = text(
    """
    INSERT INTO service_events (service_id, event, date_started, date_ended, reason)
    SELECT service_id, event, date_started, date_ended, reason
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:event AS text[]),
                CAST(:date_started AS timestamptz[]), CAST(:date_ended AS timestamptz[]),
                CAST(:reason AS text[]))
         WITH ORDINALITY AS d(service_id, event, date_started, date_ended, reason, n)
    ORDER BY n
    """
)


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch changed: the services it touched, the outcomes kept (those of services
    that still exist, not recorded before) and the state changes they caused."""

    service_ids: list[int]
    kept: list[CheckOutcome]
    changes: list[StateChange]


def write(conn: Connection, outcomes: list[CheckOutcome]) -> Written:
    """Store a batch of outcomes with their rollups; say what changed.

    0. Make the daily partitions the ticks go to, where they are new.
    1. Lock the services' rows in id order (the order every recorder uses, so two never
       deadlock); outcomes of services deleted meanwhile are dropped.
    2. Insert every tick, in time order, in one statement. A tick already stored (a batch
       written again after its commit was lost in transit) is skipped, and so is its outcome
       in the steps that follow: writing a batch twice changes nothing.
    3. Add the batch to each service's running metric (one statement) and to its hourly and
       daily rollups (two: rollups and outcome counts).
    4. Read the open events, let the period rules (statuschecker.rules.periods) decide what
       the outcomes end and begin, and write that (one statement reading the open events, one
       closing them, one inserting the new ones).
    """
    partitions.ensure(conn, {partitions.day_of(o.checked_at) for o in outcomes})
    wanted = sorted({o.service_id for o in outcomes})
    present = set(conn.execute(_LOCK, {"ids": column(wanted)}).scalars())
    kept = sorted(
        (_cleaned(o) for o in outcomes if o.service_id in present), key=lambda o: o.checked_at
    )
    if not kept:
        return Written([], [], [])

    inserted = _insert_ticks(conn, kept)
    if len(inserted) < len(kept):
        kept = [o for o in kept if (o.service_id, o.checked_at) in inserted]
        if not kept:
            return Written([], [], [])
    _add_to_metrics(conn, kept)
    rollups.add(conn, kept)
    return Written(sorted(present), kept, _update_events(conn, kept))


def _insert_ticks(conn: Connection, outcomes: list[CheckOutcome]) -> set[tuple[int, datetime]]:
    """Insert the ticks not stored yet; the (service, time) of those inserted."""
    results = [o.result for o in outcomes]
    values = {
        name: (floats if kind is float else column)(getattr(r, name) for r in results)
        for name, kind in result_columns.FIELD_TYPES.items()
    }
    rows = conn.execute(
        _INSERT_TICKS,
        {
            "service_id": column(o.service_id for o in outcomes),
            "checked_at": column(o.checked_at for o in outcomes),
            **values,
        },
    )
    return {(row.service_id, row.checked_at) for row in rows}


def _cleaned(outcome: CheckOutcome, limit: int = 2000) -> CheckOutcome:
    """The outcome with error text PostgreSQL accepts (no NUL) and of bounded length."""
    error = outcome.result.error
    if error is None:
        return outcome
    text = storable(error)[:limit]
    return replace(outcome, result=replace(outcome.result, error=text))


@dataclass(slots=True)
class _Totals:
    n: int = 0
    up: int = 0
    timed: int = 0
    rt_sum: float = 0.0
    rt_max: float | None = None
    last: datetime | None = None


def _add_to_metrics(conn: Connection, outcomes: list[CheckOutcome]) -> None:
    """Fold the batch into the running totals: per-service totals of the batch here, then one
    UPDATE for all services."""
    batch: dict[int, _Totals] = {}
    for outcome in outcomes:
        entry = batch.get(outcome.service_id)
        if entry is None:
            entry = batch[outcome.service_id] = _Totals()
        entry.n += 1
        entry.last = outcome.checked_at
        rt = outcome.result.response_time_ms
        if outcome.result.up:
            entry.up += 1
            if rt is not None:
                entry.timed += 1
                entry.rt_sum += rt
                entry.rt_max = rt if entry.rt_max is None else max(entry.rt_max, rt)
    ids = sorted(batch)
    totals = [batch[sid] for sid in ids]
    conn.execute(
        _UPDATE_METRICS,
        {
            "service_id": column(ids),
            "n": column(t.n for t in totals),
            "up": column(t.up for t in totals),
            "timed": column(t.timed for t in totals),
            "rt_sum": column(float(t.rt_sum) for t in totals),
            "rt_max": floats(t.rt_max for t in totals),
            "last": column(t.last for t in totals),
        },
    )


def _update_events(conn: Connection, outcomes: list[CheckOutcome]) -> list[StateChange]:
    """Read each service's open event, ask the period rules what the batch does to it, and
    write that: close the events that were open before the batch and ended in it, and insert
    the periods it began (those that also ended in it closed, the last one open)."""
    ids = sorted({o.service_id for o in outcomes})
    open_periods = {
        row.service_id: OpenPeriod(row.id, row.event, row.date_started)
        for row in conn.execute(_OPEN_EVENTS, {"ids": column(ids)})
    }
    decided = periods.transitions(open_periods, outcomes)
    if decided.ended:  # first: a service may hold only one open event
        conn.execute(
            _CLOSE_EVENTS,
            {
                "id": column(event_id for event_id, _ in decided.ended),
                "ended": column(end for _, end in decided.ended),
            },
        )
    if decided.begun:
        begun = decided.begun
        conn.execute(
            _OPEN_NEW_EVENTS,
            {
                "service_id": column(p.service_id for p in begun),
                "event": column(p.kind for p in begun),
                "date_started": column(p.started for p in begun),
                "date_ended": column(p.ended for p in begun),
                "reason": column(p.reason for p in begun),
            },
        )
    return decided.changes
