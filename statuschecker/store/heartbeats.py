"""Heartbeat storage: pings stored as they arrive and handed to the rules unjudged, what each
heartbeat has heard (schedule, due time, last pings, open runs), the ping log, and key
rotation. Stores what the rules decided."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, text, update

from statuschecker.errors import NotFound
from statuschecker.model import Page, Ping, PingRecord
from statuschecker.rules.heartbeats import Heard, HeartbeatSchedule, OpenRun, PingKind, next_look
from statuschecker.store import cursor
from statuschecker.store.arrays import column, floats
from statuschecker.store.tables import pings, services


@dataclass(frozen=True, slots=True)
class Pending:
    """A stored ping the heartbeat rules have not judged yet."""

    id: int
    service_id: int
    received_at: datetime
    kind: PingKind
    rid: str
    exit_status: int | None


# Each ping of the batch (n) whose key is a service's, stored unless the service is paused.
_ACCEPT = text(
    """
    WITH d AS (
        SELECT * FROM unnest(
            CAST(:key AS text[]), CAST(:received_at AS timestamptz[]), CAST(:kind AS text[]),
            CAST(:exit_status AS smallint[]), CAST(:rid AS text[]), CAST(:body AS text[]),
            CAST(:source AS text[]), CAST(:user_agent AS text[])
        ) WITH ORDINALITY AS d(key, received_at, kind, exit_status, rid, body, source,
                               user_agent, n)
    ), found AS (
        SELECT d.*, s.id AS service_id, s.paused FROM d JOIN services s ON s.ping_key = d.key
    ), stored AS (
        INSERT INTO pings (service_id, received_at, kind, exit_status, rid, body, source,
                           user_agent)
        SELECT service_id, received_at, kind, exit_status, rid, body, source, user_agent
        FROM found WHERE NOT paused ORDER BY n
    )
    SELECT n, service_id FROM found
    """
)

# Services with pings to judge (with :age > 0, only those received at least :age seconds ago by
# the database's clock) that no other transaction is judging, locked in id order.
_PENDING_SERVICES = text(
    """
    SELECT id FROM services
    WHERE id IN (
        SELECT DISTINCT service_id FROM pings
        WHERE NOT judged
            AND (CAST(:age AS float8) = 0 OR received_at <= now() - make_interval(secs => :age))
        LIMIT :limit
    )
    ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    """
)

# Those of the services :ids with pings to judge that no other transaction is judging.
_PENDING_AMONG = text(
    """
    SELECT id FROM services
    WHERE id = ANY(CAST(:ids AS bigint[]))
        AND EXISTS (SELECT 1 FROM pings WHERE service_id = services.id AND NOT judged)
    ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    """
)

_UNJUDGED = text(
    """
    SELECT id, service_id, received_at, kind, coalesce(rid, '') AS rid, exit_status
    FROM pings WHERE service_id = ANY(CAST(:ids AS bigint[])) AND NOT judged
    ORDER BY received_at, id
    """
)

_JUDGED = text(
    """
    UPDATE pings AS p SET judged = true, duration_ms = d.duration_ms
    FROM unnest(CAST(:id AS bigint[]), CAST(:duration_ms AS float8[])) AS d(id, duration_ms)
    WHERE p.id = d.id
    """
)

_HEARD = text(
    """
    SELECT s.id, s.heartbeat, s.heartbeat_due_at, s.last_ping_at, s.last_success_at,
           coalesce(r.runs, '[]') AS runs
    FROM services s
    LEFT JOIN LATERAL (
        SELECT json_agg(json_build_array(rid, started_at, overdue) ORDER BY started_at) AS runs
        FROM heartbeat_runs WHERE service_id = s.id
    ) r ON true
    WHERE s.id = ANY(CAST(:ids AS bigint[])) AND s.heartbeat IS NOT NULL
    """
)

_SET_HEARD = text(
    """
    UPDATE services AS s SET heartbeat_due_at = d.due_at, last_ping_at = d.last_ping_at,
        last_success_at = d.last_success_at, next_check_at = d.look_at
    FROM unnest(CAST(:id AS bigint[]), CAST(:due_at AS timestamptz[]),
                CAST(:last_ping_at AS timestamptz[]), CAST(:last_success_at AS timestamptz[]),
                CAST(:look_at AS timestamptz[]))
         AS d(id, due_at, last_ping_at, last_success_at, look_at)
    WHERE s.id = d.id
    """
)

_DROP_RUNS = text("DELETE FROM heartbeat_runs WHERE service_id = ANY(CAST(:ids AS bigint[]))")

_ADD_RUNS = text(
    """
    INSERT INTO heartbeat_runs (service_id, rid, started_at, overdue)
    SELECT * FROM unnest(CAST(:service_id AS bigint[]), CAST(:rid AS text[]),
                         CAST(:started_at AS timestamptz[]), CAST(:overdue AS boolean[]))
    """
)

_PRUNE = text("DELETE FROM pings WHERE received_at < :before")


def accept(conn: Connection, received: Sequence[Ping]) -> list[int | None]:
    """Store these pings for their heartbeats (a paused one's are left out); for each, the
    id of the heartbeat whose key it names, None if none does."""
    if not received:
        return []
    found = conn.execute(
        _ACCEPT,
        {
            "key": column(p.key for p in received),
            "received_at": column(p.received_at for p in received),
            "kind": column(p.kind for p in received),
            "exit_status": column(p.exit_status for p in received),
            "rid": column(p.rid or None for p in received),
            "body": column(p.body for p in received),
            "source": column(p.source for p in received),
            "user_agent": column(p.user_agent for p in received),
        },
    )
    known = {row.n: row.service_id for row in found}
    return [known.get(n) for n in range(1, len(received) + 1)]


def pending_services(
    conn: Connection, limit: int, age_seconds: float = 0.0, among: Collection[int] | None = None
) -> list[int]:
    """Up to `limit` services with pings to judge (received at least `age_seconds` ago; with
    `among`, those of these services), locked: those another transaction holds are
    skipped."""
    if among is not None:
        ids = sorted(among)[:limit]
        return list(conn.execute(_PENDING_AMONG, {"ids": column(ids)}).scalars())
    return list(conn.execute(_PENDING_SERVICES, {"limit": limit, "age": age_seconds}).scalars())


def unjudged(conn: Connection, service_ids: Iterable[int]) -> list[Pending]:
    """The pings of these services not judged yet, oldest first."""
    rows = conn.execute(_UNJUDGED, {"ids": column(set(service_ids))})
    return [Pending(r.id, r.service_id, r.received_at, r.kind, r.rid, r.exit_status) for r in rows]


def mark_judged(conn: Connection, durations: Mapping[int, float | None]) -> None:
    """Mark these pings (by id) judged, each with its run's duration in ms."""
    if durations:
        ids = sorted(durations)
        conn.execute(_JUDGED, {"id": column(ids), "duration_ms": floats(durations[i] for i in ids)})


def heard(conn: Connection, service_ids: Iterable[int]) -> dict[int, Heard]:
    """What each of these heartbeat services has heard (services of other kinds are left
    out)."""
    rows = conn.execute(_HEARD, {"ids": column(set(service_ids))})
    return {
        row.id: Heard(
            HeartbeatSchedule.from_json(row.heartbeat),
            row.heartbeat_due_at,
            row.last_ping_at,
            row.last_success_at,
            {rid: OpenRun(_time(started), overdue) for rid, started, overdue in row.runs},
        )
        for row in rows
    }


def write_heard(
    conn: Connection, changed: Mapping[int, Heard], runs_changed: Iterable[int]
) -> None:
    """Store what these services have heard, and make each due to the pollers at its next
    look (`rules.heartbeats.next_look`); the open runs only of the services in
    `runs_changed`."""
    if changed:
        ids = sorted(changed)
        conn.execute(
            _SET_HEARD,
            {
                "id": column(ids),
                "due_at": column(changed[i].due_at for i in ids),
                "last_ping_at": column(changed[i].last_ping_at for i in ids),
                "last_success_at": column(changed[i].last_success_at for i in ids),
                "look_at": column(next_look(changed[i]) for i in ids),
            },
        )
    rewrite = sorted(set(runs_changed))
    if not rewrite:
        return
    conn.execute(_DROP_RUNS, {"ids": column(rewrite)})
    runs = [(sid, rid, run) for sid in rewrite for rid, run in changed[sid].runs.items()]
    if runs:
        conn.execute(
            _ADD_RUNS,
            {
                "service_id": column(sid for sid, _, _ in runs),
                "rid": column(rid for _, rid, _ in runs),
                "started_at": column(run.started_at for _, _, run in runs),
                "overdue": column(run.overdue for _, _, run in runs),
            },
        )


def drop_runs(conn: Connection, service_id: int) -> None:
    """Forget a heartbeat's open runs."""
    conn.execute(_DROP_RUNS, {"ids": column([service_id])})


def pings_page(
    conn: Connection, service_id: int, *, limit: int, after: str | None = None
) -> Page[PingRecord]:
    """A heartbeat's pings, newest first."""
    query = cursor.in_id_order(
        select(pings).where(pings.c.service_id == service_id),
        pings.c.id,
        limit=limit,
        after=after,
        descending=True,
    )
    rows = [
        PingRecord(
            r.id,
            r.received_at,
            r.kind,
            r.exit_status,
            r.rid,
            r.duration_ms,
            r.body,
            r.source,
            r.user_agent,
        )
        for r in conn.execute(query)
    ]
    return cursor.page(rows, limit, lambda p: (p.id,))


def set_key(conn: Connection, service_id: int, key: str) -> None:
    """Give a heartbeat a new ping key; NotFound unless it is a heartbeat."""
    statement = (
        update(services)
        .where(services.c.id == service_id, services.c.ping_key.is_not(None))
        .values(ping_key=key)
        .returning(services.c.id)
    )
    if conn.execute(statement).first() is None:
        raise NotFound(f"no heartbeat with id {service_id}")


def prune(conn: Connection, before: datetime) -> int:
    """Drop the pings received before `before`; how many went."""
    return conn.execute(_PRUNE, {"before": before}).rowcount


def _time(value: str | datetime) -> datetime:
    """A time from json_agg (an ISO string)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
