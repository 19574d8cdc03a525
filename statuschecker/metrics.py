"""Prometheus collectors: per-service state, check counts, durations and schedule lag."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from statuschecker.model import CheckOutcome, Service

_LABELS = ("service_id", "service_name")
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30, 60)


class Metrics:
    """The collectors of one process, registered on the registry it is given."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.service_up = Gauge(
            "statuschecker_service_up",
            "1 when the service's last check succeeded, 0 when it failed",
            _LABELS,
            registry=registry,
        )
        self.response_time = Gauge(
            "statuschecker_service_response_time_seconds",
            "Response time of the service's last check",
            _LABELS,
            registry=registry,
        )
        self.checks = Counter(
            "statuschecker_checks",
            "Checks recorded, by result",
            ("result",),
            registry=registry,
        )
        self.check_duration = Histogram(
            "statuschecker_check_duration_seconds",
            "Wall time of one check",
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.schedule_lag = Histogram(
            "statuschecker_schedule_lag_seconds",
            "How late a check started against its due time",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()

    def observe_check(self, lag_seconds: float, duration_seconds: float) -> None:
        """Count one check's lateness and duration (poller side)."""
        self.schedule_lag.observe(max(lag_seconds, 0.0))
        self.check_duration.observe(duration_seconds)

    def record(self, outcomes: list[CheckOutcome], services: Iterable[Service]) -> None:
        """Reflect a recorded batch: counts by result and each service's latest state."""
        latest: dict[int, CheckOutcome] = {}
        for outcome in outcomes:
            self.checks.labels("up" if outcome.result.up else "down").inc()
            seen = latest.get(outcome.service_id)
            if seen is None or outcome.checked_at >= seen.checked_at:
                latest[outcome.service_id] = outcome
        for service in services:
            if service.status == "unknown":
                continue
            labels = self._labels(service)
            self.service_up.labels(*labels).set(1 if service.status == "up" else 0)
            newest = latest.get(service.id)
            if newest is not None and newest.result.response_time_ms is not None:
                self.response_time.labels(*labels).set(newest.result.response_time_ms / 1000)

    def forget(self, service_id: int) -> None:
        """Remove a deleted service's series."""
        with self._lock:
            name = self._names.pop(service_id, None)
        if name is not None:
            self._remove((str(service_id), name))

    def _labels(self, service: Service) -> tuple[str, str]:
        """Label values for a service; a renamed service's old series go away."""
        with self._lock:
            old = self._names.get(service.id)
            self._names[service.id] = service.name
        if old is not None and old != service.name:
            self._remove((str(service.id), old))
        return str(service.id), service.name

    def _remove(self, labels: tuple[str, str]) -> None:
        for gauge in (self.service_up, self.response_time):
            with contextlib.suppress(KeyError):  # no series yet
                gauge.remove(*labels)
