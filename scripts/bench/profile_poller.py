"""Where a poller's (or the API's) CPU goes: cProfile over every thread of one process.

    python scripts/bench/profile_poller.py --services 3000 --interval 10 --seconds 30
    python scripts/bench/profile_poller.py --role api --services 10000 --requests 300

Sets up as `poller.py` does (server, fresh database, nginx or target.py, services owned by a
bench account), then runs statuschecker's own code in this process with a cProfile profiler
in each thread (threading.Thread.run is wrapped, so the poller's loop thread, the database
worker threads of `asyncio.to_thread` and the notifier are all covered; the profiles are merged
when the threads have ended):

* `--role poller`: the poller runtime (claim, check, record) for `--seconds` at the rate
  `--services / --interval` - the work of one `statuschecker poller` worker process;
* `--role api`: `--requests` sequential `GET /v1/services?limit=100` through the app's test
  client, as the bench account.

Prints the CPU used and the top entries by own time (tottime) and by cumulative time.
cProfile roughly doubles the cost of Python calls, so read the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import resource
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import poller as bench
import servers
from prometheus_client import CollectorRegistry

from statuschecker.accounts.credentials import issue_access_token, signing_key
from statuschecker.runtime import Runtime
from statuschecker.store.engine import create_db_engine
from statuschecker.system.config import Settings

_profiles: list[tuple[threading.Thread | None, cProfile.Profile]] = []
_thread_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile()
    _profiles.append((self, profile))
    profile.enable()
    try:
        _thread_run(self)
    finally:
        profile.disable()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["poller", "api"], default="poller")
    parser.add_argument("--services", type=int, default=3000, help="services to register")
    parser.add_argument("--interval", type=int, default=10, help="seconds between checks")
    parser.add_argument("--seconds", type=float, default=30.0, help="poller: profiled seconds")
    parser.add_argument("--requests", type=int, default=300, help="api: profiled requests")
    parser.add_argument("--top", type=int, default=25, help="entries to print")
    parser.add_argument("--concurrency", type=int, default=500, help="poller_concurrency")
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    return parser.parse_args(argv)


def cpu_seconds() -> float:
    """CPU used by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Set up, run the profiled role, and return the figures and the printed profile."""
    server = bench.start_server(stack)
    target = servers.start_target(stack)
    url = bench.fresh_database(stack, server.url)
    engine = create_db_engine(url, pool_size=2)
    stack.callback(engine.dispose)
    user_id, _ = bench.register(engine, args.services, target.port, args.interval)
    data_dir = servers.temp_dir(stack, "statuschecker-profile-")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        data_dir=data_dir,
        poller_concurrency=args.concurrency,
        log_level="warning",
    )
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    main = cProfile.Profile()
    _profiles.append((None, main))
    figures: dict = {"target": target.name, "role": args.role, "services": args.services}
    if args.role == "poller":
        runtime = Runtime.build(settings, url, CollectorRegistry(), with_poller=True)
        stack.callback(runtime.close)
        t0, cpu0 = datetime.now(UTC), cpu_seconds()
        runtime.start()
        time.sleep(args.seconds)
        runtime.close()
        cpu, t1 = cpu_seconds() - cpu0, datetime.now(UTC)
        checks = bench.ticks_between(engine, t0, t1)
        figures |= {"expected_checks_per_s": args.services / args.interval, "checks": checks}
    else:
        from web.app import create_app

        runtime = Runtime.build(settings, url, CollectorRegistry(), with_poller=False)
        stack.callback(runtime.close)
        token = issue_access_token(user_id, signing_key(settings), 3600)
        app = create_app(runtime)
        client = stack.enter_context(app.test_client(headers={"Authorization": f"Bearer {token}"}))
        for _ in range(10):  # warm caches and imports before measuring
            client.get(bench.API_PATH)
        cpu0, began = cpu_seconds(), time.perf_counter()
        main.enable()
        for _ in range(args.requests):
            answer = client.get(bench.API_PATH)
            assert answer.status_code == 200, answer.text
        main.disable()
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - began
        stack.close()  # the portal thread ends, so its profile is complete
        checks = args.requests
        figures |= {"requests": checks, "wall_ms_per_request": round(1000 * wall / checks, 2)}
    threading.Thread.run = _thread_run  # type: ignore[method-assign]
    figures |= {"cpu_s": round(cpu, 2), "cpu_ms_per_unit": round(1000 * cpu / max(checks, 1), 3)}
    ended = [p for t, p in _profiles if (t is None or not t.is_alive()) and p.getstats()]
    figures["threads_profiled"] = len(ended)
    stats = pstats.Stats(*ended, stream=(out := io.StringIO()))
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    figures["profile"] = out.getvalue().replace(str(Path.cwd()) + "/", "")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the profile and print it."""

    def show(report: dict) -> str:
        profile = report.pop("profile")
        return "\n".join(f"{k}: {v}" for k, v in report.items()) + "\n" + profile

    return bench.run(measure, show, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
