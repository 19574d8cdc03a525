"""Turns a batch of check outcomes into stored ticks, metrics, events and alerts (the rules
decide, the store writes), then refreshes the status cache, counts the work for Prometheus
and logs."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import structlog
from sqlalchemy import Connection, Engine

from statuschecker.cache import StatusCache
from statuschecker.metrics.work import WorkMetrics
from statuschecker.model import (
    Alert,
    AlertPolicy,
    CheckOutcome,
    Confirmation,
    EventKind,
    Ping,
    Receiver,
    Service,
)
from statuschecker.polling import heartbeat_inputs, quorum_inputs
from statuschecker.rules import alerts as rules
from statuschecker.rules import dependencies, maintenance, periods
from statuschecker.rules.alerts import Seen
from statuschecker.rules.periods import StateChange
from statuschecker.store import alerts, maintenances, results, schedule
from statuschecker.store import heartbeats as heartbeat_store
from statuschecker.store import services as service_store
from statuschecker.system.changes import announce

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Written:
    """What a batch stored: how many outcomes were new, the state changes and alerts they
    led to, the services it changed (`changed`), those of them the cache held as they are
    now (`fresh`), and the names of those whose state changed."""

    kept: int = 0
    changes: list[StateChange] = field(default_factory=list)
    raised: list[Alert] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    fresh: list[Service] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)


class Recorder:
    """Records batches in one transaction each; the caches follow only what was committed."""

    def __init__(
        self,
        engine: Engine,
        cache: StatusCache,
        metrics: WorkMetrics,
        alert_policy: AlertPolicy,
        receivers: Sequence[Receiver] = (),
        on_alert: Callable[[], None] | None = None,
        confirmation: Confirmation | None = None,
        location_stale_seconds: float = 20.0,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._metrics = metrics
        self._alert_policy = alert_policy
        self._receivers = receivers
        self._on_alert = on_alert
        self._confirmation = confirmation or Confirmation()
        self._stale_after = timedelta(seconds=location_stale_seconds)

    def record(self, outcomes: list[CheckOutcome], lease_owner: str) -> None:
        """Store `outcomes`, decide what they change, raise the alerts that follow, and end
        `lease_owner`'s leases, all in one transaction.

        1. Lock the services (outcomes of services deleted meanwhile are dropped), judge the
           silences of heartbeats (`heartbeat_inputs`; their pings stored and not judged yet
           first), and mark the outcomes that fall in one of their maintenance windows.
        2. Store ticks, metrics and rollups (`kept`: the outcomes not stored before).
        3. Let the period rules confirm state changes; name the failing parent of each new
           downtime; keep each service's unconfirmed run, and check a service failing
           unconfirmed again after its retry interval.
        4. Let the alert rules decide, and store their alerts with the deliveries due.
        """
        started = time.perf_counter()
        with self._engine.begin() as conn:
            locked = results.lock(conn, {o.service_id for o in outcomes}, lease_owner)
            present = [o for o in outcomes if o.service_id in locked]
            silent = {o.service_id for o in present if o.silence}
            # A silent heartbeat's pings stored and not judged yet come first.
            pinged, _ = heartbeat_inputs.receive(conn, silent) if silent else ([], set())
            judged = pinged + heartbeat_inputs.judge_silences(conn, present)
            written = self._write(conn, locked, judged, silent)
        self._written(judged, written, started)

    def accept_pings(self, pings: Sequence[Ping]) -> list[int | None]:
        """Store heartbeat pings to be judged (`judge_pings`); for each, the id of the
        heartbeat whose key it names, None if none does. One short transaction: a ping is
        safe once this returns."""
        with self._engine.begin() as conn:
            return heartbeat_store.accept(conn, pings)

    def judge_pings(
        self, max_services: int, age_seconds: float = 0.0, among: Collection[int] | None = None
    ) -> int:
        """Judge the stored pings of up to `max_services` heartbeats that have some (with
        `age_seconds`, some at least that old; with `among`, of these heartbeats), and record
        what they change like `record` (one transaction); how many heartbeats. Those another
        transaction is judging are left to it."""
        started = time.perf_counter()
        with self._engine.begin() as conn:
            pending = set(heartbeat_store.pending_services(conn, max_services, age_seconds, among))
            if not pending:
                return 0
            outcomes, heard = heartbeat_inputs.receive(conn, pending)
            locked = results.lock(conn, {o.service_id for o in outcomes})
            written = self._write(conn, locked, outcomes, heard)
        self._written(outcomes, written, started)
        return len(pending)

    def _write(
        self,
        conn: Connection,
        locked: dict[int, results.Locked],
        outcomes: list[CheckOutcome],
        heard: set[int],
    ) -> _Written:
        """Steps 1 (from the maintenance marks) to 4 of `record`; then the services changed
        (those of the outcomes kept, and the heartbeats in `heard`, whose schedule moved) are
        announced to the other processes, and those this process's cache holds are read as
        they are now (a poller worker's holds none: nobody asks it)."""
        kept = results.write(conn, _marked(conn, locked, outcomes))
        changes, raised = self._judge(conn, locked, kept) if kept else ([], [])
        changed = sorted({o.service_id for o in kept} | heard)
        if not changed:
            return _Written()
        announce(conn, changed)
        held = self._cache.held(changed)
        fresh = service_store.get_many(conn, held) if held else []
        names = {c.service_id: locked[c.service_id].alerting.name for c in changes}
        return _Written(len(kept), changes, raised, changed, fresh, names)

    def _written(self, outcomes: list[CheckOutcome], written: _Written, started: float) -> None:
        """After the commit: count, refresh the cache, log, wake the notifier."""
        self._metrics.recorded(outcomes, written.kept, time.perf_counter() - started)
        for service_id in written.changed:
            self._cache.drop(service_id)
        self._cache.put(written.fresh)
        _log(outcomes, written.changes, written.raised, written.names)
        if written.raised and self._on_alert is not None:
            self._on_alert()

    def _judge(
        self, conn: Connection, locked: dict[int, results.Locked], kept: list[CheckOutcome]
    ) -> tuple[list[StateChange], list[Alert]]:
        """Steps 3 and 4 of `record`: the state changes and the alerts raised. The outcomes
        of a service checked from named locations are first confirmed at each and turned into
        the quorum's verdicts (`quorum_inputs`)."""

        def confirmation(sid: int) -> Confirmation:
            return self._confirmation.for_kind(locked[sid].kind).merged(*locked[sid].confirm)

        kept = quorum_inputs.by_quorum(conn, locked, kept, confirmation, self._stale_after)
        if not kept:
            return [], []
        touched = {o.service_id for o in kept}
        stored = results.open_periods(conn, touched)
        confirmations = {
            sid: quorum_inputs.at_once(confirmation(sid))
            if locked[sid].locations
            else confirmation(sid)
            for sid in touched
        }
        states = {
            sid: periods.ServiceState(stored.get(sid), locked[sid].run, confirmations[sid])
            for sid in touched
        }
        decided = periods.transitions(states, kept)
        newest = {o.service_id: o for o in kept}  # in time order: the last one stays
        confirmed: dict[int, EventKind | None] = {
            sid: (p.kind if (p := stored.get(sid)) else None) for sid in touched
        }
        for period in decided.begun:
            confirmed[period.service_id] = period.kind
        failing_here = {
            sid
            for sid in touched
            if dependencies.failing(
                confirmed[sid],
                (run := decided.runs.get(sid)) is not None and run.kind == "downtime",
                newest[sid].in_maintenance,
            )
        }
        parents = {p for sid in touched for p in locked[sid].depends_on}
        failing = (failing_here & parents) | results.failing(conn, parents - touched)
        causes = {sid: dependencies.cause(locked[sid].depends_on, failing) for sid in touched}
        for period in decided.begun:
            if period.kind == "downtime":
                period.caused_by = causes[period.service_id]
        results.write_periods(conn, decided)
        changed = {
            sid: run
            for sid, run in decided.runs.items()
            if run != locked[sid].run or newest[sid].in_maintenance != locked[sid].in_maintenance
        }
        results.write_state(conn, changed, {sid: o.in_maintenance for sid, o in newest.items()})
        retries = {
            sid: newest[sid].checked_at
            + timedelta(seconds=confirmations[sid].retry_interval_seconds)
            for sid, run in decided.runs.items()
            if run is not None and run.kind == "downtime"
        }
        schedule.retry(conn, retries)
        seen = {
            sid: Seen(
                o.checked_at,
                confirmed[sid],
                o.in_maintenance,
                causes[sid],
                confirmations[sid].down_after,
                o.result.error,
            )
            for sid, o in newest.items()
        }
        decisions = [
            (subject, rules.decide(subject), rules.recipients(subject.policy, self._receivers))
            for subject in alerts.subjects(
                conn, seen, self._alert_policy, {sid: locked[sid].alerting for sid in seen}
            )
        ]
        return decided.changes, alerts.insert(conn, decisions)


def _marked(
    conn: Connection, locked: dict[int, results.Locked], outcomes: list[CheckOutcome]
) -> list[CheckOutcome]:
    """`outcomes`, those that fall in a maintenance window of their service marked so."""
    if not outcomes:
        return outcomes
    windows = maintenances.covering(
        conn,
        {sid: (locked[sid].owner_id, locked[sid].tags) for sid in {o.service_id for o in outcomes}},
    )
    if not windows:
        return outcomes
    return [
        replace(o, in_maintenance=True)
        if any(maintenance.covers(w, o.checked_at) for w in windows.get(o.service_id, ()))
        else o
        for o in outcomes
    ]


def _log(
    outcomes: list[CheckOutcome],
    changes: list[StateChange],
    raised: list[Alert],
    names: dict[int, str],
) -> None:
    """One event per check recorded (debug), per state change and per alert raised."""
    for outcome in outcomes:
        result = outcome.result
        log.debug(
            "check.recorded",
            service_id=outcome.service_id,
            up=result.up,
            response_time_ms=result.response_time_ms,
            status_code=result.status_code,
            error=result.error,
            in_maintenance=outcome.in_maintenance,
        )
    for change in changes:
        emit = log.warning if change.current == "downtime" else log.info
        emit(
            "service.state_changed",
            service_id=change.service_id,
            service_name=names.get(change.service_id),
            previous=change.previous,
            current=change.current,
            at=change.at.isoformat(),
        )
    for alert in raised:
        log.warning(
            "alert.raised",
            service_id=alert.service_id,
            alert_id=alert.id,
            kind=alert.kind,
            rule=alert.rule,
            message=alert.message,
            suppressed_by=alert.suppressed_by,
            held=alert.held,
        )
