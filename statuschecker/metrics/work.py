"""What this process did: checks by result, check duration, schedule lag, recorder batches and
rows (the write rate), results waiting to be written or given up, and whether the database
answers. A poller process serves them (summed over its worker processes by prometheus_client's
multiprocess mode); in `statuschecker run` they sit next to the per-service series on the API's
/metrics."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from statuschecker.model import CheckOutcome

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30, 60)
_BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WorkMetrics:
    """The work of one process, registered on the registry it is given. Under
    PROMETHEUS_MULTIPROC_DIR the values go to files a parent process sums."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.checks = Counter(
            "statuschecker_checks",
            "Checks recorded, by result and the location they were made from",
            ("result", "location"),
            registry=registry,
        )
        self.check_duration = Histogram(
            "statuschecker_check_duration_seconds",
            "Wall time of one check, by its kind (http, tcp, grpc, postgresql, ...)",
            ("kind",),
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.schedule_lag = Histogram(
            "statuschecker_schedule_lag_seconds",
            "How late a check started against its due time",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.batches = Counter(
            "statuschecker_recorder_batches",
            "Batches of results written, one transaction each",
            registry=registry,
        )
        self.rows = Counter(
            "statuschecker_recorder_rows_written",
            "Ticks written by the recorder",
            registry=registry,
        )
        self.batch_duration = Histogram(
            "statuschecker_recorder_batch_duration_seconds",
            "Time to write one batch (its whole transaction)",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.pending_results = Gauge(
            "statuschecker_poller_pending_results",
            "Check results waiting to be written",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.dropped_results = Counter(
            "statuschecker_poller_dropped_results",
            "Check results given up because the database stayed away beyond the buffer's bound",
            registry=registry,
        )
        self.database_up = Gauge(
            "statuschecker_poller_database_up",
            "1 while the poller reaches the database, 0 while it checks on its own and buffers",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.database_up.set(1)

    def observe_check(self, lag_seconds: float, duration_seconds: float, kind: str) -> None:
        """Count one check's lateness and duration (poller side)."""
        self.schedule_lag.observe(max(lag_seconds, 0.0))
        self.check_duration.labels(kind).observe(duration_seconds)

    def recorded(self, outcomes: Sequence[CheckOutcome], rows: int, seconds: float) -> None:
        """Count a committed batch: its outcomes by result, the ticks written, its time."""
        for (up, location), n in Tally((o.result.up, o.location) for o in outcomes).items():
            self.checks.labels("up" if up else "down", location).inc(n)
        self.batches.inc()
        self.rows.inc(rows)
        self.batch_duration.observe(seconds)

    def pending(self, count: int) -> None:
        """Say how many results wait to be written (poller side)."""
        self.pending_results.set(count)

    def dropped(self, count: int) -> None:
        """Count results given up unwritten (poller side)."""
        self.dropped_results.inc(count)

    def database_reachable(self, reachable: bool) -> None:
        """Say whether the poller reaches the database."""
        self.database_up.set(1 if reachable else 0)
