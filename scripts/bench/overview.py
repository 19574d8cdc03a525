"""Dense-view benchmark: GET /v1/services:stats for a page of 500 services while the pollers run.

    python scripts/bench/overview.py --services 2000

Uses --database-url, else STATUSCHECKER_DATABASE_URL's server, else an embedded PostgreSQL in a
temporary directory, and a fresh database on it (dropped at the end). Runs `statuschecker api`
and `statuschecker poller --processes 1` as deployed (`pings.start_node`), registers --services
http services of one local target (nginx when installed) checked every --interval seconds, and
gives each 30 days of history as the recorder would have left it (720 hourly and 30 daily
rollup rows a service, written straight into the table). Once the pollers have checked every
service, it asks for the view --requests times each way the dashboard does (by name, the
default; by availability over 24 h, which orders every service; one group), 500 rows a page,
one request after the other on one connection, and reports the wall time of each request as
the client sees it (p50, p95, max), the checks recorded meanwhile (the pollers were working),
and the goal: 500 services in under 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pings
import poller as bench
import servers
from sqlalchemy import Engine, text

from statuschecker.store.engine import create_db_engine

GOAL_MS = 50.0
PAGE = 500
VIEWS = {
    "by name": f"?limit={PAGE}",
    "by availability 24 h": f"?limit={PAGE}&sort=uptime_24h",
    "one group, worst first": f"?limit={PAGE}&group=group-1&sort=status",
}

# 30 days of rollups per service: hourly rows with a few failures, daily rows summing them.
_HISTORY = text(
    """
    INSERT INTO service_rollups (service_id, bucket_hours, bucket_start, checks, successful,
                                 rt_count, rt_sum, rt_max, ttfb_count, ttfb_sum, ttfb_max,
                                 rt_histogram)
    SELECT s.id, hours, start, checks, checks - (s.id + n) % 3 % 2, checks, checks * 12.5, 40.0,
           checks, checks * 10.0, 30.0, '{}'::jsonb
    FROM services s,
         LATERAL (
             SELECT 1 AS hours, g AS start, 360 AS checks, row_number() OVER () AS n
             FROM generate_series(date_trunc('hour', now()) - interval '719 hours',
                                  date_trunc('hour', now()) - interval '1 hour',
                                  interval '1 hour') g
             UNION ALL
             SELECT 24, g, 8640, row_number() OVER ()
             FROM generate_series(date_trunc('day', now()) - interval '29 days',
                                  date_trunc('day', now()) - interval '1 day', interval '1 day') g
         ) b
    """
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000, help="services registered")
    parser.add_argument("--interval", type=int, default=10, help="seconds between checks")
    parser.add_argument("--requests", type=int, default=40, help="requests per view")
    parser.add_argument("--database-url", help="PostgreSQL server to use (a fresh database)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.services < PAGE:
        parser.error(f"need --services >= {PAGE}: a page of {PAGE} is what is measured")
    args.api_processes = 1  # what pings.start_node reads
    args.rate_limit = "100000/minute"
    args.poller_processes = 1
    return args


def register(api: str, token: str, count: int, target_port: int, interval: int) -> None:
    """`count` http services of the target, in ten groups, through the batch endpoint."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api, headers=headers, timeout=120) as client:
        for first in range(0, count, 1000):
            batch = [
                {"name": f"svc-{i:05d}", "url": f"http://127.0.0.1:{target_port}/{i}",
                 "interval_seconds": interval, "timeout_seconds": 2, "group": f"group-{i % 10}"}
                for i in range(first, min(first + 1000, count))
            ]  # fmt: skip
            answer = client.post("/v1/services:batch", json={"services": batch})
            answer.raise_for_status()


def timed(client: httpx.Client, path: str, requests: int) -> dict[str, Any]:
    """`requests` GETs of `path`, one after the other: their wall times and the rows."""
    took, rows = [], 0
    for _ in range(requests):
        began = time.perf_counter()
        answer = client.get(path)
        took.append((time.perf_counter() - began) * 1000)
        answer.raise_for_status()
        rows = len(answer.json()["data"])
    took.sort()
    return {
        "rows": rows,
        "p50_ms": round(statistics.median(took), 1),
        "p95_ms": round(took[int(0.95 * (len(took) - 1))], 1),
        "max_ms": round(took[-1], 1),
    }


def checks_recorded(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM service_ticks")).scalar_one())


@dataclass
class Served:
    """statuschecker running (API and poller) with an account of services, each checked once."""

    engine: Engine
    data_dir: Path
    api: str  # the API's base URL
    token: str  # the account's bearer token
    setup: dict[str, str]  # what runs, for the report


def serve(
    args: argparse.Namespace, stack: contextlib.ExitStack, target_options: tuple[str, ...] = ()
) -> Served:
    """A fresh database, the target (`servers.start_target` with `target_options`), `statuschecker
    api` and `poller --processes 1`, --services http services of the target every --interval
    seconds in ten groups, with 30 days of rollups each; once the poller has checked them all."""
    server = pings.start_server(stack, args.database_url)
    url = bench.fresh_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    data_dir = servers.temp_dir(stack, "statuschecker-bench-overview-")
    token = pings.bench_token(engine, data_dir)
    target = servers.start_target(stack, options=target_options)
    node = pings.start_node(stack, url, data_dir, args)
    api = f"http://127.0.0.1:{node.ports[0]}"
    register(api, token, args.services, target.port, args.interval)
    with engine.begin() as conn:
        conn.execute(_HISTORY)
        conn.execute(text("ANALYZE service_rollups"))
    assert node.poller is not None  # --processes 1: the poller runs
    servers.wait_until(
        lambda: checks_recorded(engine) >= args.services, node.poller, "the pollers", 120
    )
    setup = {
        "database": server.name,
        "node": node.mode,
        "target": target.name,
        "services": f"{args.services}, every {args.interval} s, 30 days of rollups each",
    }
    return Served(engine, data_dir, api, token, setup)


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Database, target, API and poller, services and their history; the views timed."""
    served = serve(args, stack)
    engine = served.engine
    report: dict[str, Any] = {"setup": served.setup}
    began, before = time.perf_counter(), checks_recorded(engine)
    headers = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.api, headers=headers, timeout=30) as client:
        for view, query in VIEWS.items():
            report[view] = timed(client, f"/v1/services:stats{query}", args.requests)
    rate = (checks_recorded(engine) - before) / (time.perf_counter() - began)
    report["pollers meanwhile"] = {"checks_recorded_per_s": round(rate)}
    worst = max(report[view]["p95_ms"] for view in VIEWS)
    ok = worst < GOAL_MS and all(report[view]["rows"] > 0 for view in VIEWS)
    report["goals"] = {
        f"{PAGE} services < {GOAL_MS:g} ms (p95 of each view)": f"{'PASS' if ok else 'FAIL'}: "
        f"{worst:.1f} ms"
    }
    if log_tail := bench._log_problems(served.data_dir / "statuschecker.log"):
        report["statuschecker_log_problems"] = log_tail
    return report


def table(report: dict) -> str:
    """The report as one text table, like the other benchmarks'."""
    return bench.sections_table(report, ("setup", *VIEWS, "pollers meanwhile", "goals"))


def main(argv: list[str] | None = None) -> int:
    """Run the dense-view benchmark."""
    return bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
