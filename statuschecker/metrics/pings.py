"""What the API's ping intake did: pings answered, by outcome, and how long each waited for
its transaction (the group commit's latency). Served on the API process's /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
ANSWERED = "statuschecker_pings"
WAIT = "statuschecker_ping_wait_seconds"
NAMES = frozenset({ANSWERED, WAIT})


class PingMetrics:
    """The pings of one API process, registered on the registry it is given."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.answered = Counter(
            ANSWERED,
            "Heartbeat pings answered by this process, by outcome (ok, unknown, limited, "
            "unavailable)",
            ("outcome",),
            registry=registry,
        )
        self.wait = Histogram(
            WAIT,
            "From a ping's arrival to its answer: the wait for the transaction that records it",
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
