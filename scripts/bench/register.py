"""Registration benchmark: services registered one POST at a time, then in batches.

    python scripts/bench/register.py --single 300 --services 10000 --batch-size 1000
    python scripts/bench/register.py --poller-processes 1 --heartbeat-every 0

Uses --database-url, else STATUSCHECKER_DATABASE_URL's server, else an embedded PostgreSQL in a
temporary directory, and a fresh database on it (dropped at the end), and runs `statuschecker
api` as deployed, started as the ping benchmark starts it (`pings.start_node`: configured by
STATUSCHECKER_* variables, the per-account limit raised to the services registered; no poller
unless --poller-processes). A bench account's token (`pings.bench_token`) registers:

1. `--single` services through `POST /v1/services`, one registration per request, from
   `--connections` keep-alive connections;
2. `--services` services through `POST /v1/services:batch`, `--batch-size` per request, one
   request after the other from one connection.

Every `--heartbeat-every`-th service is a heartbeat (it gets a ping key), the others are http
services of 127.0.0.1 (never checked without a poller). Reported per phase: wall time,
services/s, request latency p50/p99/max, CPU of the API process and of PostgreSQL with its
backends (from /proc), and the services counted in the database afterwards; then the goal,
10,000 services registered through batches in under 10 s, and what one-at-a-time would take
for as many at the rate measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pings
import poller as bench
import procstat
import servers
from sqlalchemy import Engine, func, select

from statuschecker.store.engine import create_db_engine
from statuschecker.store.tables import services

GOAL_SERVICES = 10_000
GOAL_SECONDS = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=300, help="services, one POST each")
    parser.add_argument("--connections", type=int, default=8, help="connections for --single")
    parser.add_argument("--services", type=int, default=GOAL_SERVICES, help="services in batches")
    parser.add_argument("--batch-size", type=int, default=1000, help="services per batch (1-1000)")
    parser.add_argument("--heartbeat-every", type=int, default=10,
                        help="every Nth service is a heartbeat (0: none)")  # fmt: skip
    parser.add_argument("--poller-processes", type=int, default=0,
                        help="`statuschecker poller --processes` alongside (0: none)")  # fmt: skip
    parser.add_argument("--database-url", help="PostgreSQL server to use (a fresh database)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.single < 0 or args.services < 0 or args.single + args.services < 1:
        parser.error("need --single >= 0 and --services >= 0, at least one service in all")
    if not 1 <= args.batch_size <= 1000 or args.connections < 1 or args.heartbeat_every < 0:
        parser.error("need 1 <= --batch-size <= 1000, --connections >= 1, --heartbeat-every >= 0")
    # What pings.start_node reads: one API process, its per-account limit, its rate limit.
    args.api_processes = 1
    args.rate_limit = "100000/minute"
    args.services_in_all = args.single + args.services
    return args


def registration(i: int, every: int) -> dict[str, Any]:
    """The body of the i-th service: a heartbeat every `every`th, else an http service."""
    if every and i % every == every - 1:
        return {"name": f"svc-{i:06d}", "heartbeat": {"interval_seconds": 300}}
    return {"name": f"svc-{i:06d}", "url": f"http://127.0.0.1:9/s/{i}", "interval_seconds": 60}


@dataclass
class Phase:
    """One way of registering, timed."""

    services: int
    requests: int
    seconds: float
    latencies: list[float]  # seconds per request


async def _post_all(
    port: int, token: str, bodies: list[tuple[str, Any]], connections: int, count: int
) -> Phase:
    """POST each (path, body) from `connections` connections; every answer must be 201."""
    todo = iter(bodies)
    latencies: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for path, body in todo:
            began = time.perf_counter()
            answer = await client.post(path, json=body)
            latencies.append(time.perf_counter() - began)
            if answer.status_code != 201:
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:500]}")

    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        seconds = time.perf_counter() - began
    return Phase(count, len(bodies), seconds, latencies)


def timed(run: Callable[[], Phase], trees: dict[str, int]) -> tuple[Phase, dict[str, float]]:
    """Run a phase; it and the CPU seconds each process tree used meanwhile."""
    before = {g: procstat.tree_cpu_s(procstat.snapshot(procstat.tree(r))) for g, r in trees.items()}
    phase = run()
    after = {g: procstat.tree_cpu_s(procstat.snapshot(procstat.tree(r))) for g, r in trees.items()}
    return phase, {g: round(after[g] - before[g], 2) for g in trees}


def figures(phase: Phase, cpu: dict[str, float]) -> dict[str, Any]:
    """A phase's line of the report."""
    lat = sorted(phase.latencies)
    per_s = phase.services / phase.seconds if phase.seconds else 0.0
    return {
        "services": phase.services,
        "requests": phase.requests,
        "wall_s": round(phase.seconds, 2),
        "services_per_s": round(per_s, 1),
        "request_ms_p50_p99_max": [
            bench.ms(bench.quantile(lat, 0.5)),
            bench.ms(bench.quantile(lat, 0.99)),
            bench.ms(lat[-1] if lat else None),
        ],
        **{f"cpu_s_{group}": seconds for group, seconds in cpu.items()},
        **{
            f"cpu_ms_per_service_{group}": round(1000 * seconds / phase.services, 3)
            for group, seconds in cpu.items()
            if phase.services
        },
    }


def count_services(engine: Engine) -> int:
    """Services in the database."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(services)).scalar_one()


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Database, API process, bench account; the two phases; the report."""
    server = pings.start_server(stack, args.database_url)
    url = bench.fresh_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    data_dir = servers.temp_dir(stack, "statuschecker-bench-register-")
    token = pings.bench_token(engine, data_dir)
    start_args = argparse.Namespace(**{**vars(args), "services": args.services_in_all})
    node = pings.start_node(stack, url, data_dir, start_args)
    port = node.ports[0]
    trees = {"api": node.apis[0].pid}
    if server.postmaster is not None:
        trees["database"] = server.postmaster

    bodies = [registration(i, args.heartbeat_every) for i in range(args.services_in_all)]
    report: dict[str, Any] = {
        "setup": {
            "mode": node.mode,
            "database": server.name,
            "one_at_a_time": f"{args.single} services, POST /v1/services, "
            f"{args.connections} connections",
            "batched": f"{args.services} services, POST /v1/services:batch of "
            f"{args.batch_size}, one connection",
            "kinds": f"http, every {args.heartbeat_every}th a heartbeat"
            if args.heartbeat_every
            else "http",
        }
    }
    if args.single:
        single = [("/v1/services", body) for body in bodies[: args.single]]
        phase, cpu = timed(
            lambda: asyncio.run(_post_all(port, token, single, args.connections, args.single)),
            trees,
        )
        report["one_at_a_time"] = figures(phase, cpu)
    if args.services:
        rest = bodies[args.single :]
        chunks = [rest[i : i + args.batch_size] for i in range(0, len(rest), args.batch_size)]
        batches = [("/v1/services:batch", {"services": chunk}) for chunk in chunks]
        phase, cpu = timed(
            lambda: asyncio.run(_post_all(port, token, batches, 1, args.services)), trees
        )
        report["batched"] = figures(phase, cpu)
    stored = count_services(engine)
    report["check"] = {
        "services_stored": stored,
        "as_expected": stored == args.services_in_all,
    }
    report["goals"] = goals(report)
    if log_tail := bench._log_problems(data_dir / "statuschecker.log"):
        report["statuschecker_log_problems"] = log_tail
    return report


def goals(report: dict[str, Any]) -> dict[str, str]:
    """10,000 services through batches in under 10 s, and one at a time for as many."""
    found: dict[str, str] = {}
    batched = report.get("batched")
    if batched:
        took = GOAL_SERVICES / batched["services_per_s"] if batched["services_per_s"] else None
        verdict = "PASS" if took is not None and took < GOAL_SECONDS else "FAIL"
        found[f"{GOAL_SERVICES:,} in batches < {GOAL_SECONDS:g} s"] = (
            f"{verdict}: {took:.1f} s at {batched['services_per_s']}/s" if took else verdict
        )
    single = report.get("one_at_a_time")
    if single and single["services_per_s"]:
        took = GOAL_SERVICES / single["services_per_s"]
        found[f"{GOAL_SERVICES:,} one at a time (at the rate measured)"] = f"{took:.0f} s"
    return found


def table(report: dict) -> str:
    """The report as one text table, like the other benchmarks'."""
    return bench.sections_table(report, ("setup", "one_at_a_time", "batched", "check", "goals"))


def main(argv: list[str] | None = None) -> int:
    """Run the registration benchmark."""
    return bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
