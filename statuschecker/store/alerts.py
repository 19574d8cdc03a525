"""Alert evaluation inside the recorder's transaction, and reading alerts back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime

from sqlalchemy import Connection, Row, RowMapping, insert, select, text, update

from statuschecker import alerting
from statuschecker.model import Alert, AlertPolicy, CheckOutcome, Page, Receiver, Visibility
from statuschecker.store import cursor
from statuschecker.store.services import EVERYTHING, within
from statuschecker.store.tables import alert_deliveries, alerts, services

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


def evaluate(
    conn: Connection,
    outcomes: Sequence[CheckOutcome],
    default_policy: AlertPolicy,
    receivers: Sequence[Receiver],
) -> list[Alert]:
    """Apply each touched service's alert rules at its newest check; raise what they decide.

    Runs after the batch's ticks are inserted, with the services' rows locked, so the state
    read here cannot change underneath: one alert per transition, even with several pollers.
    A raised alert, the service's new alert state and one pending delivery per receiver are
    written together.
    """
    newest: dict[int, datetime] = {}
    for outcome in outcomes:
        if outcome.service_id not in newest or outcome.checked_at > newest[outcome.service_id]:
            newest[outcome.service_id] = outcome.checked_at
    ids = sorted(newest)
    s = services.c
    rows = {
        row.id: row
        for row in conn.execute(
            select(s.id, s.name, s.alert_policy, s.alert_state, s.alert_changed_at).where(
                s.id.in_(ids)
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
            "ids": present,
            "ats": [newest[sid] for sid in present],
            "avail": [float(policies[sid].window_seconds) for sid in present],
            "fail": [float(policies[sid].failure_window_seconds) for sid in present],
        },
    )
    raised = []
    for w in windows:
        row, policy = rows[w.id], policies[w.id]
        verdict = alerting.evaluate(
            policy,
            row.alert_state,
            alerting.Window(w.avail_checks, w.avail_failures),
            alerting.Window(w.fail_checks, w.fail_failures),
        )
        if verdict is not None:
            raised.append(_raise(conn, row, policy, verdict, newest[w.id], receivers))
    return raised


def _raise(
    conn: Connection,
    service: Row,
    policy: AlertPolicy,
    verdict: alerting.Verdict,
    at: datetime,
    receivers: Sequence[Receiver],
) -> Alert:
    changed_at = service.alert_changed_at
    downtime = (
        (at - changed_at).total_seconds() if verdict.kind == "recovered" and changed_at else None
    )
    alert = Alert(
        id=0,
        service_id=service.id,
        service_name=service.name,
        kind=verdict.kind,
        rule=verdict.rule,
        message=alerting.message(
            verdict.kind, service.name, verdict.availability_percent, at, downtime
        ),
        availability_percent=verdict.availability_percent,
        window_seconds=verdict.window_seconds,
        raised_at=at,
        downtime_seconds=downtime,
    )
    values = {k: v for k, v in asdict(alert).items() if k not in ("id", "service_name")}
    alert_id = conn.execute(insert(alerts).values(values).returning(alerts.c.id)).scalar_one()
    new_state = "alerting" if verdict.kind == "down" else "ok"
    conn.execute(
        update(services)
        .where(services.c.id == service.id)
        .values(alert_state=new_state, alert_changed_at=at)
    )
    targets = [
        *receivers,
        *(Receiver("webhook", hook.url, hook.secret) for hook in policy.webhooks),
        *(Receiver("apprise", url) for url in policy.apprise_urls),
    ]
    if targets:
        conn.execute(
            insert(alert_deliveries),
            [
                {"alert_id": alert_id, "channel": r.channel, "target": r.target, "secret": r.secret}
                for r in targets
            ],
        )
    return replace(alert, id=alert_id)


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
