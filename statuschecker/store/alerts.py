"""Alerts in the database: what the rules need to decide inside the recorder's transaction,
writing what they raised with its deliveries, and reading alerts back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import BigInteger, Connection, RowMapping, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from statuschecker.model import Alert, AlertPolicy, Page, Receiver, Visibility
from statuschecker.rules.alerts import Subject, Window
from statuschecker.store import cursor
from statuschecker.store.arrays import column, floats
from statuschecker.store.services import EVERYTHING, within
from statuschecker.store.tables import alerts, services

# For each service: how many checks, and failures, fell in each rule's window ending at the
# service's newest check of the batch.
_WINDOWS = text(
    """
    SELECT w.id,
           count(t.id) FILTER (WHERE t.checked_at > w.at - make_interval(secs => w.avail))
               AS avail_checks,
           count(t.id) FILTER (WHERE NOT t.up
                               AND t.checked_at > w.at - make_interval(secs => w.avail))
               AS avail_failures,
           count(t.id) FILTER (WHERE t.checked_at > w.at - make_interval(secs => w.fail))
               AS fail_checks,
           count(t.id) FILTER (WHERE NOT t.up
                               AND t.checked_at > w.at - make_interval(secs => w.fail))
               AS fail_failures
    FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]),
                CAST(:avail AS float8[]), CAST(:fail AS float8[])) AS w(id, at, avail, fail)
    LEFT JOIN service_ticks t
           ON t.service_id = w.id
          AND t.checked_at > w.at - make_interval(secs => greatest(w.avail, w.fail))
          AND t.checked_at <= w.at
    GROUP BY w.id
    """
)


# The batch's alerts, in the order given (so ids follow it); their ids by service.
_INSERT_ALERTS = text(
    """
    INSERT INTO alerts (service_id, kind, rule, message, availability_percent, window_seconds,
        raised_at, downtime_seconds)
    SELECT service_id, kind, rule, message, availability_percent, window_seconds, raised_at,
           downtime_seconds
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:kind AS text[]), CAST(:rule AS text[]),
                CAST(:message AS text[]), CAST(:availability_percent AS float8[]),
                CAST(:window_seconds AS integer[]), CAST(:raised_at AS timestamptz[]),
                CAST(:downtime_seconds AS float8[]))
         WITH ORDINALITY AS d(service_id, kind, rule, message, availability_percent,
                              window_seconds, raised_at, downtime_seconds, n)
    ORDER BY n
    RETURNING id, service_id
    """
)

_SET_ALERT_STATES = text(
    """
    UPDATE services AS s SET alert_state = d.state, alert_changed_at = d.at
    FROM unnest(CAST(:id AS bigint[]), CAST(:state AS text[]), CAST(:at AS timestamptz[]))
         AS d(id, state, at)
    WHERE s.id = d.id
    """
)

_INSERT_DELIVERIES = text(
    """
    INSERT INTO alert_deliveries (alert_id, channel, target, secret)
    SELECT alert_id, channel, target, secret
    FROM unnest(CAST(:alert_id AS bigint[]), CAST(:channel AS text[]), CAST(:target AS text[]),
                CAST(:secret AS text[]))
         WITH ORDINALITY AS d(alert_id, channel, target, secret, n)
    ORDER BY n
    """
)


def subjects(
    conn: Connection, newest: Mapping[int, datetime], default_policy: AlertPolicy
) -> list[Subject]:
    """The services of `newest` (service id -> its newest check) as their alert rules see
    them at that check.

    Runs after the batch's ticks are inserted, with the services' rows locked, so the state
    read here cannot change underneath: one alert per transition, even with several pollers.

    1. Read the services' alert policies and states (one statement).
    2. Count checks and failures in every service's rule windows (one statement).
    """
    ids = sorted(newest)
    s = services.c
    rows = {
        row.id: row
        for row in conn.execute(
            select(s.id, s.name, s.alert_policy, s.alert_state, s.alert_changed_at).where(
                s.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
            )
        )
    }
    policies = {
        sid: default_policy.merged(row.alert_policy) if row.alert_policy else default_policy
        for sid, row in rows.items()
    }
    present = [sid for sid in ids if sid in rows]
    windows = conn.execute(
        _WINDOWS,
        {
            "ids": column(present),
            "ats": column(newest[sid] for sid in present),
            "avail": floats(policies[sid].window_seconds for sid in present),
            "fail": floats(policies[sid].failure_window_seconds for sid in present),
        },
    )
    return [
        Subject(
            service_id=w.id,
            name=rows[w.id].name,
            policy=policies[w.id],
            state=rows[w.id].alert_state,
            state_since=rows[w.id].alert_changed_at,
            at=newest[w.id],
            availability=Window(w.avail_checks, w.avail_failures),
            failures=Window(w.fail_checks, w.fail_failures),
        )
        for w in windows
    ]


def insert(conn: Connection, raised: Sequence[tuple[Alert, Sequence[Receiver]]]) -> list[Alert]:
    """Write the alerts (at most one per service) with their ids, then the services' new
    alert states, then one pending delivery per alert and recipient; the alerts with ids."""
    if not raised:
        return []
    alerts_ = [alert for alert, _ in raised]
    inserted = conn.execute(
        _INSERT_ALERTS,
        {
            "service_id": column(a.service_id for a in alerts_),
            "kind": column(a.kind for a in alerts_),
            "rule": column(a.rule for a in alerts_),
            "message": column(a.message for a in alerts_),
            "availability_percent": floats(a.availability_percent for a in alerts_),
            "window_seconds": column(a.window_seconds for a in alerts_),
            "raised_at": column(a.raised_at for a in alerts_),
            "downtime_seconds": floats(a.downtime_seconds for a in alerts_),
        },
    )
    alert_ids = {row.service_id: row.id for row in inserted}
    alerts_ = [replace(a, id=alert_ids[a.service_id]) for a in alerts_]
    conn.execute(
        _SET_ALERT_STATES,
        {
            "id": column(a.service_id for a in alerts_),
            "state": column("alerting" if a.kind == "down" else "ok" for a in alerts_),
            "at": column(a.raised_at for a in alerts_),
        },
    )
    deliveries = [
        (alert.id, recipient)
        for alert, (_, recipients) in zip(alerts_, raised, strict=True)
        for recipient in recipients
    ]
    if deliveries:
        conn.execute(
            _INSERT_DELIVERIES,
            {
                "alert_id": column(alert_id for alert_id, _ in deliveries),
                "channel": column(r.channel for _, r in deliveries),
                "target": column(r.target for _, r in deliveries),
                "secret": column(r.secret for _, r in deliveries),
            },
        )
    return alerts_


def alert_of(row: RowMapping, id_key: str = "id") -> Alert:
    """An alert from a row of `alerts` joined with its service's name (as `service_name`);
    `id_key` names the column holding the alert's id."""
    return Alert(
        id=row[id_key],
        service_id=row["service_id"],
        service_name=row["service_name"],
        kind=row["kind"],
        rule=row["rule"],
        message=row["message"],
        availability_percent=row["availability_percent"],
        window_seconds=row["window_seconds"],
        raised_at=row["raised_at"],
        downtime_seconds=row["downtime_seconds"],
    )


def page(
    conn: Connection,
    *,
    limit: int,
    after: str | None = None,
    service_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    visibility: Visibility = EVERYTHING,
) -> Page[Alert]:
    """Alerts of the services in `visibility`, newest first, optionally of one service, one kind
    and a time range."""
    a = alerts.c
    query = (
        select(alerts, services.c.name.label("service_name"))
        .join(services, services.c.id == a.service_id)
        .where(within(visibility))
    )
    if service_id is not None:
        query = query.where(a.service_id == service_id)
    if kind is not None:
        query = query.where(a.kind == kind)
    query = cursor.newest_first(
        query, a.raised_at, a.id, limit=limit, since=since, until=until, after=after
    )
    rows = [alert_of(r) for r in conn.execute(query).mappings()]
    return cursor.page(rows, limit, lambda alert: (alert.raised_at, alert.id))
