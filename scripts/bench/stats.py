"""Stats benchmark: one service with a year of ticks, timing the stats the API computes.

    python scripts/bench/stats.py [--days 365] [--interval 30] [--repeat 20] [--json]

Gets a server and a fresh, migrated database as `poller.py` does (dropped at the end), registers
one service and fills `--days` ending now with a check every `--interval` seconds: mostly up with
log-normal response times (a few slow outliers), about 1 % 503s, 1 % timeouts and a few outages
of minutes to hours. Every batch goes through `statuschecker.store.results.write`, the recorder's
own transaction, so ticks, metrics, hourly rollups and events agree. The windows are then timed
twice, with every tick kept and after pruning to the default 30-day retention (the production
shape), each time after `VACUUM ANALYZE` and after topping the ticks up to the present:
`statuschecker.services.stats.compute` directly and the HTTP requests through the app's test
client. For each window the statement that took most of the compute time is named; `--explain`
prints its plan when the window's median is over `--slow-ms`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import random
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, event, func, select, text

from statuschecker.accounts.credentials import hash_password, issue_access_token, signing_key
from statuschecker.model import Caller, CheckOutcome, CheckResult
from statuschecker.polling import retention
from statuschecker.runtime import Runtime
from statuschecker.services import stats
from statuschecker.store import results, rollups
from statuschecker.store.accounts import create_user, password_hash_of
from statuschecker.store.tables import (
    service_events,
    service_rollup_outcomes,
    service_rollups,
    service_ticks,
)
from statuschecker.system.config import Settings


def _load_poller_bench() -> ModuleType:
    """scripts/bench/poller.py as a module, for its set-up helpers."""
    spec = importlib.util.spec_from_file_location(
        "bench_poller", Path(__file__).with_name("poller.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_poller_bench = _load_poller_bench()
server_url = _poller_bench.server_url
fresh_database = _poller_bench.fresh_database
quantile = _poller_bench.quantile

RETENTION = timedelta(days=30)
BATCH = 5000
WINDOWS = stats.SUMMARY_WINDOWS
ADMIN = "bench@example.com"
"""The account the HTTP requests act as (an admin: the bench service has no owner)."""
# Names of the statements `stats.compute` runs, by a fragment only that statement contains.
STATEMENTS = [
    ("percentile_cont", "exact percentiles (ticks)"),
    ("jsonb_each_text", "histogram (rollups)"),
    ("service_rollup_outcomes", "outcomes (rollups)"),
    ("FROM service_rollups", "totals (rollups)"),
    ("GROUP BY status_code", "outcomes (ticks)"),
    ("SELECT response_time_ms", "response times (ticks)"),
    ("min(checked_at)", "oldest tick"),
    ("service_events", "downtime (events)"),
    ("count(*) AS checks", "totals (ticks)"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of ticks to fill")
    parser.add_argument("--interval", type=int, default=30, help="seconds between ticks")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per request")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per request first")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic ticks")
    parser.add_argument("--slow-ms", type=float, default=50.0, help="what --explain calls slow")
    parser.add_argument("--explain", action="store_true", help="print plans of slow windows")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.days < 1 or not 1 <= args.interval <= 86400 or args.repeat < 1 or args.warmup < 0:
        parser.error("need --days >= 1, 1 <= --interval <= 86400, --repeat >= 1, --warmup >= 0")
    return args


# -- synthetic ticks ---------------------------------------------------------------------------


class Ticks:
    """A service's checks every `interval` seconds from `start`, generated on demand in time
    order: mostly up (20-400 ms, 0.5 % slow outliers of 1-8 s), about 1 % 503s and 1 % timeouts,
    and about eight outages a year of 5 min to 6 h."""

    OUTAGE_REASONS = ("connection refused", "timeout (deadline 10s)", "status 503")

    def __init__(self, service_id: int, start: datetime, interval: int, days: int, seed: int):
        self.service_id = service_id
        self.interval = timedelta(seconds=interval)
        self.next_at = start
        self.rng = random.Random(seed)
        span = days * 86400
        outages = []
        for _ in range(max(1, round(8 * days / 365))):
            length = math.exp(self.rng.uniform(math.log(300), math.log(6 * 3600)))
            begin = start + timedelta(seconds=self.rng.uniform(0, max(0.0, span - length - 3600)))
            outages.append((begin, begin + timedelta(seconds=length), self.rng.randrange(3)))
        self.outages = sorted(outages)

    def until(self, end: datetime) -> Iterator[CheckOutcome]:
        """The checks due before `end` not generated yet."""
        while self.next_at < end:
            jitter = timedelta(milliseconds=self.rng.uniform(0, 200))
            yield CheckOutcome(self.service_id, self.next_at + jitter, self._result(self.next_at))
            self.next_at += self.interval

    def _result(self, at: datetime) -> CheckResult:
        rng = self.rng
        for begin, end, reason in self.outages:
            if begin <= at < end:
                return _failure(self.OUTAGE_REASONS[reason], rng)
        draw = rng.random()
        if draw < 0.01:
            return _failure("status 503", rng)
        if draw < 0.02:
            return _failure("timeout (deadline 10s)", rng)
        if draw < 0.025:
            rt = rng.uniform(1000, 8000)
        else:
            rt = min(400.0, max(20.0, rng.lognormvariate(math.log(80), 0.5)))
        return CheckResult(
            up=True, response_time_ms=rt, ttfb_ms=rt * rng.uniform(0.5, 0.9), status_code=200
        )


def _failure(reason: str, rng: random.Random) -> CheckResult:
    if reason == "status 503":
        rt = rng.uniform(3, 40)
        return CheckResult(False, rt, rt * 0.8, 503, reason)
    return CheckResult(up=False, error=reason)


def fill(engine: Engine, ticks: Ticks, end: datetime) -> tuple[int, float]:
    """Write the ticks due before `end` in batches of BATCH, one transaction each, as the
    recorder does; return how many and the seconds spent in the database."""
    written, in_db = 0, 0.0
    batch: list[CheckOutcome] = []

    def flush() -> None:
        nonlocal written, in_db
        began = time.perf_counter()
        with engine.begin() as conn:
            results.write(conn, batch)
        in_db += time.perf_counter() - began
        written += len(batch)
        batch.clear()

    for outcome in ticks.until(end):
        batch.append(outcome)
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    return written, in_db


def vacuum_analyze(engine: Engine) -> float:
    """VACUUM ANALYZE the database; return the seconds it took."""
    began = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


def row_counts(engine: Engine, service_id: int) -> dict[str, int]:
    """Rows the service has in each table the stats read."""
    tables = {
        "ticks": service_ticks,
        "rollups": service_rollups,
        "rollup_outcomes": service_rollup_outcomes,
        "events": service_events,
    }
    with engine.connect() as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(table).where(table.c.service_id == service_id)
            ).scalar_one()
            for name, table in tables.items()
        }


# -- timing ------------------------------------------------------------------------------------


class StatementClock:
    """Seconds spent per statement kind (see STATEMENTS) while `on`, with the slowest run of
    each kind kept for EXPLAIN."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.spent: dict[str, float] = defaultdict(float)
        self.slowest: dict[str, tuple[float, str, Any]] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        """Forget what was measured."""
        self.spent.clear()
        self.slowest.clear()

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info["bench_began"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not self.on:
            return
        took = time.perf_counter() - conn.info.pop("bench_began", time.perf_counter())
        kind = next((name for frag, name in STATEMENTS if frag in statement), statement[:40])
        self.spent[kind] += took
        if took > self.slowest.get(kind, (0.0, "", None))[0]:
            self.slowest[kind] = (took, statement, parameters)


def timed(run: Callable[[], Any], warmup: int, repeat: int) -> tuple[list[float], Any]:
    """Seconds of `repeat` runs after `warmup` untimed ones, sorted; and the last result."""
    result = None
    for _ in range(warmup):
        result = run()
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - began)
    return sorted(seconds), result


def summary_ms(seconds: list[float]) -> dict[str, float]:
    """Median and p95 (nearest rank) in milliseconds."""
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 2),
        "p95_ms": round(quantile(seconds, 0.95) * 1000, 2),
    }


def explain(engine: Engine, statement: str, parameters: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement as it ran."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        return "\n".join(row[0] for row in rows)


def time_compute(
    engine: Engine, clock: StatementClock, service_id: int, args: argparse.Namespace
) -> list[dict]:
    """Time `stats.compute` for every window, each on its own pooled connection as the API
    does; name the statement that took most of the time."""
    measured = []
    for label, span in WINDOWS.items():

        def run(span: timedelta = span) -> stats.Stats:
            now = datetime.now(UTC)
            with engine.connect() as conn:
                return stats.compute(conn, service_id, now - span, now, now, RETENTION)

        clock.reset()
        clock.on = True
        try:
            seconds, result = timed(run, args.warmup, args.repeat)
        finally:
            clock.on = False
        total = sum(clock.spent.values())
        top = max(clock.spent, key=clock.spent.__getitem__)
        entry = {
            "window": label,
            "checks": result.checks,
            "percentiles": result.percentiles,
            **summary_ms(seconds),
            "top_statement": top,
            "top_statement_share": round(clock.spent[top] / total, 2) if total else None,
        }
        if args.explain and entry["median_ms"] > args.slow_ms:
            _, statement, parameters = clock.slowest[top]
            entry["plan"] = explain(engine, statement, parameters)
        measured.append(entry)
    return measured


def time_http(runtime: Runtime, service_id: int, args: argparse.Namespace) -> dict[str, dict]:
    """Time the API's requests through the app (the runtime's engine is disposed after)."""
    from web.app import create_app  # imported late: connexion warns at import time

    base = f"/v1/services/{service_id}"
    paths = {
        f"stats {label}": f"{base}/stats?window_seconds={int(span.total_seconds())}"
        for label, span in WINDOWS.items()
    }
    paths["service"] = base
    paths["stats/summary"] = f"{base}/stats/summary"
    measured = {}
    with runtime.engine.begin() as conn:  # an admin: the bench service has no owner
        known = password_hash_of(conn, ADMIN)
        admin = known[0] if known else create_user(conn, ADMIN, hash_password(ADMIN), is_admin=True)
    token = issue_access_token(admin.id, signing_key(runtime.settings), 3600)
    headers = {"Authorization": f"Bearer {token}"}
    with create_app(runtime).test_client(headers=headers) as client:
        for name, path in paths.items():

            def get(path: str = path) -> Any:
                response = client.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code} {response.text}")
                return response

            seconds, _ = timed(get, args.warmup, args.repeat)
            measured[name] = summary_ms(seconds)
    return measured


def time_uptime(engine: Engine, service_id: int, args: argparse.Namespace) -> dict[str, float]:
    """Time the rollup query behind a service's uptime figures, which the API caches for a
    minute (so a timed GET of the service mostly shows the cached path)."""

    def run() -> Any:
        with engine.connect() as conn:
            return rollups.uptime(conn, [service_id], datetime.now(UTC))

    seconds, _ = timed(run, args.warmup, args.repeat)
    return summary_ms(seconds)


def measure_phase(
    runtime: Runtime,
    clock: StatementClock,
    ticks: Ticks,
    service_id: int,
    args: argparse.Namespace,
) -> dict:
    """Top the ticks up to now, VACUUM ANALYZE, and time everything."""
    fill(runtime.engine, ticks, datetime.now(UTC))
    vacuum_s = vacuum_analyze(runtime.engine)
    return {
        "vacuum_analyze_s": round(vacuum_s, 2),
        "rows": row_counts(runtime.engine, service_id),
        "compute": time_compute(runtime.engine, clock, service_id, args),
        "uptime_query": time_uptime(runtime.engine, service_id, args),
        "http": time_http(runtime, service_id, args),
    }


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Set up, fill, and time with all ticks kept and after pruning to the retention."""
    url = fresh_database(stack, server_url(stack))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        log_level="warning",
        tick_retention_days=RETENTION.days,
    )
    runtime = Runtime.build(settings, url, CollectorRegistry(), with_poller=False)
    stack.callback(runtime.close)
    clock = StatementClock(runtime.engine)
    timeout = float(min(10, args.interval))
    service = runtime.services.register(
        Caller(), "bench-stats", "http://127.0.0.1:9/", args.interval, timeout
    )

    end = datetime.now(UTC)
    ticks = Ticks(service.id, end - timedelta(days=args.days), args.interval, args.days, args.seed)
    began = time.perf_counter()
    count, in_db = fill(runtime.engine, ticks, end)
    fill_s = time.perf_counter() - began

    kept = measure_phase(runtime, clock, ticks, service.id, args)
    began = time.perf_counter()
    dropped_days = retention.prune(runtime.engine, RETENTION)
    prune_s = time.perf_counter() - began
    pruned = measure_phase(runtime, clock, ticks, service.id, args)
    pruned["prune"] = {"days_dropped": len(dropped_days), "seconds": round(prune_s, 2)}
    return {
        "days": args.days,
        "interval_s": args.interval,
        "repeat": args.repeat,
        "fill": {
            "ticks": count,
            "batch": BATCH,
            "seconds": round(fill_s, 1),
            "rows_per_s": round(count / fill_s),
            "write_seconds": round(in_db, 1),
            "outages": len(ticks.outages),
        },
        "kept": kept,
        "pruned": pruned,
    }


# -- report ------------------------------------------------------------------------------------


def _pair(figures: dict[str, float] | None) -> str:
    return "-" if figures is None else f"{figures['median_ms']:.1f}/{figures['p95_ms']:.1f}"


def table(report: dict) -> str:
    """The report as one text table (milliseconds as median/p95), with the set-up above it."""
    fill_, kept, pruned = report["fill"], report["kept"], report["pruned"]
    lines = [
        f"fill: {fill_['ticks']:,} ticks ({report['days']} d every {report['interval_s']} s, "
        f"{fill_['outages']} outages) in {fill_['seconds']} s = {fill_['rows_per_s']:,} rows/s "
        f"(results.write {fill_['write_seconds']} s, batches of {fill_['batch']:,})",
        f"kept:   {_rows(kept['rows'])}; VACUUM ANALYZE {kept['vacuum_analyze_s']} s",
        f"pruned: {_rows(pruned['rows'])}; prune dropped {pruned['prune']['days_dropped']} days "
        f"of ticks in {pruned['prune']['seconds']} s; "
        f"VACUUM ANALYZE {pruned['vacuum_analyze_s']} s",
        "",
    ]
    head = ("request", "checks", "mode", "compute", "http", "checks", "mode", "compute", "http")
    widths = (16, 9, 9, 13, 13, 9, 9, 13, 13)
    lines.append(f"{'':16}  {'all ticks kept (ms median/p95)':<53}  pruned to 30 d (ms median/p95)")
    lines.append(
        "  ".join(f"{h:<{w}}" for h, w in zip(head, widths, strict=True))
        + "  slowest stmt (kept | pruned)"
    )
    by_window = {
        phase: {e["window"]: e for e in report[phase]["compute"]} for phase in ("kept", "pruned")
    }
    rows = [f"stats {label}" for label in WINDOWS] + ["service", "stats/summary", "uptime query"]
    for name in rows:
        cells: list[str] = [name]
        notes = []
        for phase in ("kept", "pruned"):
            entry = by_window[phase].get(name.removeprefix("stats "))
            if entry is not None:
                cells += [f"{entry['checks']:,}", entry["percentiles"], _pair(entry)]
                notes.append(f"{entry['top_statement']} {entry['top_statement_share']:.0%}")
            else:
                compute = report[phase]["uptime_query"] if name == "uptime query" else None
                cells += ["", "", _pair(compute)]
            cells.append(_pair(report[phase]["http"].get(name)))
        line = "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True))
        lines.append(line + ("  " + " | ".join(notes) if notes else ""))
    for phase in ("kept", "pruned"):
        for entry in report[phase]["compute"]:
            if "plan" in entry:
                lines += ["", f"plan of {entry['top_statement']}, {entry['window']} ({phase}):"]
                lines.append(entry["plan"])
    return "\n".join(lines)


def _rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in rows.items())


def main(argv: list[str] | None = None) -> int:
    """Run the statistics benchmark."""
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    return _poller_bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
