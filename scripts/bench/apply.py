"""Configuration-as-code benchmark: `statuschecker apply` of a file of N services, then again.

    python scripts/bench/apply.py --services 10000

Uses --database-url, else STATUSCHECKER_DATABASE_URL's server, else an embedded PostgreSQL in a
temporary directory, and a fresh database on it (dropped at the end), and runs `statuschecker
api` as deployed (`pings.start_node`; the per-account limit raised to the services, no poller).
It writes one YAML file of --services services (http, tcp, dns and tls ones, every tenth a
heartbeat, every fifth depending on the first; defaults, a receiver and a maintenance window
besides) and runs the command a user runs, `statuschecker apply -f FILE`, each step timed from
start to exit:

1. apply: every service created;
2. the plan of a no-op apply (`--dry-run --detailed-exitcode`, exit 0: nothing to do);
3. apply with one service in a hundred changed (its interval);
4. `statuschecker export` of them all.

Reported per step: wall time, the CPU seconds of the command, of the API process and of
PostgreSQL with its backends; then the goals: applying 10,000 services under 10 s, the plan of a
no-op apply of 10,000 under 3 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pings
import poller as bench
import procstat
import servers
from sqlalchemy import func, select

from statuschecker.store.engine import create_db_engine
from statuschecker.store.tables import services

GOALS = {"apply": 10.0, "no-op plan": 3.0}  # seconds, for 10,000 services
GOAL_SERVICES = 10_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=GOAL_SERVICES, help="services in the file")
    parser.add_argument("--database-url", help="PostgreSQL server to use (a fresh database)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.services < 1:
        parser.error("need --services >= 1")
    args.api_processes = 1  # what pings.start_node reads
    args.rate_limit = "100000/minute"
    args.poller_processes = 0
    return args


def configuration(count: int, changed_every: int = 0) -> str:
    """The YAML file: `count` services; with `changed_every`, every such service's interval
    changed."""
    lines = [
        "defaults:",
        "  interval_seconds: 60",
        "  alert_policy: {window_seconds: 300, min_checks: 3}",
        "receivers:",
        "  ops:",
        "    webhooks: [{url: 'http://127.0.0.1:9/hooks/ops', secret: bench-secret}]",
        "services:",
    ]
    for i in range(count):
        name = f"svc-{i:06d}"
        if i % 10 == 9:
            lines.append(f"  - {{name: {name}, heartbeat: {{interval_seconds: 300}}}}")
            continue
        url = (
            f"tcp://127.0.0.1:{1 + i % 60000}",
            f"http://127.0.0.1:9/health/{i}",
            f"dns://host{i}.example.com",
            f"tls://127.0.0.1:{1 + i % 60000}",
        )[i % 4]
        fields = [f"name: {name}", f"url: '{url}'"]
        if changed_every and i % changed_every == 0:
            fields.append("interval_seconds: 120")
        if i % 5 == 4:
            fields.append("depends_on: [svc-000000]")
        if i % 50 == 1:
            fields.append("receivers: [ops]")
        lines.append(f"  - {{{', '.join(fields)}}}")
    lines += [
        "maintenances:",
        "  - {title: nightly, tags: [nightly], rrule: 'FREQ=DAILY;BYHOUR=3',",
        "     duration_seconds: 600, timezone: Europe/Berlin, starts_at: '2026-01-01T00:00:00Z'}",
    ]
    return "\n".join(lines) + "\n"


def command(args: list[str], env: dict[str, str], trees: dict[str, int]) -> dict[str, Any]:
    """Run `statuschecker ARGS` to its end; its exit status, wall time and the CPU seconds it
    and each process tree used."""
    before = {g: procstat.tree_cpu_s(procstat.snapshot(procstat.tree(r))) for g, r in trees.items()}
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "statuschecker.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = {g: procstat.tree_cpu_s(procstat.snapshot(procstat.tree(r))) for g, r in trees.items()}
    return {
        "exit_status": done.returncode,
        "wall_s": round(wall, 2),
        "cpu_s_command": round(used.ru_utime + used.ru_stime - own.ru_utime - own.ru_stime, 2),
        **{f"cpu_s_{g}": round(after[g] - before[g], 2) for g in trees},
        "last_line": (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[
            -1
        ][:200],
    }


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Database, API process, bench account; the four steps; the report."""
    server = pings.start_server(stack, args.database_url)
    url = bench.fresh_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    data_dir = servers.temp_dir(stack, "statuschecker-bench-apply-")
    token = pings.bench_token(engine, data_dir)
    node = pings.start_node(stack, url, data_dir, args)
    trees = {"api": node.apis[0].pid}
    if server.postmaster is not None:
        trees["database"] = server.postmaster
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STATUSCHECKER_")},
        "STATUSCHECKER_URL": f"http://127.0.0.1:{node.ports[0]}",
        "STATUSCHECKER_TOKEN": token,
    }
    first, changed = Path(data_dir) / "services.yaml", Path(data_dir) / "changed.yaml"
    first.write_text(configuration(args.services))
    changed.write_text(configuration(args.services, changed_every=100))
    report: dict[str, Any] = {
        "setup": {
            "database": server.name,
            "file": f"{args.services} services, {first.stat().st_size / 1e6:.1f} MB of YAML",
        }
    }
    report["apply"] = command(["apply", "-f", str(first)], env, trees)
    report["no-op plan"] = command(
        ["apply", "-f", str(first), "--dry-run", "--detailed-exitcode"], env, trees
    )
    report["change 1 in 100"] = command(["apply", "-f", str(changed)], env, trees)
    report["export"] = command(["export", "-o", str(Path(data_dir) / "out.yaml")], env, trees)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(services)).scalar_one()
    report["check"] = {"services_stored": stored, "as_expected": stored == args.services}
    report["goals"] = goals(report, args.services)
    if log_tail := bench._log_problems(data_dir / "statuschecker.log"):
        report["statuschecker_log_problems"] = log_tail
    return report


def goals(report: dict[str, Any], count: int) -> dict[str, str]:
    """Each step's goal for 10,000 services, at the wall time measured (scaled when the file
    held another count)."""
    found = {}
    for step, limit in GOALS.items():
        took = report[step]["wall_s"] * GOAL_SERVICES / count
        ok = report[step]["exit_status"] == 0 and took < limit
        found[f"{step} of {GOAL_SERVICES:,} < {limit:g} s"] = (
            f"{'PASS' if ok else 'FAIL'}: {took:.1f} s"
            + ("" if count == GOAL_SERVICES else f" (scaled from {count:,})")
        )
    return found


def table(report: dict) -> str:
    """The report as one text table, like the other benchmarks'."""
    steps = ("setup", "apply", "no-op plan", "change 1 in 100", "export", "check", "goals")
    return bench.sections_table(report, steps)


def main(argv: list[str] | None = None) -> int:
    """Run the configuration benchmark."""
    return bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
