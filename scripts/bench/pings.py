"""Heartbeat ping benchmark: K clients pinging N heartbeat services flat out while pollers run.

    python scripts/bench/pings.py --services 1000 --clients 50 --duration 30
    python scripts/bench/pings.py --api-processes 2 --body-bytes 1000 --start-ratio 0.5
    python scripts/bench/pings.py --peer healthchecks --peer-conn-max-age 0

Uses --database-url, else STATUSCHECKER_DATABASE_URL's server, else an embedded PostgreSQL in a
temporary directory, and a fresh database on it (dropped at the end), as `poller.py` does. Runs
statuschecker as deployed: `--api-processes` times `statuschecker api` (each on its own port of
127.0.0.1) and `statuschecker poller --processes P`, configured by STATUSCHECKER_* variables,
with the per-key ping rate limit raised (`--rate-limit`) so that it does not cap the benchmark.
Registers N heartbeat services through `POST /v1/services` as a bench account, then drives
their ping URLs from K keep-alive connections spread over the API processes (`pingload.py`:
wrk when installed, else a Python asyncio client), first for a warm-up, then for the measured
window.

Reported: pings/s accepted (2xx answers counted by the client) and persisted (rows of `pings`
and `service_ticks` received in the window, counted in the database; they must agree),
client-side latency p50/p99, and CPU from /proc per process group (API processes, pollers,
PostgreSQL with all its backends, the load generator), per persisted ping and in all.

`--peer healthchecks` then, with statuschecker's processes stopped (the two never share the
cores), runs Healthchecks v4.3 under uWSGI as its Docker image does (`healthchecks.py`: installed
once in ~/.cache, Python >= 3.12) on a fresh database of the same server, with `--peer-checks`
checks (timeout and grace 60 s), and drives their `/ping/<uuid>` URLs with the same load
generator, clients, warm-up and window. Its persisted pings are the change of the sum of
`api_check.n_pings`. `--peer-conn-max-age` is its DB_CONN_MAX_AGE: 600 (persistent
connections) by default; 0 is what it ships with, a new database connection per request. The
report adds its figures and a comparison: persisted pings/s and CPU per ping, statuschecker's
over Healthchecks'.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import healthchecks
import httpx
import pingload
import poller as bench
import procstat
import pyspy
import servers
from sqlalchemy import Engine, text

from statuschecker.accounts.credentials import hash_password, issue_access_token, signing_key
from statuschecker.store.accounts import create_user
from statuschecker.store.engine import create_db_engine, sqlalchemy_url
from statuschecker.system.config import Settings

SETTLE_S = 1.0  # pause after a load run, for pings in flight to be committed
REGISTER_CONNECTIONS = 8
GOAL_PERSISTED_PER_S = 2500.0
GOAL_P99_MS = 50.0
GOAL_CPU_MS_PER_PING = 0.8
DISTURBED_PCT = 20.0  # the rest of the machine busier than this (% of a core): disturbed
SERVER = "= server (no loadgen)"  # the process table's row of the server's groups in all
PARTS = {"poller": bench._kind_of, "uwsgi": healthchecks.role_of}  # groups shown per process


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000, help="heartbeat services")
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before")
    parser.add_argument("--api-processes", type=int, default=1, help="`statuschecker api`s")
    parser.add_argument("--poller-processes", type=int, default=1,
                        help="`statuschecker poller --processes` (0: no poller)")  # fmt: skip
    parser.add_argument("--body-bytes", type=int, default=0, help="POST a body this long")
    parser.add_argument("--start-ratio", type=float, default=0.0,
                        help="fraction of runs that send a start ping first")  # fmt: skip
    parser.add_argument("--interval", type=int, default=60, help="heartbeat interval_seconds")
    parser.add_argument("--grace", type=int, default=60, help="heartbeat grace_seconds")
    parser.add_argument("--rate-limit", default="100000/minute",
                        help="STATUSCHECKER_PING_RATE_LIMIT for the API processes")  # fmt: skip
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator (auto: wrk when installed)")  # fmt: skip
    parser.add_argument("--database-url", help="PostgreSQL server to use (a fresh database)")
    parser.add_argument("--py-spy", action="store_true",
                        help="sample the API processes with py-spy during the window")  # fmt: skip
    parser.add_argument("--peer", choices=["healthchecks"],
                        help="then run this peer the same way, statuschecker stopped")  # fmt: skip
    parser.add_argument("--peer-checks", type=int, default=100, help="the peer's checks")
    parser.add_argument("--peer-conn-max-age", type=int, default=600,
                        help="its DB_CONN_MAX_AGE (0: as shipped, one per request)")  # fmt: skip
    parser.add_argument("--healthchecks-git", type=Path, default=healthchecks.DEFAULT_GIT,
                        help=f"git directory with the tag {healthchecks.TAG}")  # fmt: skip
    parser.add_argument("--healthchecks-python",
                        help="Python >= 3.12 for its venv (default: the newest found)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.services < 1 or args.clients < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("need --services >= 1, --clients >= 1, --duration > 0, --warmup >= 0")
    if not 1 <= args.api_processes <= args.clients or args.poller_processes < 0:
        parser.error("need 1 <= --api-processes <= --clients and --poller-processes >= 0")
    if args.body_bytes < 0 or args.body_bytes > 100 * 1024:
        parser.error("need 0 <= --body-bytes <= 102400 (the server keeps up to 100 KB)")
    if not 0.0 <= args.start_ratio <= 1.0:
        parser.error("need 0 <= --start-ratio <= 1")
    if args.py_spy and pyspy.executable() is None:
        parser.error("--py-spy: py-spy is not installed (pip install py-spy)")
    if args.client == "wrk" and pingload.wrk_path() is None:
        parser.error("--client wrk: wrk is not installed (apt install wrk)")
    if args.peer:
        if args.peer_checks < 1 or args.peer_conn_max_age < 0:
            parser.error("need --peer-checks >= 1 and --peer-conn-max-age >= 0")
        args.healthchecks_python = healthchecks.find_python(args.healthchecks_python)
        if args.healthchecks_python is None:
            parser.error(f"--peer healthchecks: Healthchecks {healthchecks.TAG} needs Python >= "
                         "3.12 (Django 6.0); none found: give --healthchecks-python")  # fmt: skip
    return args


# -- statuschecker's processes -------------------------------------------------------------------


@dataclass
class Node:
    """statuschecker's processes: the API processes with their ports, and the pollers."""

    apis: list[subprocess.Popen]
    ports: list[int]
    poller: subprocess.Popen | None
    mode: str

    def trees(self) -> dict[str, int]:
        """Group name -> root pid, for CPU and memory."""
        found = {
            "api" if len(self.apis) == 1 else f"api-{i + 1}": p.pid for i, p in enumerate(self.apis)
        }
        if self.poller is not None:
            found["poller"] = self.poller.pid
        return found


def start_node(
    stack: contextlib.ExitStack, url: str, data_dir: Path, args: argparse.Namespace
) -> Node:
    """`statuschecker api` on --api-processes ports (one after the other: each migrates at
    start) and `statuschecker poller`, configured by env, their output in one log file."""
    env = {
        "STATUSCHECKER_DATABASE_URL": url,
        "STATUSCHECKER_DATA_DIR": str(data_dir),
        "STATUSCHECKER_HOST": "127.0.0.1",
        "STATUSCHECKER_LOG_LEVEL": "warning",
        "STATUSCHECKER_LOG_FORMAT": "json",
        "STATUSCHECKER_PING_RATE_LIMIT": args.rate_limit,
        "STATUSCHECKER_MAX_SERVICES_PER_USER": str(max(1000, args.services)),
        "STATUSCHECKER_METRICS_TOKEN": secrets.token_urlsafe(),  # as deployed; no warning
    }
    log = data_dir / "statuschecker.log"
    apis, ports = [], []
    for _ in range(args.api_processes):
        port = servers.free_port()
        api = servers.start_statuschecker(
            stack,
            ["api"],
            env | {"STATUSCHECKER_PORT": str(port), "STATUSCHECKER_POLLER_ENABLED": "false"},
            log,
        )
        health = f"http://127.0.0.1:{port}/v1/health"
        servers.wait_until(lambda: servers.answers(health), api, "the API", 60)  # noqa: B023
        apis.append(api)
        ports.append(port)
    mode = f"{len(apis)} x statuschecker api"
    poller = None
    if args.poller_processes:
        metrics = servers.free_port()
        argv = ["poller", "--processes", str(args.poller_processes)]
        poller = servers.start_statuschecker(
            stack, [*argv, "--metrics-port", str(metrics)], env | {"STATUSCHECKER_PORT": "0"}, log
        )
        servers.wait_until(
            lambda: servers.answers(f"http://127.0.0.1:{metrics}/metrics"), poller, "poller", 60
        )
        mode += f" + statuschecker {' '.join(argv)}"
    return Node(apis, ports, poller, mode)


# -- set-up ------------------------------------------------------------------------------------


def start_server(stack: contextlib.ExitStack, given: str | None) -> bench.Server:
    """--database-url's server, else poller.py's choice (the env's, else an embedded one)."""
    if given:
        url = sqlalchemy_url(given)
        return bench.Server(url, bench._postmaster_of(url), "--database-url")
    return bench.start_server(stack)


def bench_token(engine: Engine, data_dir: Path) -> str:
    """A bearer token of a new bench account (made in the database as poller.py does)."""
    with engine.begin() as conn:
        user = create_user(
            conn, "bench@example.com", hash_password(secrets.token_urlsafe()), is_admin=False
        )
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    return issue_access_token(user.id, signing_key(settings), 24 * 3600)


async def _register(ports: list[int], token: str, args: argparse.Namespace) -> list[str]:
    """POST N heartbeat services from a few connections; their ping keys, in order."""
    keys: list[str | None] = [None] * args.services
    todo = iter(range(args.services))
    heartbeat = {"interval_seconds": args.interval, "grace_seconds": args.grace}

    async def worker(client: httpx.AsyncClient, port: int) -> None:
        for i in todo:
            answer = await client.post(
                f"http://127.0.0.1:{port}/v1/services",
                json={"name": f"hb-{i + 1:06d}", "heartbeat": heartbeat},
            )
            if answer.status_code != 201:
                raise RuntimeError(
                    f"registering a heartbeat answered {answer.status_code}: {answer.text[:500]}"
                )
            service = answer.json()
            if service.get("kind") != "heartbeat" or not service.get("ping_url"):
                raise RuntimeError(f"not a heartbeat with a ping_url: {str(service)[:500]}")
            keys[i] = str(service["ping_url"]).rstrip("/").rsplit("/", 1)[1]

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        await asyncio.gather(
            *(worker(client, ports[i % len(ports)]) for i in range(REGISTER_CONNECTIONS))
        )
    return [k for k in keys if k is not None]


def register(ports: list[int], token: str, args: argparse.Namespace) -> list[str]:
    """The ping keys of N new heartbeat services, registered through the API."""
    return asyncio.run(_register(ports, token, args))


# -- measuring ---------------------------------------------------------------------------------


def load(
    stack: contextlib.ExitStack, plan: pingload.Plan, tool: str, workdir: Path
) -> pingload.LoadOutcome:
    """One run of the load generator as a child process (stopped with `stack` on Ctrl-C)."""
    popen = spawner(stack)
    exe = pingload.wrk_path()
    if tool == "wrk" and exe is not None:
        return pingload.run_wrk(exe, plan, workdir, popen)
    return pingload.run_python_child(plan, workdir, popen)


def spawner(stack: contextlib.ExitStack) -> Callable[..., subprocess.Popen]:
    """`Popen` for children stopped (their process group killed) when `stack` closes."""

    def popen(argv: list[str], **kwargs: Any) -> subprocess.Popen:
        return servers.spawn(stack, argv, **kwargs)

    return popen


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]  # steal is not ours
    return (user + nice + system + irq + softirq) / procstat.CLOCK_TICKS


def kernel_threads_s() -> float:
    """CPU seconds used so far by the kernel's threads (kthreadd's tree: I/O, network)."""
    return procstat.tree_cpu_s(procstat.snapshot(procstat.tree(2)))


def stored_since(engine: Engine, since: datetime) -> dict[str, Any]:
    """Rows of `pings` (in all and by kind) and `service_ticks` (up and down) received since
    `since`."""
    with engine.connect() as conn:
        has_pings = conn.execute(text("SELECT to_regclass('pings') IS NOT NULL")).scalar_one()
        by_kind: dict[str, int] | None = None
        if has_pings:
            rows = conn.execute(
                text("SELECT kind, count(*) FROM pings WHERE received_at >= :t GROUP BY kind"),
                {"t": since},
            )
            by_kind = {str(kind): int(n) for kind, n in rows}
        ticks, down = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE NOT up) FROM service_ticks "
                "WHERE checked_at >= :t"
            ),
            {"t": since},
        ).one()
    return {
        "persisted": None if by_kind is None else sum(by_kind.values()),
        "pings_by_kind": by_kind,
        "ticks": int(ticks),
        "down_ticks": int(down),
    }


def ping_storage(engine: Engine) -> tuple[int, int] | None:
    """Bytes of the `pings` table (with indexes and TOAST) and its rows; None without it."""
    with engine.connect() as conn:
        if not conn.execute(text("SELECT to_regclass('pings') IS NOT NULL")).scalar_one():
            return None
        size, rows = conn.execute(
            text("SELECT pg_total_relation_size('pings'), (SELECT count(*) FROM pings)")
        ).one()
    return int(size), int(rows)


@dataclass
class Window:
    """One measured load run: what the client saw and what the machine did meanwhile."""

    outcome: pingload.LoadOutcome
    sampler: bench.Sampler
    snaps: tuple[dict, dict]  # the groups' processes at the start and at the end
    me: tuple[procstat.Proc, procstat.Proc]  # this script
    busy_s: float  # the whole machine
    kernel_s: float  # the kernel's threads
    rows: tuple[dict, dict]  # pg_stat_user_tables' counters
    t0: datetime
    seconds: float


def plan_of(args: argparse.Namespace, ports: list[int], keys: list[str]) -> pingload.Plan:
    """The load of the command line over these ports and ping keys."""
    return pingload.Plan(
        ports=ports,
        keys=keys,
        clients=args.clients,
        seconds=args.duration,
        body_bytes=args.body_bytes,
        start_ratio=args.start_ratio,
    )


def load_tool(args: argparse.Namespace) -> str:
    """The load generator to use: wrk when installed, unless --client python."""
    return "python" if args.client == "python" or pingload.wrk_path() is None else "wrk"


def warm_up(
    stack: contextlib.ExitStack, plan: pingload.Plan, tool: str, workdir: Path, seconds: float
) -> None:
    """`seconds` of the plan's load, then a pause for the pings in flight."""
    if seconds > 0:
        load(stack, replace(plan, seconds=seconds, seed=2), tool, workdir)
        time.sleep(SETTLE_S)


def measure_window(
    stack: contextlib.ExitStack,
    plan: pingload.Plan,
    tool: str,
    workdir: Path,
    trees: dict[str, int],
    engine: Engine,
) -> Window:
    """The plan's load, with the process groups (name -> root pid), the machine and the
    database's row counters looked at before it and a pause after it."""
    sampler = bench.Sampler(trees)
    rows0 = bench.db_counters(engine)
    busy0, kernel0 = machine_busy_s(), kernel_threads_s()
    me0 = procstat.read(os.getpid())
    snap0 = sampler.groups()
    t0 = datetime.now(UTC)
    thread = threading.Thread(target=sampler.run, name="sampler", daemon=True)
    thread.start()
    outcome = load(stack, plan, tool, workdir)
    time.sleep(SETTLE_S)
    snap1 = sampler.groups()
    me1 = procstat.read(os.getpid())
    busy1, kernel1 = machine_busy_s(), kernel_threads_s()
    t1 = datetime.now(UTC)
    rows1 = bench.db_counters(engine)
    sampler.stop.set()
    thread.join(timeout=5)
    for group, procs in snap1.items():  # the last look counts for the peak too
        rss = procstat.tree_rss_mb(procs)
        sampler.peak_mb[group] = max(sampler.peak_mb.get(group, 0.0), rss)
    assert me0 is not None and me1 is not None
    return Window(outcome, sampler, (snap0, snap1), (me0, me1), busy1 - busy0,
                  kernel1 - kernel0, (rows0, rows1), t0, (t1 - t0).total_seconds())  # fmt: skip


def run_setup(args: argparse.Namespace, win: Window) -> dict[str, Any]:
    """The setup figures of a window's load."""
    return {
        "load_generator": win.outcome.tool,
        "requests": (f"POST with a {args.body_bytes}-byte body" if args.body_bytes else "GET")
        + f", start ping before {args.start_ratio:.0%} of the runs",
        "warmup_s": args.warmup,
        "load_s": win.outcome.seconds,
        "cpu_window_s": round(win.seconds, 2),
    }


def machine_rows(win: Window, persisted: int | None) -> list[dict[str, Any]]:
    """The process table of a window: the groups, the load generator, this script, the
    kernel's threads and the rest of the machine."""
    window = win.seconds
    rows = process_figures(*win.snaps, win.sampler, persisted, window)
    rows.append(cpu_row("load generator", "1", win.outcome.cpu_s, window, persisted, None, None))
    bench_cpu = win.me[1].own_s - win.me[0].own_s
    rows.append(cpu_row("bench (this script)", "1", bench_cpu, window, persisted,
                        win.me[1].rss_mb, None))  # fmt: skip
    measured = sum(r["cpu_s"] for r in rows if r["count"])  # groups, not parts
    rest = win.busy_s - measured - win.kernel_s
    return [
        *rows,
        cpu_row("kernel threads", "", win.kernel_s, window, persisted, None, None),
        cpu_row("rest of the machine", "", rest, window, None, None, None),
    ]


def disturbance(rows: list[dict[str, Any]]) -> str | None:
    """A warning when the rest of the machine was busy in the window, else None."""
    pct = next(r["cpu_pct_of_core"] for r in rows if r["process"] == "rest of the machine")
    if pct <= DISTURBED_PCT:
        return None
    return f"the rest of the machine used {pct}% of a core in the window: not a clean run"


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """statuschecker's run, then (its processes stopped) the peer's, on one PostgreSQL server."""
    say = functools.partial(print, file=sys.stderr, flush=True)
    found = None
    if args.peer:  # installed first: a failure shows before the runs
        found = healthchecks.install(args.healthchecks_git, args.healthchecks_python, say)
    server = start_server(stack, args.database_url)
    with contextlib.ExitStack() as ours:
        report = measure_statuschecker(args, ours, server)
    if found is not None:
        say(f"healthchecks: statuschecker stopped; starting {healthchecks.TAG} under uWSGI")
        with contextlib.ExitStack() as theirs:
            report["peer"] = measure_healthchecks(args, theirs, server, found)
        report["comparison"] = comparison(report, report["peer"])
    return report


def measure_statuschecker(
    args: argparse.Namespace, stack: contextlib.ExitStack, server: bench.Server
) -> dict:
    """Database, processes, services; warm-up, window; the report."""
    url = bench.fresh_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    data_dir = servers.temp_dir(stack, "statuschecker-bench-pings-")
    token = bench_token(engine, data_dir)
    node = start_node(stack, url, data_dir, args)

    began = time.perf_counter()
    keys = register(node.ports, token, args)
    register_s = time.perf_counter() - began

    tool = load_tool(args)
    plan = plan_of(args, node.ports, keys)
    warm_up(stack, plan, tool, data_dir, args.warmup)
    trees = node.trees()
    if server.postmaster is not None:
        trees["database"] = server.postmaster
    spies = {  # sampling from just before the window
        group: pyspy.record(spawner(stack), pid, args.duration, data_dir / f"{group}.spy")
        for group, pid in node.trees().items()
        if args.py_spy and group.startswith("api")
    }
    win = measure_window(stack, plan, tool, data_dir, trees, engine)
    for spy in spies.values():
        pyspy.finish(spy)
    stored = stored_since(engine, win.t0)
    storage = ping_storage(engine)
    log_tail = bench._log_problems(data_dir / "statuschecker.log")

    report: dict[str, Any] = {
        "setup": {
            "mode": node.mode,
            "database": server.name,
            "services": len(keys),
            "heartbeat": f"interval {args.interval} s, grace {args.grace} s",
            "clients": f"{args.clients} connections over {len(node.ports)} API port(s)",
            "ping_rate_limit": f"{args.rate_limit} per key per API process",
            "register_s": round(register_s, 2),
            **run_setup(args, win),
        }
    }
    report["pings"] = ping_figures(win.outcome, stored)
    persisted = report["pings"]["persisted_pings"]
    report["processes"] = machine_rows(win, persisted)
    report["goals"] = goals(report)
    if warning := disturbance(report["processes"]):
        report["goals"]["warning"] = warning
    report["database"] = {
        **row_figures(*win.rows, win.outcome.seconds, persisted),
        "pings_table_bytes": storage[0] if storage else None,
        "bytes_per_stored_ping": round(storage[0] / storage[1], 1)
        if storage and storage[1]
        else None,
    }
    if spies:
        report["py_spy"] = {g: pyspy.summary(data_dir / f"{g}.spy", top=15) for g in spies}
    if log_tail:
        report["statuschecker_log_problems"] = log_tail
    return report


def measure_healthchecks(
    args: argparse.Namespace,
    stack: contextlib.ExitStack,
    server: bench.Server,
    found: healthchecks.Install,
) -> dict:
    """Healthchecks on a fresh database of `server` with --peer-checks checks, driven as
    statuschecker was: warm-up, window; its report."""
    say = functools.partial(print, file=sys.stderr, flush=True)
    url = healthchecks.empty_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    workdir = servers.temp_dir(stack, "statuschecker-bench-healthchecks-")
    port = servers.free_port()
    env = healthchecks.environment(found, url, port, args.peer_conn_max_age)
    say(f"healthchecks: migrate, {args.peer_checks} checks, uWSGI on 127.0.0.1:{port}")
    healthchecks.migrate(found, env)
    codes = healthchecks.create_checks(found, env, args.peer_checks, 60, 60)
    started = healthchecks.start(stack, found, env, port, workdir)
    sample = healthchecks.answer(f"http://127.0.0.1:{port}/ping/{codes[0]}")

    tool = load_tool(args)
    plan = plan_of(args, [port], codes)
    warm_up(stack, plan, tool, workdir, args.warmup)
    trees = {"uwsgi": started.pid}
    if server.postmaster is not None:
        trees["database"] = server.postmaster
    before = healthchecks.pings_so_far(engine)
    win = measure_window(stack, plan, tool, workdir, trees, engine)
    persisted = healthchecks.pings_so_far(engine) - before

    age = args.peer_conn_max_age
    report: dict[str, Any] = {
        "setup": {
            "mode": f"{started.name}, the image's docker/uwsgi.ini on 127.0.0.1",
            "database": f"{server.name}, a fresh database",
            "db_conn_max_age": f"{age} s (persistent connections)"
            if age
            else "0 (as shipped: a new connection per request)",
            "checks": f"{len(codes)}, timeout 60 s, grace 60 s",
            "clients": f"{args.clients} connections to one port",
            "sample_ping": f"{sample[0]} {sample[1]!r}",
            "installed_in": str(healthchecks.CACHE),
            **run_setup(args, win),
        }
    }
    counted_as = "the change of sum(api_check.n_pings) (api_ping rows are pruned)"
    report["pings"] = ping_figures(win.outcome, {"persisted": persisted, "counted_as": counted_as})
    report["pings"]["connections"] = (
        "closed by uWSGI after each answer (http-socket: no keep-alive); the client finds out"
        f" on its next request and reconnects ({win.outcome.errors.get('read', 0)} read errors)"
    )
    report["processes"] = machine_rows(win, persisted)
    if warning := disturbance(report["processes"]):
        report["warning"] = warning
    report["database"] = row_figures(*win.rows, win.outcome.seconds, persisted)
    return report


def comparison(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, str]:
    """statuschecker over Healthchecks: persisted pings/s, CPU per ping, latency."""

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a} / {b} = {round(a / b, 2) if a and b else '-'}"

    def ms_per_ping(report: dict[str, Any], process: str) -> float | None:
        return next(r for r in report["processes"] if r["process"] == process)["cpu_ms_per_ping"]

    latency = [r["pings"]["latency_ms"] for r in (ours, theirs)]
    return {
        "persisted_pings_per_s": ratio(
            ours["pings"]["persisted_per_s"], theirs["pings"]["persisted_per_s"]
        ),
        "cpu_ms_per_ping_server": ratio(*(ms_per_ping(r, SERVER) for r in (ours, theirs)))
        + " (app + database)",
        "cpu_ms_per_ping_load_generator": ratio(
            *(ms_per_ping(r, "load generator") for r in (ours, theirs))
        ),
        "latency_p50_p99_ms": " vs ".join(f"{lat['p50']}/{lat['p99']}" for lat in latency),
    }


def ping_figures(outcome: pingload.LoadOutcome, stored: dict[str, Any]) -> dict[str, Any]:
    """Accepted (client) against persisted (database), rates and latency. `stored` is
    `stored_since`'s, or a peer's {"persisted": n, "counted_as": how}."""
    seconds = outcome.seconds or 1.0
    accepted = outcome.count(ok=True)
    persisted = stored["persisted"]
    refused: dict[int, int] = {}
    for counts in outcome.statuses.values():
        for status, n in counts.items():
            if not 200 <= status < 300:
                refused[status] = refused.get(status, 0) + n
    accepted_by_kind = {
        kind: sum(n for s, n in counts.items() if 200 <= s < 300)
        for kind, counts in outcome.statuses.items()
        if kind != "any"
    }
    figures: dict[str, Any] = {
        "answered": accepted + sum(refused.values()),
        "accepted_2xx": accepted,
        "accepted_2xx_by_kind": accepted_by_kind or "(wrk counts statuses only)",
        "refused_by_status": refused or "none",
        "errors": {k: v for k, v in outcome.errors.items() if v} or "none",
        "persisted_pings": persisted,
    }
    if "ticks" in stored:
        figures["persisted_pings_by_kind"] = stored["pings_by_kind"]
        figures["persisted_ticks"] = stored["ticks"]
        figures["down_ticks"] = stored["down_ticks"]
    else:
        figures["persisted_counted_as"] = stored["counted_as"]
    figures["accepted_per_s"] = round(accepted / seconds, 1)
    figures["persisted_per_s"] = None if persisted is None else round(persisted / seconds, 1)
    if persisted is None:
        figures["agreement"] = "no `pings` table: nothing to compare"
    else:
        missing = accepted - persisted
        figures["accepted_minus_persisted"] = missing
        if accepted == 0:
            figures["agreement"] = f"nothing accepted, {persisted} stored: see the refusals"
        elif missing > 0:
            figures["agreement"] = f"LOST: {missing} accepted pings are not stored"
        elif missing == 0:
            figures["agreement"] = "every accepted ping is stored, and only those"
        else:
            figures["agreement"] = (
                f"none lost; {-missing} more stored than seen accepted: requests in flight when"
                f" the client stopped ({outcome.in_flight_at_stop})"
            )
        if "ticks" in stored:
            by_kind = stored["pings_by_kind"]
            finishing = sum(n for k, n in by_kind.items() if k != "start")
            figures["ticks_vs_finishing_pings"] = (
                "agree" if finishing == stored["ticks"] else f"{stored['ticks']} vs {finishing}"
            )
    figures["latency_ms"] = outcome.latency_ms
    figures["latency_of"] = f"{outcome.latency_of}, client side"
    figures["connections"] = f"keep-alive, {outcome.connections_opened} opened"
    return figures


def row_figures(
    rows0: dict[str, list[int]], rows1: dict[str, list[int]], seconds: float, pings: int | None
) -> dict[str, Any]:
    """Rows inserted / updated / deleted per second and per persisted ping, by table."""
    by_table = {}
    total = 0
    for name, now in sorted(rows1.items()):
        changed = [n - b for n, b in zip(now, rows0.get(name, [0, 0, 0]), strict=True)]
        if any(changed):
            total += sum(changed)
            by_table[name] = {
                f"{what}_per_ping": round(n / pings, 2) if pings else None
                for what, n in zip(("inserted", "updated", "deleted"), changed, strict=True)
                if n
            }
    return {
        "rows_written_per_s": round(total / seconds, 1) if seconds else None,
        "rows_written_per_ping": round(total / pings, 2) if pings else None,
        "by_table": by_table,
    }


def cpu_row(
    name: str,
    count: str,
    cpu: float,
    window: float,
    pings: int | None,
    rss: float | None,
    peak: float | None,
) -> dict[str, Any]:
    """One line of the process table."""
    return {
        "process": name,
        "count": count,
        "cpu_s": round(cpu, 2),
        "cpu_pct_of_core": round(100 * cpu / window, 1),
        "cpu_ms_per_ping": round(1000 * cpu / pings, 4) if pings else None,
        "rss_mb": None if rss is None else round(rss, 1),
        "peak_rss_mb": None if peak is None else round(peak, 1),
    }


def process_figures(
    snap0: dict, snap1: dict, sampler: bench.Sampler, pings: int | None, window: float
) -> list[dict[str, Any]]:
    """Per group (and each process of the poller's or uWSGI's): CPU over the window, per
    persisted ping; the server's total (API + pollers + database, or uWSGI + database)."""
    rows = []
    server_cpu = 0.0
    for group, procs in snap1.items():
        before = snap0.get(group, {})
        cpu = procstat.tree_cpu_s(procs) - procstat.tree_cpu_s(before)
        server_cpu += cpu
        rss = procstat.tree_rss_mb(procs)
        rows.append(cpu_row(group, str(len(procs)), cpu, window, pings, rss,
                            sampler.peak_mb.get(group)))  # fmt: skip
        if group in PARTS and len(procs) > 1:
            for pid, proc in procs.items():
                own = proc.own_s - (before[pid].own_s if pid in before else 0.0)
                name = f"  {PARTS[group](pid)} {pid}"
                rows.append(cpu_row(name, "", own, window, pings, proc.rss_mb, None))
    rows.append(cpu_row(SERVER, "", server_cpu, window, pings, None, None))
    return rows


def goals(report: dict[str, Any]) -> dict[str, str]:
    """The issue's goals, met or not."""
    pings = report["pings"]
    server = next(r for r in report["processes"] if r["process"] == SERVER)
    rate, p99, cpu = pings["persisted_per_s"], pings["latency_ms"]["p99"], server["cpu_ms_per_ping"]

    def verdict(value: float | None, ok: bool, what: str) -> str:
        return f"{value} {what}: " + ("met" if value is not None and ok else "NOT met")

    return {
        f"persisted >= {GOAL_PERSISTED_PER_S:g}/s": verdict(
            rate, rate is not None and rate >= GOAL_PERSISTED_PER_S, "pings/s"
        ),
        f"p99 < {GOAL_P99_MS:g} ms": verdict(p99, p99 is not None and p99 < GOAL_P99_MS, "ms"),
        f"CPU < {GOAL_CPU_MS_PER_PING:g} ms/ping": verdict(
            cpu, cpu is not None and cpu < GOAL_CPU_MS_PER_PING, "ms (API + pollers + database)"
        ),
    }


# -- the report --------------------------------------------------------------------------------


def table(report: dict) -> str:
    """The report as one text table, like the other benchmarks' (the peer's in it)."""
    lines: list[str] = []
    section = functools.partial(bench.add_section, lines)

    section("setup", report["setup"])
    section("pings", report["pings"])
    lines.append("-- processes (CPU over the window; ms/ping over the persisted pings)")
    lines.append(
        f"  {'process':<24}{'procs':>6}{'CPU s':>9}{'% core':>8}{'ms/ping':>10}"
        f"{'RSS MB':>9}{'peak RSS':>10}"
    )

    def show(value: object) -> str:
        return "-" if value is None else str(value)

    for row in report["processes"]:
        lines.append(
            f"  {row['process']:<24}{row['count']:>6}{show(row['cpu_s']):>9}"
            f"{show(row['cpu_pct_of_core']):>8}{show(row['cpu_ms_per_ping']):>10}"
            f"{show(row['rss_mb']):>9}{show(row['peak_rss_mb']):>10}"
        )
    if "goals" in report:
        section("goals (2-core machine)", report["goals"])
    if "warning" in report:
        lines.append(f"  warning: {report['warning']}")
    db = dict(report["database"])
    tables = db.pop("by_table")
    section("database", db)
    for name, figures in tables.items():
        lines.append(f"  {'  ' + name:<36} " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    for group, found in report.get("py_spy", {}).items():
        lines.append(f"-- py-spy {group}: {found['samples']} samples at {pyspy.RATE_HZ} Hz")
        for title, key in (("threads", "threads_pct"), ("own", "own_pct"),
                           ("statuschecker's, with callees", "ours_inclusive_pct")):  # fmt: skip
            lines.append(f"  {title} (% of samples)")
            lines.extend(f"  {pct:>7}  {name}" for name, pct in found.get(key, {}).items())
    for problem in report.get("statuschecker_log_problems", []):
        lines.append(f"  log: {problem}")
    if "peer" in report:
        lines.append(f"== peer: {report['peer']['setup']['mode']}")
        lines.append(table(report["peer"]))
        section("comparison: statuschecker / Healthchecks", report["comparison"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the ping benchmark."""
    return bench.run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
