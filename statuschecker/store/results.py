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

from statuschecker.model import HEARTBEAT, CheckOutcome, EventKind
from statuschecker.rules import dependencies
from statuschecker.rules.periods import OpenPeriod, Run, Transitions
from statuschecker.store import partitions, result_columns, rollups
from statuschecker.store.alerts import AlertColumns
from statuschecker.store.arrays import column, floats
from statuschecker.text import storable

# The batch's services locked in id order and read as the rules need them; with :owner, its
# leases on them (and on their slots in service_locations) ended in the same statement.
_LOCK = text(
    """
    WITH locked AS (
        SELECT id, kind, owner_id, tags, depends_on, confirm_down_after, confirm_up_after,
               retry_interval_seconds, run_kind, run_count, run_started_at, run_reason,
               in_maintenance, name, alert_policy, alert_state, alert_changed_at,
               alert_suppressed_by, alert_cause_seen_at, degraded, flapping, locations, quorum
        FROM services WHERE id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR NO KEY UPDATE
    ), released AS (
        UPDATE services s SET lease_owner = NULL, lease_expires_at = NULL
        FROM locked WHERE s.id = locked.id AND s.lease_owner = CAST(:owner AS text)
    ), released_slots AS (
        UPDATE service_locations sl SET lease_owner = NULL, lease_expires_at = NULL
        WHERE sl.service_id = ANY(CAST(:ids AS bigint[]))
          AND sl.lease_owner = CAST(:owner AS text)
    )
    SELECT * FROM locked
    """
)

# What a service's dependants need to know of it: its confirmed period, its unconfirmed run,
# whether its newest check fell in maintenance.
_STATES = text(
    """
    SELECT s.id, e.event, s.run_kind, s.in_maintenance FROM services s
    LEFT JOIN service_events e ON e.service_id = s.id AND e.date_ended IS NULL
    WHERE s.id = ANY(CAST(:ids AS bigint[]))
    """
)

_SET_STATE = text(
    """
    UPDATE services AS s SET run_kind = d.run_kind, run_count = d.run_count,
        run_started_at = d.run_started_at, run_reason = d.run_reason,
        in_maintenance = d.in_maintenance
    FROM unnest(CAST(:id AS bigint[]), CAST(:run_kind AS text[]), CAST(:run_count AS integer[]),
                CAST(:run_started_at AS timestamptz[]), CAST(:run_reason AS text[]),
                CAST(:in_maintenance AS boolean[]))
         AS d(id, run_kind, run_count, run_started_at, run_reason, in_maintenance)
    WHERE s.id = d.id
    """
)

_RESULT_CASTS = ", ".join(
    f"CAST(:{name} AS {result_columns.sql_type(name)}[])" for name in result_columns.FIELD_TYPES
)
_INSERT_TICKS = text(
    f"""
    INSERT INTO service_ticks (service_id, checked_at, in_maintenance, location,
                               {", ".join(result_columns.FIELD_TYPES)})
    SELECT * FROM unnest(
        CAST(:service_id AS bigint[]), CAST(:checked_at AS timestamptz[]),
        CAST(:in_maintenance AS boolean[]), CAST(:location AS text[]), {_RESULT_CASTS})
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
    INSERT INTO service_events (service_id, event, date_started, date_ended, reason, caused_by)
    SELECT service_id, event, date_started, date_ended, reason, caused_by
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:event AS text[]),
                CAST(:date_started AS timestamptz[]), CAST(:date_ended AS timestamptz[]),
                CAST(:reason AS text[]), CAST(:caused_by AS bigint[]))
         WITH ORDINALITY AS d(service_id, event, date_started, date_ended, reason, caused_by, n)
    ORDER BY n
    """
)


@dataclass(frozen=True, slots=True)
class Locked:
    """A service of the batch as the rules need it, read under its row lock."""

    kind: str
    owner_id: int | None
    tags: tuple[str, ...]
    depends_on: tuple[int, ...]
    confirm: tuple[int | None, int | None, int | None]  # down_after, up_after, retry interval
    run: Run | None
    in_maintenance: bool
    alerting: AlertColumns
    locations: tuple[str, ...] = ()  # the locations it is checked from (empty: anywhere)
    quorum: int | None = None


def lock(
    conn: Connection, service_ids: set[int], release_for: str | None = None
) -> dict[int, Locked]:
    """Lock the services' rows in id order (the order every recorder uses, so two never
    deadlock) and read what the rules need of them; services deleted meanwhile are absent.
    With `release_for`, that lease owner's leases on them (and on their slots) end in the
    same statement."""
    rows = conn.execute(_LOCK, {"ids": column(sorted(service_ids)), "owner": release_for})
    return {
        row.id: Locked(
            row.kind,
            row.owner_id,
            tuple(row.tags),
            tuple(row.depends_on),
            (row.confirm_down_after, row.confirm_up_after, row.retry_interval_seconds),
            Run(row.run_kind, row.run_count, row.run_started_at, row.run_reason)
            if row.run_kind
            else None,
            row.in_maintenance,
            AlertColumns(
                row.name,
                row.kind,
                row.alert_policy,
                row.alert_state,
                row.alert_changed_at,
                row.alert_suppressed_by,
                row.alert_cause_seen_at,
                row.degraded,
                row.flapping,
                by_state=row.kind == HEARTBEAT or bool(row.locations),
            ),
            tuple(row.locations),
            row.quorum,
        )
        for row in rows
    }


def write(conn: Connection, outcomes: list[CheckOutcome]) -> list[CheckOutcome]:
    """Store a batch of outcomes of locked services with their rollups; the outcomes kept.

    0. Make the daily partitions the ticks go to, where they are new.
    1. Insert every tick, in time order, in one statement. A tick already stored (a batch
       written again after its commit was lost in transit) is skipped, and so is its outcome
       in the steps that follow: writing a batch twice changes nothing.
    2. Add the batch to each service's running metric (one statement) and to its hourly and
       daily rollups (two: rollups and outcome counts).
    """
    if not outcomes:
        return []
    partitions.ensure(conn, {partitions.day_of(o.checked_at) for o in outcomes})
    kept = sorted((_cleaned(o) for o in outcomes), key=lambda o: o.checked_at)
    inserted = _insert_ticks(conn, kept)
    if len(inserted) < len(kept):
        kept = [o for o in kept if (o.service_id, o.checked_at) in inserted]
        if not kept:
            return []
    _add_to_metrics(conn, kept)
    rollups.add(conn, kept)
    return kept


def open_periods(conn: Connection, service_ids: set[int]) -> dict[int, OpenPeriod]:
    """Each service's open period, if it has one."""
    return {
        row.service_id: OpenPeriod(row.id, row.event, row.date_started)
        for row in conn.execute(_OPEN_EVENTS, {"ids": column(sorted(service_ids))})
    }


def failing(conn: Connection, service_ids: set[int]) -> set[int]:
    """Those of the services that are failing now (statuschecker.rules.dependencies.failing),
    as committed or as this transaction wrote them."""
    if not service_ids:
        return set()
    rows = conn.execute(_STATES, {"ids": column(sorted(service_ids))})
    return {
        row.id
        for row in rows
        if dependencies.failing(row.event, row.run_kind == "downtime", row.in_maintenance)
    }


def write_periods(conn: Connection, decided: Transitions) -> None:
    """Write what the period rules decided: close the events that were open before the batch
    and ended in it, and insert the periods it began (those that also ended in it closed, the
    last one open)."""
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
                "caused_by": column(p.caused_by for p in begun),
            },
        )


def write_state(
    conn: Connection, runs: dict[int, Run | None], in_maintenance: dict[int, bool]
) -> None:
    """Keep each service's run not confirmed yet and whether its newest check fell in
    maintenance, for the next batch and for its status (the services given: those whose
    state changed)."""
    if not runs:
        return
    ids = sorted(runs)
    kinds: list[EventKind | None] = [r.kind if (r := runs[i]) else None for i in ids]
    conn.execute(
        _SET_STATE,
        {
            "id": column(ids),
            "run_kind": column(kinds),
            "run_count": column(r.count if (r := runs[i]) else 0 for i in ids),
            "run_started_at": column(r.started if (r := runs[i]) else None for i in ids),
            "run_reason": column(r.reason if (r := runs[i]) else None for i in ids),
            "in_maintenance": column(in_maintenance.get(i, False) for i in ids),
        },
    )


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
            "in_maintenance": column(o.in_maintenance for o in outcomes),
            "location": column(result_columns.stored_location(o.location) for o in outcomes),
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
