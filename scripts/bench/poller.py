"""Scale-out benchmark: statuschecker's real processes against a fast local target, on PostgreSQL.

    python scripts/bench/poller.py --services 10000 --interval 10 --duration 300 --processes 2
    python scripts/bench/poller.py --services 2000 --interval 10 --duration 60 --peer blackbox
    python scripts/bench/poller.py --services 5000 --interval 10 --duration 40 --saturate

Uses STATUSCHECKER_DATABASE_URL's server if set, else an embedded PostgreSQL in a temporary
directory, and a fresh database on it (dropped at the end). Starts the target (nginx with a
minimal config in a temp dir; target.py when nginx is not installed), creates a bench account
and inserts N services owned by it, pointing to distinct paths of the target, with their first
checks spread over one interval. Then runs statuschecker as deployed, configured by
STATUSCHECKER_* variables: `--mode roles`, `statuschecker api` and `statuschecker poller
--processes P --metrics-port M`; `--mode run`, `statuschecker run` alone (the API and P poller
worker processes beside it: what `make run` starts); `--mode single`, `statuschecker run` in one
process (STATUSCHECKER_SINGLE_PROCESS, and what a statuschecker without roles runs).
After a warm-up it measures a window: checks from the stored ticks, CPU and memory of every
process from /proc (statuschecker's and, separately, the database's), row and byte rates from
PostgreSQL's statistics, and the latency of `GET /v1/services?limit=100` with K concurrent
clients while the poller runs.

Schedule lag from ticks is exact: the schedule keeps each service's phase, so a check's slot
is `phase + k * interval` and its lag is `checked_at - slot`. A missed check is a slot due in
the window that has no tick (the poller runs on for a grace period after the window so that
late-but-done checks are not miscounted).

`--peer blackbox` then (sequentially, with statuschecker stopped, so neither competes for the
cores) runs Prometheus' blackbox_exporter on 127.0.0.1 and drives `GET /probe?module=http_2xx`
against the same target at the same rate for a window, measures its CPU and prints the ratio
of checks per CPU-second, statuschecker / blackbox. `--saturate` raises the number of services
step by step (fresh database each step) and reports the most checks/s with schedule lag
p99 < 1 s and no missed check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import loadgen
import procstat
import servers
from sqlalchemy import Engine, Row, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from statuschecker.accounts.credentials import hash_password, issue_access_token, signing_key
from statuschecker.checks import kind_of
from statuschecker.store.accounts import create_user
from statuschecker.store.engine import create_db_engine, migrate, sqlalchemy_url
from statuschecker.store.services import analyse_if_grown
from statuschecker.store.tables import service_locations, service_metrics, service_ticks, services
from statuschecker.system import logs
from statuschecker.system.config import Settings
from statuschecker.system.embedded_db import EmbeddedPostgres

API_PATH = "/v1/services?limit=100"
GRACE_SECONDS = 5.0  # the poller runs on this long after the window, for late checks
LAG_LIMIT_S = 1.0  # what --saturate accepts as schedule lag p99


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000, help="services to register")
    parser.add_argument("--interval", type=int, default=10, help="seconds between checks")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, help="seconds before measuring (2 intervals)")
    parser.add_argument("--processes", type=int, default=2, help="poller child processes")
    parser.add_argument("--mode", choices=["roles", "run", "single"], default="roles",
                        help="api + poller roles, run with workers, run alone")  # fmt: skip
    parser.add_argument("--concurrency", type=int, help="poller_concurrency per process")
    parser.add_argument(
        "--locations",
        type=int,
        default=0,
        help="check each service from this many locations, decided by quorum (roles: a "
        "statuschecker poller per location; 0: from anywhere)",
    )
    parser.add_argument("--api-clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument(
        "--api-rate", type=float, default=50.0, help="API requests/s in all (0: flat out)"
    )
    parser.add_argument("--target", choices=["auto", "python"], default="auto",
                        help="auto: nginx when installed, else target.py")  # fmt: skip
    parser.add_argument("--peer", choices=["blackbox"], help="also measure this peer")
    parser.add_argument("--peer-rate", type=float, help="probes/s (default: statuschecker's)")
    parser.add_argument("--peer-duration", type=float, help="peer's window (default: --duration)")
    parser.add_argument("--saturate", action="store_true", help="find the highest clean rate")
    parser.add_argument("--saturate-factor", type=float, default=1.4, help="rate step factor")
    parser.add_argument("--saturate-steps", type=int, default=6, help="most steps")
    parser.add_argument("--saturate-budget", type=float, default=1500, help="most seconds")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.services < 1 or not 1 <= args.interval <= 86400 or args.duration <= 0:
        parser.error("need --services >= 1, 1 <= --interval <= 86400 and --duration > 0")
    if args.processes < 1 or args.api_clients < 0 or args.saturate_steps < 1:
        parser.error("need --processes >= 1, --api-clients >= 0, --saturate-steps >= 1")
    if args.saturate_factor <= 1:
        parser.error("need --saturate-factor > 1")
    if not 0 <= args.locations <= 16 or (args.locations and args.mode != "roles"):
        parser.error("--locations takes 0 to 16, in the roles mode")
    return args


def _raise_interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


# -- set-up ------------------------------------------------------------------------------------


@dataclass
class Server:
    """The PostgreSQL server the benchmark uses."""

    url: str
    postmaster: int | None  # pid, when it runs on this machine and can be found
    name: str


def server_url(stack: contextlib.ExitStack) -> str:
    """The configured server, else an embedded one in a temp dir, stopped when `stack` closes."""
    return start_server(stack).url


def start_server(stack: contextlib.ExitStack) -> Server:
    """STATUSCHECKER_DATABASE_URL's server, else an embedded one in a temp dir."""
    given = os.environ.get("STATUSCHECKER_DATABASE_URL")
    if given:
        url = sqlalchemy_url(given)
        return Server(url, _postmaster_of(url), "STATUSCHECKER_DATABASE_URL")
    tmp = servers.temp_dir(stack, "statuschecker-bench-")
    server = EmbeddedPostgres(tmp / "postgres")
    stack.callback(server.stop)
    url = server.start()
    return Server(url, _pid_file(tmp / "postgres"), "embedded PostgreSQL (pgserver)")


def _pid_file(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _postmaster_of(url: str) -> int | None:
    """The postmaster's pid, if the server's data directory is readable here."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
        return _pid_file(Path(data_dir))
    except Exception:  # not allowed to read it: no database figures
        return None
    finally:
        engine.dispose()


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


def location_names(count: int) -> list[str]:
    """The locations of a run with `count` of them."""
    return [f"loc-{n}" for n in range(1, count + 1)]


def register(
    engine: Engine, count: int, port: int, interval: int, locations: Sequence[str] = ()
) -> tuple[int, dict]:
    """Create the bench account and insert `count` services it owns in one transaction, first
    checks spread over one interval, each checked from `locations` (none: from anywhere);
    return the account id and each slot's phase, by (service id, location; None: anywhere)."""
    start = datetime.now(UTC) + timedelta(seconds=0.5)
    with engine.begin() as conn:
        user = create_user(
            conn, "bench@example.com", hash_password(secrets.token_urlsafe()), is_admin=False
        )
        rows = [
            {
                "owner_id": user.id,
                "name": f"bench-{i:06d}",
                "url": f"http://127.0.0.1:{port}/s/{i}",
                "kind": kind_of(f"http://127.0.0.1:{port}/"),
                "interval_seconds": interval,
                "timeout_seconds": float(min(5, interval)),
                "next_check_at": start + timedelta(seconds=interval * i / count),
                "locations": list(locations),
            }
            for i in range(count)
        ]
        for chunk in range(0, count, 5000):
            conn.execute(insert(services), rows[chunk : chunk + 5000])
        due = {
            row.id: row.next_check_at
            for row in conn.execute(select(services.c.id, services.c.next_check_at))
        }
        conn.execute(insert(service_metrics), [{"service_id": sid} for sid in due])
        slots = [
            {"service_id": sid, "location": loc, "next_check_at": at}
            for sid, at in due.items()
            for loc in locations
        ]
        for chunk in range(0, len(slots), 5000):
            conn.execute(insert(service_locations), slots[chunk : chunk + 5000])
        phases: dict[tuple[int, str | None], datetime] = (
            {(s["service_id"], s["location"]): s["next_check_at"] for s in slots}
            if locations
            else {(sid, None): at for sid, at in due.items()}
        )
    with engine.connect() as conn:  # as a batch registration through the API does
        analyse_if_grown(conn)
        conn.commit()
    return user.id, phases


# -- statuschecker's processes -------------------------------------------------------------------


@dataclass
class Node:
    """statuschecker's processes of one run: role -> Popen."""

    roles: dict[str, subprocess.Popen]
    api_port: int
    metrics_port: int | None
    mode: str

    def stop_poller(self) -> None:
        """SIGTERM the poller roles and wait until they wrote what they held."""
        pollers = [p for role, p in self.roles.items() if role != "api" and p.poll() is None]
        for proc in pollers:
            proc.send_signal(signal.SIGTERM)
        for proc in pollers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=60)


def start_node(
    stack: contextlib.ExitStack, url: str, data_dir: Path, args: argparse.Namespace, mode: str
) -> Node:
    """statuschecker's processes in `mode` (see the module's docstring), configured by env."""
    api_port = servers.free_port()
    env = {
        "STATUSCHECKER_DATABASE_URL": url,
        "STATUSCHECKER_DATA_DIR": str(data_dir),
        "STATUSCHECKER_HOST": "127.0.0.1",
        "STATUSCHECKER_PORT": str(api_port),
        "STATUSCHECKER_LOG_LEVEL": "warning",
        "STATUSCHECKER_LOG_FORMAT": "json",
        "STATUSCHECKER_ALLOW_PRIVATE_TARGETS": "true",
    }
    if args.concurrency:
        env["STATUSCHECKER_POLLER_CONCURRENCY"] = str(args.concurrency)
    log = data_dir / "statuschecker.log"
    if mode == "roles":
        metrics_port = servers.free_port()
        api = servers.start_statuschecker(
            stack, ["api"], env | {"STATUSCHECKER_POLLER_ENABLED": "false"}, log
        )
        if args.locations:  # a poller per location, the workers shared out among them
            each = max(1, args.processes // args.locations)
            roles = {"api": api}
            for name in location_names(args.locations):
                argv = ["poller", "--processes", str(each), "--location", name]
                port = str(servers.free_port())
                roles[f"poller {name}"] = servers.start_statuschecker(
                    stack, [*argv, "--metrics-port", port], env, log
                )
            mode = (
                f"statuschecker api + {args.locations} x statuschecker poller --processes {each} "
                "--location loc-N (every service checked from each, decided by quorum)"
            )
            node = Node(roles, api_port, metrics_port, mode)
        else:
            poller_args = ["poller", "--processes", str(args.processes)]
            poller = servers.start_statuschecker(
                stack, [*poller_args, "--metrics-port", str(metrics_port)], env, log
            )
            mode = f"statuschecker api + statuschecker {' '.join(poller_args)}"
            node = Node({"api": api, "poller": poller}, api_port, metrics_port, mode)
    elif mode == "run":
        run_env = env | {"STATUSCHECKER_POLLER_PROCESSES": str(args.processes)}
        run = servers.start_statuschecker(stack, ["run"], run_env, log)
        described = f"statuschecker run (API + {args.processes} poller processes)"
        node = Node({"run": run}, api_port, None, described)
    else:
        single = env | {"STATUSCHECKER_SINGLE_PROCESS": "true"}
        run = servers.start_statuschecker(stack, ["run"], single, log)
        node = Node({"run": run}, api_port, None, "statuschecker run (API + poller, 1 process)")
    main = node.roles.get("api") or node.roles["run"]
    servers.wait_until(
        lambda: servers.answers(f"http://127.0.0.1:{api_port}/v1/health"), main, "the API", 60
    )
    return node


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Sampler:
    """Samples the process trees every second during the window, for peak memory."""

    trees: dict[str, int]  # group name -> root pid
    peak_mb: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def groups(self) -> dict[str, dict[int, procstat.Proc]]:
        """Every group's live processes now."""
        ppids = procstat.parents()
        return {g: procstat.snapshot(procstat.tree(r, ppids)) for g, r in self.trees.items()}

    def run(self) -> None:
        """Track each group's peak RSS until stopped."""
        while not self.stop.wait(1.0):
            for group, procs in self.groups().items():
                rss = procstat.tree_rss_mb(procs)
                self.peak_mb[group] = max(self.peak_mb.get(group, 0.0), rss)


def db_counters(engine: Engine) -> dict[str, list[int]]:
    """Rows inserted / updated / deleted so far, per table (tick partitions as one)."""
    totals: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for name, ins, upd, dele in conn.execute(
            text("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
        ):
            key = "service_ticks" if name.startswith("service_ticks_p") else name
            row = totals.setdefault(key, [0, 0, 0])
            row[0], row[1], row[2] = row[0] + ins, row[1] + upd, row[2] + dele
    return totals


def ticks_between(engine: Engine, t0: datetime, t1: datetime) -> int:
    """Ticks checked from `t0` until a second after `t1` (a check begun by then, written)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(
                service_ticks.c.checked_at >= t0,
                service_ticks.c.checked_at < t1 + timedelta(seconds=1),
            )
        ).scalar_one()


def hot_updates(engine: Engine) -> dict[str, int]:
    """Updates so far that were HOT (no index touched, the row kept on its page), per table."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT relname, n_tup_hot_upd FROM pg_stat_user_tables"))
        return {name: hot for name, hot in rows}


def tick_storage(engine: Engine) -> tuple[int, int]:
    """Bytes of service_ticks (every partition, with indexes and TOAST) and its row count."""
    with engine.connect() as conn:
        size = conn.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(relid)), 0) "
                "FROM pg_partition_tree('service_ticks') WHERE isleaf"
            )
        ).scalar_one()
        count = conn.execute(text("SELECT count(*) FROM service_ticks")).scalar_one()
    return int(size), int(count)


def quantile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of already sorted values."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1)]


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds, rounded; None stays None."""
    return None if seconds is None else round(seconds * 1000, 1)


def per_cpu(count: float, cpu_s: float) -> float | None:
    """`count` per CPU-second, rounded."""
    return round(count / cpu_s, 1) if cpu_s > 0 else None


def slot_figures(
    rows: Sequence[Row[Any]],
    phases: dict[tuple[int, str | None], datetime],
    interval: int,
    t0: datetime,
    t1: datetime,
) -> dict:
    """Lag and missed checks from the ticks, exactly: each tick belongs to slot
    k = floor((checked_at - phase) / interval) of its (service, location); the window's slots
    are those due in [t0, t1)."""
    step = timedelta(seconds=interval)
    done: dict[tuple[int, str | None], Counter] = {}
    lags = []
    for row in rows:
        key = (row.service_id, row.location)
        phase = phases.get(key)
        if phase is None:
            continue
        k = (row.checked_at - phase) // step
        slot = phase + k * step
        if t0 <= slot < t1:
            done.setdefault(key, Counter())[k] += 1
            lags.append((row.checked_at - slot).total_seconds())
    missed = duplicate = 0
    for sid, phase in phases.items():
        first = math.ceil((t0 - phase) / step)
        last = math.ceil((t1 - phase) / step) - 1
        seen = done.get(sid, Counter())
        missed += sum(1 for k in range(first, last + 1) if k not in seen)
        duplicate += sum(n - 1 for n in seen.values() if n > 1)
    lags.sort()
    return {
        "slots_due_in_window": len(lags) - duplicate + missed,
        "missed_checks": missed,
        "duplicate_checks": duplicate,
        "lag_p50_ms": ms(quantile(lags, 0.50)),
        "lag_p99_ms": ms(quantile(lags, 0.99)),
        "lag_max_ms": ms(lags[-1] if lags else None),
    }


def api_load(port: int, token: str, args: argparse.Namespace, seconds: float) -> Callable:
    """Start the API clients on a thread; the returned function joins it and gives the result."""
    box: dict[str, loadgen.LoadResult] = {}

    def work() -> None:
        box["result"] = asyncio.run(
            loadgen.drive(
                port,
                lambda _: API_PATH,
                rate=args.api_rate,
                seconds=seconds,
                concurrency=args.api_clients,
                headers={"Authorization": f"Bearer {token}"},
            )
        )

    thread = threading.Thread(target=work, name="api-load", daemon=True)
    thread.start()

    def join() -> loadgen.LoadResult:
        thread.join(timeout=seconds + 120)
        return box.get("result", loadgen.LoadResult())

    return join


def check_api(port: int, token: str) -> int:
    """GET the API path once; how many services it lists (the bench account's first page)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{API_PATH}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = json.load(answer)
    items = body.get("data") if isinstance(body, dict) else body
    return len(items) if isinstance(items, list) else -1


def measure_rate(
    args: argparse.Namespace,
    server: Server,
    target: servers.Started,
    services_count: int,
    mode: str,
    api_clients: int,
) -> dict:
    """One run at one rate: fresh database, services, processes, warm-up, window, report."""
    interval = args.interval
    with contextlib.ExitStack() as stack:
        url = fresh_database(stack, server.url)
        engine = create_db_engine(url, pool_size=2)
        stack.callback(engine.dispose)
        began = time.perf_counter()
        names = location_names(args.locations)
        user_id, phases = register(engine, services_count, target.port, interval, names)
        register_s = time.perf_counter() - began
        data_dir = servers.temp_dir(stack, "statuschecker-bench-data-")
        settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
        token = issue_access_token(user_id, signing_key(settings), 24 * 3600)
        node = start_node(stack, url, data_dir, args, mode)
        listed = check_api(node.api_port, token)

        trees = {role: proc.pid for role, proc in node.roles.items()}
        if server.postmaster is not None:
            trees["database"] = server.postmaster
        sampler = Sampler(trees)
        warmup = args.warmup if args.warmup is not None else 2 * interval
        time.sleep(warmup)

        rows0, hot0 = db_counters(engine), hot_updates(engine)
        snap0 = sampler.groups()
        t0 = datetime.now(UTC)
        thread = threading.Thread(target=sampler.run, name="sampler", daemon=True)
        thread.start()
        join_api = api_load(node.api_port, token, args, args.duration) if api_clients > 0 else None
        time.sleep(args.duration)
        snap1 = sampler.groups()
        t1 = datetime.now(UTC)
        rows1, hot1 = db_counters(engine), hot_updates(engine)
        sampler.stop.set()
        thread.join(timeout=5)
        api = join_api() if join_api is not None else None
        for group, procs in snap1.items():  # the last look counts for the peak too
            rss = procstat.tree_rss_mb(procs)
            sampler.peak_mb[group] = max(sampler.peak_mb.get(group, 0.0), rss)

        time.sleep(GRACE_SECONDS)
        node.stop_poller()  # in-flight checks end and pending results are written
        tick = service_ticks.c
        with engine.connect() as conn:
            rows = conn.execute(
                select(tick.service_id, tick.location, tick.checked_at, tick.up).where(
                    tick.checked_at >= t0 - timedelta(seconds=interval),
                    tick.checked_at < t1 + timedelta(seconds=GRACE_SECONDS + interval),
                )
            ).all()
        stored_bytes, stored_ticks = tick_storage(engine)
        log_tail = _log_problems(data_dir / "statuschecker.log")

    window = (t1 - t0).total_seconds()
    in_window = [r for r in rows if t0 <= r.checked_at < t1]
    checks = len(in_window)
    per_slot = Counter((r.service_id, r.location) for r in in_window)
    counts = sorted(per_slot.get(key, 0) for key in phases)
    report: dict = {
        "setup": {
            "mode": node.mode,
            "target": target.name,
            "database": server.name,
            "services": services_count,
            "interval_s": interval,
            "poller_concurrency": args.concurrency or Settings(_env_file=None).poller_concurrency,  # type: ignore[call-arg]
            "register_s": round(register_s, 2),
            "warmup_s": warmup,
            "window_s": round(window, 1),
        },
        "checks": {
            "expected_checks_per_s": round(len(phases) / interval, 1),
            "achieved_checks_per_s": round(checks / window, 1),
            "checks_in_window": checks,
            **slot_figures(rows, phases, interval, t0, t1),
            "checks_per_slot_min_median_max": [
                counts[0],
                statistics.median(counts),
                counts[-1],
            ],
            "down_ticks": sum(1 for r in in_window if not r.up),
        },
    }
    report["processes"], report["totals"] = process_figures(snap0, snap1, sampler, checks, window)
    report["database"] = db_figures(rows0, rows1, window, stored_bytes, stored_ticks)
    for name, figures in report["database"]["by_table"].items():
        updated = rows1[name][1] - rows0.get(name, [0, 0, 0])[1]
        if updated and name in hot1:
            hot = hot1[name] - hot0.get(name, 0)
            figures["hot_updates_pct"] = round(100 * hot / updated, 1)
    if api is not None:
        lat = sorted(api.latencies)
        report["api"] = {
            "request": f"GET {API_PATH}",
            "items_listed": listed,
            "clients": args.api_clients,
            "offered_per_s": args.api_rate or "flat out",
            "achieved_per_s": round(api.done / api.seconds, 1) if api.seconds else 0,
            "non_2xx": sum(n for s, n in api.statuses.items() if not 200 <= s < 300),
            "errors": api.errors,
            "not_sent": api.not_sent,
            "p50_ms": ms(quantile(lat, 0.5)),
            "p99_ms": ms(quantile(lat, 0.99)),
            "max_ms": ms(lat[-1] if lat else None),
        }
    if log_tail:
        report["statuschecker_log_problems"] = log_tail
    return report


def _log_problems(path: Path, keep: int = 5, expected: tuple[str, ...] = ()) -> list[str]:
    """The last few warning-or-worse lines statuschecker logged (JSON lines), less those with
    an `expected` event (`"alert.raised"` where the benchmark makes services fail)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    bad = [
        ln
        for ln in lines
        if ('"error"' in ln or '"warning"' in ln or "Traceback" in ln)
        and not any(f'"event": "{event}"' in ln for event in expected)
    ]
    return [ln[:300] for ln in bad[-keep:]]


def process_figures(
    snap0: dict, snap1: dict, sampler: Sampler, checks: int, window: float
) -> tuple[list[dict], dict]:
    """Per process and per group: CPU over the window, per check, RSS/PSS at the end."""
    rows = []
    totals: dict = {}
    for group, procs in snap1.items():
        before = snap0.get(group, {})
        root = sampler.trees[group]
        if group != "database":
            for pid, proc in procs.items():
                cpu = proc.own_s - (before[pid].own_s if pid in before else 0.0)
                role = group if pid == root else f"{group} {_kind_of(pid)}"
                rows.append(
                    {
                        "process": role,
                        "pid": pid,
                        "cpu_s": round(cpu, 2),
                        "cpu_pct_of_core": round(100 * cpu / window, 1),
                        "cpu_ms_per_check": round(1000 * cpu / checks, 3) if checks else None,
                        "checks_per_cpu_s": per_cpu(checks, cpu),
                        "rss_mb": round(proc.rss_mb, 1),
                        "pss_mb": None if proc.pss_mb is None else round(proc.pss_mb, 1),
                    }
                )
        cpu = procstat.tree_cpu_s(procs) - procstat.tree_cpu_s(before)
        pss = procstat.tree_pss_mb(procs)
        totals[group] = {
            "processes": len(procs),
            "cpu_s": round(cpu, 2),
            "cpu_pct_of_core": round(100 * cpu / window, 1),
            "cpu_ms_per_check": round(1000 * cpu / checks, 3) if checks else None,
            "checks_per_cpu_s": per_cpu(checks, cpu),
            "rss_mb": round(procstat.tree_rss_mb(procs), 1),
            "pss_mb": None if pss is None else round(pss, 1),
            "peak_rss_mb": round(sampler.peak_mb.get(group, 0.0), 1),
        }
    ours = [g for g in totals if g != "database"]
    cpu = sum(totals[g]["cpu_s"] for g in ours)
    totals["statuschecker"] = {
        "processes": sum(totals[g]["processes"] for g in ours),
        "cpu_s": round(cpu, 2),
        "cpu_pct_of_core": round(100 * cpu / window, 1),
        "cpu_ms_per_check": round(1000 * cpu / checks, 3) if checks else None,
        "checks_per_cpu_s": per_cpu(checks, cpu),
        "rss_mb": round(sum(totals[g]["rss_mb"] for g in ours), 1),
        "pss_mb": round(sum(totals[g]["pss_mb"] or 0 for g in ours), 1),
        "peak_rss_mb": round(sum(totals[g]["peak_rss_mb"] for g in ours), 1),
    }
    return rows, totals


def _kind_of(pid: int) -> str:
    """What a child process is, from its command line."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "child"
    for marker, kind in (("resource_tracker", "res.tracker"), ("spawn_main", "worker")):
        if marker in cmdline:
            return kind
    return "child"


def db_figures(rows0: dict, rows1: dict, window: float, size: int, ticks: int) -> dict:
    """Rows written per second by table, and the bytes one stored tick takes."""
    by_table = {}
    for name, (ins, upd, dele) in sorted(rows1.items()):
        i0, u0, d0 = rows0.get(name, [0, 0, 0])
        changed = (ins - i0, upd - u0, dele - d0)
        if any(changed):
            by_table[name] = {
                "inserted_per_s": round(changed[0] / window, 1),
                "updated_per_s": round(changed[1] / window, 1),
                "deleted_per_s": round(changed[2] / window, 1),
            }
    total = sum(
        v["inserted_per_s"] + v["updated_per_s"] + v["deleted_per_s"] for v in by_table.values()
    )
    return {
        "rows_written_per_s": round(total, 1),
        "by_table": by_table,
        "service_ticks_bytes": size,
        "stored_ticks": ticks,
        "bytes_per_stored_tick": round(size / ticks, 1) if ticks else None,
    }


# -- the peer ----------------------------------------------------------------------------------


def measure_blackbox(
    args: argparse.Namespace, target: servers.Started, rate: float, services_count: int
) -> dict:
    """blackbox_exporter probing the target at `rate` per second for the peer's window."""
    seconds = args.peer_duration or args.duration
    with contextlib.ExitStack() as stack:
        exporter = servers.start_blackbox(stack)
        base = f"http://127.0.0.1:{exporter.port}/probe?module=http_2xx&target="

        def path(i: int) -> str:
            where = f"http://127.0.0.1:{target.port}/s/{i % services_count}"
            return f"/probe?module=http_2xx&target={where}"

        with urllib.request.urlopen(f"{base}http://127.0.0.1:{target.port}/s/0", timeout=10) as r:
            sample = r.read().decode()
        succeeded = "probe_success 1" in sample

        def drive(span: float) -> loadgen.LoadResult:
            return asyncio.run(
                loadgen.drive(exporter.port, path, rate=rate, seconds=span, concurrency=64)
            )

        drive(min(10.0, seconds))  # warm-up
        me0, box0 = procstat.read(os.getpid()), _tree(exporter.pid)
        result = drive(seconds)
        me1, box1 = procstat.read(os.getpid()), _tree(exporter.pid)
    cpu = procstat.tree_cpu_s(box1) - procstat.tree_cpu_s(box0)
    lat = sorted(result.latencies)
    assert me0 is not None and me1 is not None
    return {
        "peer": exporter.name,
        "mode": "sequential: after statuschecker's window, statuschecker stopped",
        "probe_success_of_a_sample": succeeded,
        "offered_probes_per_s": round(rate, 1),
        "achieved_probes_per_s": round(result.done / result.seconds, 1),
        "window_s": round(result.seconds, 1),
        "probes": result.done,
        "errors": result.errors,
        "not_sent": result.not_sent,
        "probe_p50_ms": ms(quantile(lat, 0.5)),
        "probe_p99_ms": ms(quantile(lat, 0.99)),
        "cpu_s": round(cpu, 2),
        "cpu_pct_of_core": round(100 * cpu / result.seconds, 1),
        "cpu_ms_per_probe": round(1000 * cpu / result.done, 3) if result.done else None,
        "probes_per_cpu_s": per_cpu(result.done, cpu),
        "rss_mb": round(procstat.tree_rss_mb(box1), 1),
        "driver_cpu_s": round(me1.own_s - me0.own_s, 2),
    }


def _tree(pid: int) -> dict[int, procstat.Proc]:
    return procstat.snapshot(procstat.tree(pid))


# -- saturation --------------------------------------------------------------------------------


def clean(report: dict) -> bool:
    """Whether a run kept up: no missed check and schedule lag p99 under the limit."""
    c = report["checks"]
    return c["missed_checks"] == 0 and (c["lag_p99_ms"] or 0) < LAG_LIMIT_S * 1000


def saturate(args: argparse.Namespace, server: Server, target, mode: str) -> dict:
    """Raise the number of services (fixed interval) by --saturate-factor while runs are clean,
    then try once between the last clean and the first failing rate; bounded in steps and
    seconds. API clients stay off: this measures the poller's capacity."""
    deadline = time.monotonic() + args.saturate_budget
    count, good, bad, steps = args.services, None, None, []
    for _ in range(args.saturate_steps):
        if time.monotonic() > deadline:
            break
        report = measure_rate(args, server, target, count, mode, api_clients=0)
        ok = clean(report)
        c, t = report["checks"], report["totals"]
        steps.append(
            {
                "services": count,
                "expected_checks_per_s": c["expected_checks_per_s"],
                "achieved_checks_per_s": c["achieved_checks_per_s"],
                "missed_checks": c["missed_checks"],
                "lag_p50_ms": c["lag_p50_ms"],
                "lag_p99_ms": c["lag_p99_ms"],
                "statuschecker_cpu_pct": t["statuschecker"]["cpu_pct_of_core"],
                "database_cpu_pct": t.get("database", {}).get("cpu_pct_of_core"),
                "clean": ok,
            }
        )
        print(f"saturate: {json.dumps(steps[-1])}", file=sys.stderr, flush=True)
        if ok:
            good = count if good is None else max(good, count)
        else:
            bad = count if bad is None else min(bad, count)
        if bad is None:
            count = int(count * args.saturate_factor)
        elif good is None:
            count = max(1, int(count / args.saturate_factor))
        else:
            middle = (good + bad) // 2
            if bad - good <= max(1, good // 10):
                break
            count = middle
    best = max((s for s in steps if s["clean"]), key=lambda s: s["services"], default=None)
    return {
        "interval_s": args.interval,
        "window_s_per_step": args.duration,
        "criterion": f"no missed check and schedule lag p99 < {LAG_LIMIT_S:g} s",
        "steps": steps,
        "highest_clean_checks_per_s": best["achieved_checks_per_s"] if best else None,
        "highest_clean_services": best["services"] if best else None,
        "lowest_failing_services": bad,
    }


# -- the report --------------------------------------------------------------------------------


def add_section(lines: list[str], title: str, values: dict) -> None:
    """Append a titled section of figures to a report's `lines`, one `key value` row each."""
    lines.append(f"-- {title}")
    for key, value in values.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "/".join(str(v) for v in value)
        lines.append(f"  {key:<36} {value}")


def sections_table(report: dict, names: tuple[str, ...]) -> str:
    """The report's sections `names` (those it has) as one text table, then the problems its
    statuschecker processes logged."""
    lines: list[str] = []
    for name in names:
        if name in report:
            add_section(lines, name.replace("_", " "), report[name])
    lines += [f"  log: {problem}" for problem in report.get("statuschecker_log_problems", [])]
    return "\n".join(lines)


def table(report: dict) -> str:
    """The report as one text table: sections of figures, then a row per process."""
    lines: list[str] = []
    section = functools.partial(add_section, lines)

    for name in ("setup", "checks", "api"):
        if name in report:
            section(name, report[name])
    if "processes" in report:
        lines.append(
            "-- processes (CPU over the window; ms/check and checks/CPU-s over all checks)"
        )
        head = f"  {'process':<22}{'pid':>8}{'CPU s':>9}{'% core':>8}{'ms/check':>10}"
        lines.append(head + f"{'checks/CPU-s':>14}{'RSS MB':>9}{'PSS MB':>9}{'peak RSS':>10}")
        for row in report["processes"]:
            lines.append(_process_line(row["process"], str(row["pid"]), row))
        for group, row in report["totals"].items():
            lines.append(_process_line(f"= {group}", str(row["processes"]), row))
    if "database" in report:
        db = dict(report["database"])
        tables = db.pop("by_table")
        section("database", db)
        for name, figures in tables.items():
            lines.append(
                f"  {'  ' + name:<36} " + ", ".join(f"{k} {v}" for k, v in figures.items())
            )
    if "peer" in report:
        section("peer", report["peer"])
    if "comparison" in report:
        section("comparison", report["comparison"])
    if "saturation" in report:
        sat = dict(report["saturation"])
        steps = sat.pop("steps")
        section("saturation", sat)
        for step in steps:
            lines.append("  step " + ", ".join(f"{k} {v}" for k, v in step.items()))
    for problem in report.get("statuschecker_log_problems", []):
        lines.append(f"  log: {problem}")
    return "\n".join(lines)


def _process_line(name: str, pid: str, row: dict) -> str:
    def show(value: object) -> str:
        return "-" if value is None else str(value)

    return (
        f"  {name:<22}{pid:>8}{show(row['cpu_s']):>9}{show(row['cpu_pct_of_core']):>8}"
        f"{show(row['cpu_ms_per_check']):>10}{show(row['checks_per_cpu_s']):>14}"
        f"{show(row['rss_mb']):>9}{show(row.get('pss_mb')):>9}{show(row.get('peak_rss_mb')):>10}"
    )


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """The whole benchmark: the main run (or saturation), then the peer."""
    server = start_server(stack)
    target = servers.start_target(stack, use_nginx=args.target == "auto")
    mode = args.mode if servers.has_roles() else "single"
    if args.saturate:
        report: dict[str, Any] = {"setup": {"target": target.name, "database": server.name}}
        report["saturation"] = saturate(args, server, target, mode)
        return report
    report = measure_rate(args, server, target, args.services, mode, args.api_clients)
    if args.peer == "blackbox":
        rate = args.peer_rate or args.services / args.interval
        report["peer"] = measure_blackbox(args, target, rate, args.services)
        poller = {g: v for g, v in report["totals"].items() if g in ("poller", "run")}
        ours = next(iter(poller.values()))["checks_per_cpu_s"]
        with_db = report["checks"]["checks_in_window"] / (
            report["totals"]["statuschecker"]["cpu_s"]
            + report["totals"].get("database", {}).get("cpu_s", 0.0)
        )
        theirs = report["peer"]["probes_per_cpu_s"]
        report["comparison"] = {
            "statuschecker_poller_checks_per_cpu_s": ours,
            "statuschecker_incl_api_and_database_checks_per_cpu_s": round(with_db, 1),
            "blackbox_probes_per_cpu_s": theirs,
            "ratio_statuschecker_poller_over_blackbox": round(ours / theirs, 2)
            if ours and theirs
            else None,
            "ratio_incl_database_over_blackbox": round(with_db / theirs, 2) if theirs else None,
        }
    return report


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
    """Run the scale-out benchmark."""
    return run(measure, table, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
