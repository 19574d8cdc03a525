"""Turns a batch of check outcomes into stored ticks, metrics, events and alerts (the rules
decide, the store writes), then refreshes the status cache, counts the work for Prometheus
and logs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog
from sqlalchemy import Connection, Engine

from statuschecker.cache import StatusCache
from statuschecker.metrics.work import WorkMetrics
from statuschecker.model import Alert, AlertPolicy, CheckOutcome, Receiver
from statuschecker.rules import alerts as rules
from statuschecker.store import alerts, results, schedule
from statuschecker.store import services as service_store
from statuschecker.system.changes import announce

log = structlog.get_logger(__name__)


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
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._metrics = metrics
        self._alert_policy = alert_policy
        self._receivers = receivers
        self._on_alert = on_alert

    def record(self, outcomes: list[CheckOutcome], lease_owner: str) -> None:
        """Store `outcomes`, raise the alerts they decide, and end `lease_owner`'s leases,
        all in one transaction."""
        started = time.perf_counter()
        with self._engine.begin() as conn:
            written = results.write(conn, outcomes)
            raised = self._alerts(conn, written.kept) if written.kept else []
            schedule.release(conn, lease_owner, {o.service_id for o in outcomes})
            fresh = service_store.get_many(conn, written.service_ids) if written.kept else []
            announce(conn, written.service_ids)
        self._metrics.recorded(outcomes, len(written.kept), time.perf_counter() - started)
        self._cache.put(fresh)
        names = {s.id: s.name for s in fresh}
        for outcome in outcomes:
            result = outcome.result
            log.debug(
                "check.recorded",
                service_id=outcome.service_id,
                up=result.up,
                response_time_ms=result.response_time_ms,
                status_code=result.status_code,
                error=result.error,
            )
        for change in written.changes:
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
            )
        if raised and self._on_alert is not None:
            self._on_alert()

    def _alerts(self, conn: Connection, kept: list[CheckOutcome]) -> list[Alert]:
        """Apply each touched service's alert rules at its newest check of the batch and
        store what they raise, with a delivery to each of its recipients."""
        newest: dict[int, datetime] = {}
        for outcome in kept:  # in time order
            newest[outcome.service_id] = outcome.checked_at
        decided = [
            (alert, rules.recipients(subject.policy, self._receivers))
            for subject in alerts.subjects(conn, newest, self._alert_policy)
            if (alert := rules.decide(subject)) is not None
        ]
        return alerts.insert(conn, decided)
