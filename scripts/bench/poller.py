"""Poller benchmark: N services against a local target, measured end to end on PostgreSQL.

    python scripts/bench/poller.py --services 1000 --interval 5 --duration 60 [--json]

Uses STATUSCHECKER_DATABASE_URL's server if set, else an embedded PostgreSQL in a temporary
directory; creates a fresh database there (dropped at the end), migrates it, starts
`target.py` as a separate process, inserts the services with their first checks spread over
one interval, runs the real runtime (poller + recorder) for a warm-up and then the measured
window, and reports from the stored ticks and the Prometheus registry.

Schedule lag from ticks is exact: the schedule keeps each service's phase, so a check's slot
is `phase + k * interval` and its lag is `(checked_at - phase) mod interval` (a check later than
a whole interval shows up as a missed check instead). The histogram view interpolates within
the buckets of `statuschecker_schedule_lag_seconds`, as Prometheus' histogram_quantile does.
Expected checks are N * window / interval, so a handful either way is window-edge noise.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from select import select as wait_readable
from types import FrameType

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from statuschecker import logs
from statuschecker.checks import kind_of
from statuschecker.config import Settings
from statuschecker.embedded_db import EmbeddedPostgres
from statuschecker.runtime import Runtime
from statuschecker.store.engine import create_db_engine, migrate, sqlalchemy_url
from statuschecker.store.tables import service_metrics, service_ticks, services

TARGET = Path(__file__).resolve().with_name("target.py")
LAG_METRIC = "statuschecker_schedule_lag_seconds"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000, help="services to register")
    parser.add_argument("--interval", type=int, default=5, help="seconds between checks")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (one interval)")
    parser.add_argument("--concurrency", type=int, default=500, help="poller_concurrency")
    parser.add_argument("--idle", type=float, help="poller_idle_seconds (default: the setting's)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.services < 1 or not 1 <= args.interval <= 86400 or args.duration <= 0:
        parser.error("need --services >= 1, 1 <= --interval <= 86400 and --duration > 0")
    return args


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


# -- set-up ------------------------------------------------------------------------------------


def server_url(stack: contextlib.ExitStack) -> str:
    """The configured server, else an embedded one in a temp dir, stopped when `stack` closes."""
    given = os.environ.get("STATUSCHECKER_DATABASE_URL")
    if given:
        return sqlalchemy_url(given)
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="statuschecker-bench-")))
    server = EmbeddedPostgres(tmp / "postgres")
    stack.callback(server.stop)
    return server.start()


def fresh_database(stack: contextlib.ExitStack, url: str) -> str:
    """Create an empty, migrated database on the server; it is dropped when `stack` closes."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"statuschecker_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    stack.callback(drop)
    database = make_url(url).set(database=name).render_as_string(hide_password=False)
    migrate(database)
    return database


def start_target(stack: contextlib.ExitStack) -> int:
    """Start target.py in its own process; return its port. Terminated when `stack` closes."""
    proc = subprocess.Popen(
        [sys.executable, str(TARGET), "--port", "0", "--watch-parent"],
        stdout=subprocess.PIPE,
        text=True,
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        assert proc.stdout is not None
        proc.stdout.close()

    stack.callback(stop)
    assert proc.stdout is not None
    ready, _, _ = wait_readable([proc.stdout], [], [], 10.0)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("listening "):
        raise RuntimeError(f"target did not start (said {line!r}, exit code {proc.poll()})")
    return int(line.split()[1])


def register(engine: Engine, count: int, port: int, interval: int) -> dict[int, datetime]:
    """Insert `count` services in one transaction, first checks spread over one interval;
    return each service's phase (its first due time)."""
    start = datetime.now(UTC) + timedelta(seconds=0.5)
    rows = [
        {
            "name": f"bench-{i:05d}",
            "url": f"http://127.0.0.1:{port}/s/{i}",
            "kind": kind_of(f"http://127.0.0.1:{port}/"),
            "interval_seconds": interval,
            "timeout_seconds": float(min(5, interval)),
            "next_check_at": start + timedelta(seconds=interval * i / count),
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(insert(services), rows)
        phases: dict[int, datetime] = {
            row.id: row.next_check_at
            for row in conn.execute(select(services.c.id, services.c.next_check_at))
        }
        conn.execute(insert(service_metrics), [{"service_id": sid} for sid in phases])
    return phases


# -- measuring ---------------------------------------------------------------------------------


def lag_buckets(registry: CollectorRegistry) -> list[tuple[float, float]]:
    """The cumulative (upper bound, count) pairs of the schedule-lag histogram."""
    buckets = []
    for family in registry.collect():
        if family.name != LAG_METRIC:
            continue
        for sample in family.samples:
            if sample.name == LAG_METRIC + "_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    return sorted(buckets)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Estimate a quantile from cumulative buckets by linear interpolation within a bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bound: report that bound
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def skipped_slots(rows: list, interval: float) -> int:
    """Slots with no check, counted exactly from each service's gaps between consecutive ticks
    (a gap of k intervals skipped k - 1 slots), so window edges do not count."""
    times: dict[int, list[datetime]] = {}
    for row in rows:
        times.setdefault(row.service_id, []).append(row.checked_at)
    skipped = 0
    for checked in times.values():
        checked.sort()
        for earlier, later in itertools.pairwise(checked):
            skipped += max(0, round((later - earlier).total_seconds() / interval) - 1)
    return skipped


def quantile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of already sorted values."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1)]


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds, rounded; None stays None."""
    return None if seconds is None else round(seconds * 1000, 1)


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Set everything up, run the window, and compute the report."""
    url = fresh_database(stack, server_url(stack))
    port = start_target(stack)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)

    began = time.perf_counter()
    phases = register(engine, args.services, port, args.interval)
    register_seconds = time.perf_counter() - began

    overrides = {} if args.idle is None else {"poller_idle_seconds": args.idle}
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        poller_concurrency=args.concurrency,
        log_level="warning",
        **overrides,
    )
    runtime = Runtime.build(settings, url, CollectorRegistry(), with_poller=True)
    stack.callback(runtime.close)
    runtime.start()

    time.sleep(args.warmup if args.warmup is not None else args.interval)
    t0, buckets0 = datetime.now(UTC), lag_buckets(runtime.metrics.registry)
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(args.duration)
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    t1, buckets1 = datetime.now(UTC), lag_buckets(runtime.metrics.registry)
    runtime.close()  # in-flight checks end and every pending result is written

    tick = service_ticks.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(tick.service_id, tick.checked_at, tick.up).where(
                tick.checked_at >= t0, tick.checked_at < t1
            )
        ).all()

    window = (t1 - t0).total_seconds()
    expected = args.services * window / args.interval
    achieved = len(rows)
    per_service = Counter(row.service_id for row in rows)
    counts = sorted(per_service.get(sid, 0) for sid in phases)
    lags = sorted(
        (row.checked_at - phases[row.service_id]).total_seconds() % args.interval for row in rows
    )
    skipped = skipped_slots(rows, args.interval)
    window_buckets = [(b, c - c0) for (b, c), (_, c0) in zip(buckets1, buckets0, strict=True)]
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    return {
        "services": args.services,
        "interval_s": args.interval,
        "concurrency": args.concurrency,
        "register_s": round(register_seconds, 2),
        "window_s": round(window, 1),
        "expected_checks_per_s": round(args.services / args.interval, 1),
        "achieved_checks_per_s": round(achieved / window, 1),
        "checks_in_window": achieved,
        "missed_checks": max(0, round(expected - achieved)),
        "skipped_slots": skipped,
        "checks_per_service_min_median_max": [
            counts[0],
            statistics.median(counts),
            counts[-1],
        ],
        "services_never_checked": sum(1 for c in counts if c == 0),
        "lag_p50_ms": ms(quantile(lags, 0.50)),
        "lag_p99_ms": ms(quantile(lags, 0.99)),
        "lag_max_ms": ms(lags[-1] if lags else None),
        "histogram_lag_p50_ms": ms(histogram_quantile(0.50, window_buckets)),
        "histogram_lag_p99_ms": ms(histogram_quantile(0.99, window_buckets)),
        "down_ticks": sum(1 for row in rows if not row.up),
        "cpu_ms_per_check": round(1000 * cpu / achieved, 3) if achieved else None,
        "cpu_percent_of_one_core": round(100 * cpu / window, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


LABELS = {
    "services": "services",
    "interval_s": "interval (s)",
    "concurrency": "poller concurrency",
    "register_s": "registering took (s)",
    "window_s": "measured window (s)",
    "expected_checks_per_s": "expected checks/s",
    "achieved_checks_per_s": "achieved checks/s",
    "checks_in_window": "checks in window",
    "missed_checks": "missed checks",
    "skipped_slots": "skipped slots (gaps between ticks)",
    "checks_per_service_min_median_max": "checks per service min/median/max",
    "services_never_checked": "services never checked",
    "lag_p50_ms": "schedule lag p50 (ms, ticks)",
    "lag_p99_ms": "schedule lag p99 (ms, ticks)",
    "lag_max_ms": "schedule lag max (ms, ticks)",
    "histogram_lag_p50_ms": "schedule lag p50 (ms, histogram)",
    "histogram_lag_p99_ms": "schedule lag p99 (ms, histogram)",
    "down_ticks": "ticks with up=false",
    "cpu_ms_per_check": "process CPU per check (ms)",
    "cpu_percent_of_one_core": "process CPU (% of one core)",
    "peak_rss_mb": "peak RSS (MB)",
}


def table(report: dict) -> str:
    """The report as a two-column text table."""
    width = max(len(label) for label in LABELS.values())
    lines = []
    for key, label in LABELS.items():
        value = report[key]
        shown = "/".join(str(v) for v in value) if isinstance(value, list) else str(value)
        lines.append(f"{label:<{width}}  {shown:>12}")
    return "\n".join(lines)


def run(
    measure: Callable[[argparse.Namespace, contextlib.ExitStack], dict],
    table: Callable[[dict], str],
    args: argparse.Namespace,
) -> int:
    """Run a benchmark's `measure` and print its report (a table, or JSON with --json);
    everything it starts on the stack is stopped again, also on Ctrl-C or SIGTERM."""
    logs.configure(Settings(_env_file=None, log_level="warning"))  # type: ignore[call-arg]
    warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")  # pgserver's platformdirs
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with contextlib.ExitStack() as stack:
            report = measure(args, stack)
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the poller benchmark."""
    return run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
