"""Alerts in the database: what the rules need to decide inside the recorder's transaction,
writing what they raised with its deliveries, and reading alerts back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, text

from statuschecker.model import Alert, AlertPolicy, Page, Receiver, Visibility
from statuschecker.rules.alerts import AlertState, Decision, Seen, Subject, Window
from statuschecker.store import cursor
from statuschecker.store.arrays import column, floats
from statuschecker.store.services import EVERYTHING, within
from statuschecker.store.tables import alerts, services


@dataclass(frozen=True, slots=True)
class AlertColumns:
    """What the alert rules read of a service's row: its policy and its alert state."""

    name: str
    kind: str
    alert_policy: dict[str, Any] | None
    alert_state: AlertState
    alert_changed_at: datetime | None
    alert_suppressed_by: int | None
    alert_cause_seen_at: datetime | None
    degraded: bool
    flapping: bool
    # Its down and recovered alerts follow its confirmed state (rules.alerts.by_state): a
    # heartbeat's, and those of a service decided by the quorum of its locations.
    by_state: bool = False


# For each service, at its newest check of the batch: how many checks, and failures, fell in
# each rule's window; the response time statistic of its successful checks in the degraded
# rule's window (rt: 0 when the rule is off); how many confirmed periods began in the flapping
# window (flap: 0 when the rule is off); and, for a service whose down alert was suppressed,
# its failed checks since a failing parent was last seen (cause_seen: null otherwise).
_WINDOWS = text(
    """
    SELECT w.id, c.avail_checks, c.avail_failures, c.fail_checks, c.fail_failures,
           r.statistic, coalesce(f.changes, 0) AS changes, coalesce(o.failures, 0) AS failures
    FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]),
                CAST(:avail AS float8[]), CAST(:fail AS float8[]), CAST(:rt AS float8[]),
                CAST(:stat AS text[]), CAST(:flap AS float8[]),
                CAST(:cause_seen AS timestamptz[]))
         AS w(id, at, avail, fail, rt, stat, flap, cause_seen)
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE t.checked_at > w.at - make_interval(secs => w.avail))
                   AS avail_checks,
               count(*) FILTER (WHERE NOT t.up
                                AND t.checked_at > w.at - make_interval(secs => w.avail))
                   AS avail_failures,
               count(*) FILTER (WHERE t.checked_at > w.at - make_interval(secs => w.fail))
                   AS fail_checks,
               count(*) FILTER (WHERE NOT t.up
                                AND t.checked_at > w.at - make_interval(secs => w.fail))
                   AS fail_failures
        FROM service_ticks t
        WHERE t.service_id = w.id
          AND t.checked_at > w.at - make_interval(secs => greatest(w.avail, w.fail))
          AND t.checked_at <= w.at
    ) c
    LEFT JOIN LATERAL (
        SELECT CASE WHEN w.stat = 'avg' THEN avg(t.response_time_ms)
                    ELSE percentile_cont(0.95) WITHIN GROUP (ORDER BY t.response_time_ms)
               END AS statistic
        FROM service_ticks t
        WHERE w.rt > 0 AND t.service_id = w.id AND t.up
          AND t.checked_at > w.at - make_interval(secs => w.rt) AND t.checked_at <= w.at
    ) r ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS changes FROM service_events e
        WHERE w.flap > 0 AND e.service_id = w.id
          AND e.date_started > w.at - make_interval(secs => w.flap)
    ) f ON true
    LEFT JOIN LATERAL (
        SELECT count(*) AS failures FROM service_ticks t
        WHERE w.cause_seen IS NOT NULL AND t.service_id = w.id AND NOT t.up
          AND t.checked_at > w.cause_seen AND t.checked_at <= w.at
    ) o ON true
    """
)


# The batch's alerts, in the order given (so ids follow it); their ids by service.
_INSERT_ALERTS = text(
    """
    INSERT INTO alerts (service_id, kind, rule, message, availability_percent, window_seconds,
        raised_at, downtime_seconds, suppressed_by, held)
    SELECT service_id, kind, rule, message, availability_percent, window_seconds, raised_at,
           downtime_seconds, suppressed_by, held
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:kind AS text[]), CAST(:rule AS text[]),
                CAST(:message AS text[]), CAST(:availability_percent AS float8[]),
                CAST(:window_seconds AS integer[]), CAST(:raised_at AS timestamptz[]),
                CAST(:downtime_seconds AS float8[]), CAST(:suppressed_by AS bigint[]),
                CAST(:held AS boolean[]))
         WITH ORDINALITY AS d(service_id, kind, rule, message, availability_percent,
                              window_seconds, raised_at, downtime_seconds, suppressed_by, held, n)
    ORDER BY n
    RETURNING id, service_id, kind, rule
    """
)

# A service's alert states; alert_changed_at moves only when alert_state changes.
_SET_ALERT_STATES = text(
    """
    UPDATE services AS s SET
        alert_changed_at = CASE WHEN s.alert_state = d.state THEN s.alert_changed_at
                                ELSE d.at END,
        alert_state = d.state, alert_suppressed_by = d.suppressed_by,
        alert_cause_seen_at = d.cause_seen_at, degraded = d.degraded, flapping = d.flapping
    FROM unnest(CAST(:id AS bigint[]), CAST(:state AS text[]), CAST(:at AS timestamptz[]),
                CAST(:suppressed_by AS bigint[]), CAST(:cause_seen_at AS timestamptz[]),
                CAST(:degraded AS boolean[]), CAST(:flapping AS boolean[]))
         AS d(id, state, at, suppressed_by, cause_seen_at, degraded, flapping)
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
    conn: Connection,
    seen: Mapping[int, Seen],
    default_policy: AlertPolicy,
    rows: Mapping[int, AlertColumns],
) -> list[Subject]:
    """The services of `seen` (service id -> what the batch showed of it; `rows`: their alert
    columns, read with their row locks) as their alert rules see them at their newest check.

    Runs after the batch's ticks and periods are written, with the services' rows locked, so
    the state read cannot change underneath: one alert per transition, even with several
    pollers. Every service's rule windows are measured in one statement.
    """
    ids = sorted(seen)
    policies = {
        sid: default_policy.merged(row.alert_policy) if row.alert_policy else default_policy
        for sid, row in rows.items()
        if sid in seen
    }
    present = [sid for sid in ids if sid in rows]
    windows = conn.execute(
        _WINDOWS,
        {
            "ids": column(present),
            "ats": column(seen[sid].at for sid in present),
            # Alerts by state need no window (rules.alerts.by_state).
            "avail": floats(
                0 if rows[sid].by_state else policies[sid].window_seconds for sid in present
            ),
            "fail": floats(
                0 if rows[sid].by_state else policies[sid].failure_window_seconds for sid in present
            ),
            "rt": floats(
                policies[sid].response_time_window_seconds
                if policies[sid].response_time_ms_above is not None
                else 0
                for sid in present
            ),
            "stat": column(policies[sid].response_time_statistic for sid in present),
            "flap": floats(
                policies[sid].flap_window_seconds if policies[sid].flap_changes is not None else 0
                for sid in present
            ),
            "cause_seen": column(
                rows[sid].alert_cause_seen_at if rows[sid].alert_suppressed_by else None
                for sid in present
            ),
        },
    )
    return [
        Subject(
            service_id=w.id,
            name=rows[w.id].name,
            policy=policies[w.id],
            state=rows[w.id].alert_state,
            state_since=rows[w.id].alert_changed_at,
            at=seen[w.id].at,
            availability=Window(w.avail_checks, w.avail_failures),
            failures=Window(w.fail_checks, w.fail_failures),
            confirmed=seen[w.id].confirmed,
            in_maintenance=seen[w.id].in_maintenance,
            cause=seen[w.id].cause,
            suppressed_by=rows[w.id].alert_suppressed_by,
            degraded=rows[w.id].degraded,
            flapping=rows[w.id].flapping,
            response_time_ms=w.statistic,
            state_changes=w.changes,
            cause_seen_at=rows[w.id].alert_cause_seen_at,
            failures_since_cause_ended=w.failures,
            confirm_down_after=seen[w.id].confirm_down_after,
            by_state=rows[w.id].by_state,
            reason=seen[w.id].reason,
        )
        for w in windows
    ]


def insert(
    conn: Connection, decided: Sequence[tuple[Subject, Decision, Sequence[Receiver]]]
) -> list[Alert]:
    """Write the decisions: their alerts with ids, then the services' new alert states, then
    one pending delivery per alert and recipient (none for an alert suppressed or held); the
    alerts with ids."""
    if not decided:
        return []
    raised = [
        (alert, recipients) for _, decision, recipients in decided for alert in decision.alerts
    ]
    alerts_ = [alert for alert, _ in raised]
    if alerts_:
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
                "suppressed_by": column(a.suppressed_by for a in alerts_),
                "held": column(a.held for a in alerts_),
            },
        )
        ids = {(row.service_id, row.kind, row.rule): row.id for row in inserted}
        alerts_ = [replace(a, id=ids[(a.service_id, a.kind, a.rule)]) for a in alerts_]
    changed = [
        (subject, decision)
        for subject, decision, _ in decided
        if (decision.state, decision.suppressed_by, decision.cause_seen_at)
        != (subject.state, subject.suppressed_by, subject.cause_seen_at)
        or (decision.degraded, decision.flapping) != (subject.degraded, subject.flapping)
    ]
    if changed:
        conn.execute(
            _SET_ALERT_STATES,
            {
                "id": column(subject.service_id for subject, _ in changed),
                "state": column(decision.state for _, decision in changed),
                "at": column(subject.at for subject, _ in changed),
                "suppressed_by": column(decision.suppressed_by for _, decision in changed),
                "cause_seen_at": column(decision.cause_seen_at for _, decision in changed),
                "degraded": column(decision.degraded for _, decision in changed),
                "flapping": column(decision.flapping for _, decision in changed),
            },
        )
    deliveries = [
        (alert.id, recipient)
        for alert, (_, recipients) in zip(alerts_, raised, strict=True)
        if alert.suppressed_by is None and not alert.held
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
        suppressed_by=row["suppressed_by"],
        held=row["held"],
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
