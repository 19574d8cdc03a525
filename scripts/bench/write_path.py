"""Where the database time of a check goes: each statement of the claim and record path, timed.

    python scripts/bench/write_path.py --services 3000 --interval 10 --seconds 30

Sets up as `poller.py` does (server, fresh database, nginx or target.py, services owned by a
bench account), then runs one poller runtime in this process for `--seconds` at the rate
`--services / --interval`, with SQLAlchemy's cursor events timing every statement it sends
(from sending to its result, on a local socket: the database's work plus one round trip).
Prints, per statement, how often it ran, its time per check and its share; the rows each
table took per check (PostgreSQL's statistics, with the share of HOT updates: no index
touched); and the CPU the database's processes used per check (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import poller as bench
import procstat
import servers
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, event

from statuschecker.runtime import Runtime
from statuschecker.store.engine import create_db_engine
from statuschecker.system.config import Settings

_WORDS = re.compile(r"\s+")
_LABEL_CHARS = 60


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=3000, help="services to register")
    parser.add_argument("--interval", type=int, default=10, help="seconds between checks")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--concurrency", type=int, default=500, help="poller_concurrency")
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    return parser.parse_args(argv)


def label(statement: str) -> str:
    """A statement's first words, enough to tell it from the others."""
    return _WORDS.sub(" ", statement).strip()[:_LABEL_CHARS]


class StatementTimes:
    """Time and count of every statement an engine sends, by label."""

    def __init__(self, engine: Engine) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info.setdefault("sent", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        took = time.perf_counter() - conn.info["sent"].pop()
        key = label(statement)
        self.seconds[key] += took
        self.count[key] += 1


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Run the poller for the window and return its statements' figures."""
    server = bench.start_server(stack)
    if server.postmaster is None:
        raise SystemExit("the database server's processes are not on this machine: no CPU figures")
    postmaster = server.postmaster
    target = servers.start_target(stack)
    url = bench.fresh_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    bench.register(engine, args.services, target.port, args.interval)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        data_dir=servers.temp_dir(stack, "statuschecker-write-path-"),
        poller_concurrency=args.concurrency,
        allow_private_targets=True,
        log_level="warning",
    )
    runtime = Runtime.build(settings, url, CollectorRegistry(), with_poller=True)
    stack.callback(runtime.close)
    times = StatementTimes(runtime.engine)
    runtime.start()
    time.sleep(2 * args.interval)  # every service checked once before the window
    times.seconds.clear()
    times.count.clear()
    rows0, hot0 = bench.db_counters(engine), bench.hot_updates(engine)
    db0 = procstat.tree_cpu_s(procstat.snapshot(procstat.tree(postmaster)))
    t0 = datetime.now(UTC)
    time.sleep(args.seconds)
    t1 = datetime.now(UTC)
    db1 = procstat.tree_cpu_s(procstat.snapshot(procstat.tree(postmaster)))
    rows1, hot1 = bench.db_counters(engine), bench.hot_updates(engine)
    seconds, count = dict(times.seconds), dict(times.count)
    runtime.close()
    checks = bench.ticks_between(engine, t0, t1)
    total = sum(seconds.values())
    return {
        "target": target.name,
        "checks": checks,
        "checks_per_s": round(checks / (t1 - t0).total_seconds(), 1),
        "database_cpu_ms_per_check": round(1000 * (db1 - db0) / max(checks, 1), 3),
        "statements_ms_per_check": round(1000 * total / max(checks, 1), 3),
        "statements": [
            {
                "statement": key,
                "runs": count[key],
                "ms_per_check": round(1000 * took / max(checks, 1), 4),
                "share_pct": round(100 * took / total, 1) if total else None,
            }
            for key, took in sorted(seconds.items(), key=lambda item: -item[1])
        ],
        "rows_per_check": {
            name: {
                "inserted": round((now[0] - rows0.get(name, [0, 0, 0])[0]) / max(checks, 1), 2),
                "updated": round((updated := now[1] - rows0.get(name, [0, 0, 0])[1]) / checks, 2)
                if checks
                else None,
                "hot_pct": round(100 * (hot1.get(name, 0) - hot0.get(name, 0)) / updated, 1)
                if updated
                else None,
            }
            for name, now in sorted(rows1.items())
            if now != rows0.get(name)
        },
    }


def table(report: dict) -> str:
    """The report as text."""
    lines = [f"{k}: {report[k]}" for k in report if k not in ("statements", "rows_per_check")]
    lines.append(f"  {'statement':<62}{'runs':>7}{'ms/check':>10}{'share %':>9}")
    for row in report["statements"]:
        lines.append(
            f"  {row['statement']:<62}{row['runs']:>7}{row['ms_per_check']:>10}"
            f"{row['share_pct']:>9}"
        )
    lines.append("rows per check:")
    for name, row in report["rows_per_check"].items():
        lines.append(f"  {name:<30} " + ", ".join(f"{k} {v}" for k, v in row.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the write-path benchmark."""
    return bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
