"""Micro-benchmark of the HTTP check: K checks at a time, flat out, against a local target, for
each implementation compared; prints checks/s and CPU ms per check.

    python scripts/bench/http_check.py
    python scripts/bench/http_check.py --only check,check@REV --loops asyncio --rounds 5
    python scripts/bench/http_check.py --rev 50e4d06 --concurrency 50 --seconds 10

Implementations:

* `check`: `statuschecker.checks.http.check` of this checkout;
* `check@REV`: the same at git revision `--rev` (default HEAD): `git archive` of
  `statuschecker/` into a temporary directory, first on the child's path;
* `httpcore`: httpcore without httpx, an `AsyncHTTPConnection` per check (anyio network
  backend), timed by its `trace` extension;
* `aiohttp`: one `ClientSession` for all checks, a connection per check (`force_close`), timed
  by `TraceConfig` hooks (skipped unless aiohttp is installed: statuschecker does not need it);
* `h11`: h11 over asyncio streams, nothing of statuschecker's: the floor of that approach.

The candidates do the check's protocol work only (a GET with the check's headers, connect and
first-byte times, the body read up to `max_body_bytes`, the connection closed), none of its
bookkeeping (expectations, policy, error naming), so `check` against `h11` is what that costs.

Each implementation runs on each event loop (`--loops`: asyncio, uvloop) in a child process of
its own, so that its CPU is its own (`time.process_time`, every thread), and the target (nginx
with one worker, else target.py) is another process. A child warms up for `--warmup` seconds,
then counts the checks that finish within `--seconds`. `--rounds` repeats the whole set, the
children of a round in turn, and the table gives each one's median (and range); "others" is
the CPU the rest of the machine used meanwhile, in cores (kernel work on the connections that
is charged to no process included), to tell a quiet run from a disturbed one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procstat
import servers

ROOT = Path(__file__).resolve().parents[2]
IMPLEMENTATIONS = ("check@REV", "check", "httpcore", "aiohttp", "h11")
LOOPS = ("asyncio", "uvloop")
MAX_BODY_BYTES = 1_048_576  # CheckLimits' default
TIMEOUT_SECONDS = 10.0
# The headers the check sends (httpx's defaults, the engine's User-Agent).
HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": "statuschecker",
}

Probe = Callable[[str], Awaitable[int]]
"""One check of a URL: its status code."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=50, help="checks at a time (K)")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured start per run")
    parser.add_argument("--rounds", type=int, default=3, help="times the whole set runs")
    parser.add_argument("--rev", default="HEAD", help="git revision of check@REV")
    parser.add_argument("--only", help="comma-separated implementations (default: all)")
    parser.add_argument("--loops", default=",".join(LOOPS), help="comma-separated event loops")
    parser.add_argument("--python-target", action="store_true", help="target.py, not nginx")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # implementation to run, in a child
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--loop", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- the implementations, run in a child process --------------------------------------------


@contextlib.asynccontextmanager
async def check_probe() -> AsyncIterator[Probe]:
    """statuschecker's check, from whichever `statuschecker` the child imports."""
    from statuschecker.checks import http
    from statuschecker.model import CheckSpec

    async def probe(url: str) -> int:
        result = await http.check(CheckSpec(url, TIMEOUT_SECONDS))
        if not result.up or result.status_code is None:
            raise RuntimeError(result.error)
        return result.status_code

    yield probe


@contextlib.asynccontextmanager
async def httpcore_probe() -> AsyncIterator[Probe]:
    """httpcore's HTTP/1.1 connection without httpx: one per check, timed by trace events."""
    import httpcore

    async def probe(url: str) -> int:
        marks: dict[str, float] = {}

        async def trace(event: str, info: dict[str, Any]) -> None:
            marks[event] = time.perf_counter()

        parsed = httpcore.URL(url)
        origin = httpcore.Origin(parsed.scheme, parsed.host, parsed.port or 80)
        async with (
            httpcore.AsyncHTTPConnection(origin, keepalive_expiry=0) as connection,
            connection.stream(
                "GET", parsed, headers=list(HEADERS.items()), extensions={"trace": trace}
            ) as r,
        ):
            await _read_bounded(r.aiter_stream())
            return r.status

    yield probe


@contextlib.asynccontextmanager
async def aiohttp_probe() -> AsyncIterator[Probe]:
    """aiohttp: one session, a new connection per request, timed by TraceConfig hooks."""
    import aiohttp

    async def mark(_: Any, context: Any, __: Any) -> None:
        context.trace_request_ctx["marks"].append(time.perf_counter())

    traces = aiohttp.TraceConfig()
    for hook in (
        traces.on_request_start,
        traces.on_connection_create_start,
        traces.on_connection_create_end,
        traces.on_request_headers_sent,
    ):
        hook.append(mark)
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[traces]) as session:

        async def probe(url: str) -> int:
            async with session.get(
                url, headers=HEADERS, allow_redirects=False, trace_request_ctx={"marks": []}
            ) as response:
                await _read_bounded(response.content.iter_any())
                return response.status

        yield probe


@contextlib.asynccontextmanager
async def h11_probe() -> AsyncIterator[Probe]:
    """h11 over asyncio streams: a connection per check, timed around each step."""
    import h11

    async def probe(url: str) -> int:
        host, _, rest = url.removeprefix("http://").partition("/")
        address, _, port = host.partition(":")
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(address, int(port or 80))
        marks = [started, time.perf_counter()]
        try:
            connection = h11.Connection(h11.CLIENT)
            request = h11.Request(
                method="GET", target=f"/{rest}", headers=[("Host", host), *HEADERS.items()]
            )
            writer.write(b"".join(connection.send(e) or b"" for e in (request, h11.EndOfMessage())))
            status, received = 0, 0
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    marks.append(time.perf_counter())
                elif isinstance(event, h11.Data):
                    received += len(event.data)
                    if received > MAX_BODY_BYTES:
                        return status
                else:
                    return status
        finally:
            writer.transport.abort()

    yield probe


async def _read_bounded(chunks: Any) -> int:
    """Read chunks up to just past MAX_BODY_BYTES; how many bytes were read."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > MAX_BODY_BYTES:
            break
    return received


PROBES: dict[str, Callable[[], contextlib.AbstractAsyncContextManager[Probe]]] = {
    "check": check_probe,
    "check@REV": check_probe,
    "httpcore": httpcore_probe,
    "aiohttp": aiohttp_probe,
    "h11": h11_probe,
}


async def hammer(probe: Probe, url: str, concurrency: int, warmup: float, seconds: float) -> dict:
    """Run `concurrency` loops of checks: `warmup` seconds, then a measured window (announced
    on stdout as "window"); the checks finished in it, the CPU and wall time it took."""
    loop = asyncio.get_running_loop()
    window_start = loop.time() + warmup
    window_end = window_start + seconds
    counted = failed = 0
    errors: set[str] = set()

    async def worker() -> None:
        nonlocal counted, failed
        while loop.time() < window_end:
            try:
                status = await probe(url)
            except Exception as exc:
                failed += 1
                errors.add(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if status != 200:
                failed += 1
                errors.add(f"status {status}")
            elif window_start <= loop.time() < window_end:
                counted += 1

    async def clock() -> tuple[float, float, float, float]:
        await asyncio.sleep(warmup)
        print("window", flush=True)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(window_end - loop.time())
        return cpu, wall, time.process_time(), time.perf_counter()

    timer = asyncio.create_task(clock())
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu0, wall0, cpu1, wall1 = await timer
    return {
        "checks": counted,
        "failed": failed,
        "errors": sorted(errors)[:3],
        "cpu_s": cpu1 - cpu0,
        "wall_s": wall1 - wall0,
    }


async def measure(args: argparse.Namespace) -> dict:
    """`hammer` with the implementation the child runs."""
    async with PROBES[args.child]() as probe:
        return await hammer(probe, args.url, args.concurrency, args.warmup, args.seconds)


def child(args: argparse.Namespace) -> None:
    """Run one implementation on one loop and print its figures as JSON."""
    work = measure(args)
    if args.loop == "uvloop":
        import uvloop

        figures = uvloop.run(work)
    else:
        figures = asyncio.run(work)
    if args.child.startswith("check"):
        figures["module"] = sys.modules["statuschecker.checks.http"].__file__
    print(json.dumps(figures), flush=True)


# -- the parent: target, children, table ---------------------------------------------------


@dataclass
class Run:
    """One child's figures, with the CPU the rest of the machine used during its window."""

    implementation: str
    loop: str
    checks: int
    failed: int
    cpu_s: float
    wall_s: float
    others_cores: float
    errors: list[str]
    module: str | None  # where the child found statuschecker's check

    @property
    def per_second(self) -> float:
        """Checks finished per second of the window."""
        return self.checks / self.wall_s

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per check."""
        return self.cpu_s * 1000.0 / max(self.checks, 1)


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / procstat.CLOCK_TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its reaped children."""
    proc = procstat.read(pid)
    return 0.0 if proc is None else proc.own_s + proc.reaped_s


def revision_tree(stack: contextlib.ExitStack, rev: str) -> Path:
    """A temporary directory holding `statuschecker/` as it is at git revision `rev`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "statuschecker"],
        check=True,
        capture_output=True,
    ).stdout
    path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="http-check-rev-")))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(path, filter="data")
    return path


def run_child(
    args: argparse.Namespace, implementation: str, loop: str, url: str, target_pid: int, env: dict
) -> Run:
    """One child: its figures, and the machine's other CPU during its window."""
    argv = [
        sys.executable, __file__, "--child", implementation, "--url", url, "--loop", loop,
        "--concurrency", str(args.concurrency), "--seconds", str(args.seconds),
        "--warmup", str(args.warmup),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    with proc:
        line = proc.stdout.readline()
        if line.strip() != "window":
            raise RuntimeError(f"{implementation} on {loop} did not start: {line!r}")
        busy0, own0, target0 = (
            busy_cpu_seconds(),
            tree_cpu_seconds(proc.pid),
            tree_cpu_seconds(target_pid),
        )
        wall0 = time.perf_counter()
        last = proc.stdout.readline()
        busy1, own1, target1 = (
            busy_cpu_seconds(),
            tree_cpu_seconds(proc.pid),
            tree_cpu_seconds(target_pid),
        )
        wall1 = time.perf_counter()
    if proc.returncode or not last:
        raise RuntimeError(f"{implementation} on {loop} failed (exit code {proc.returncode})")
    figures = json.loads(last)
    others = (busy1 - busy0) - (own1 - own0) - (target1 - target0)
    return Run(
        implementation=implementation,
        loop=loop,
        checks=figures["checks"],
        failed=figures["failed"],
        cpu_s=figures["cpu_s"],
        wall_s=figures["wall_s"],
        others_cores=max(others, 0.0) / (wall1 - wall0),
        errors=figures["errors"],
        module=figures.get("module"),
    )


def available(implementation: str) -> bool:
    """Whether the library an implementation needs is installed here."""
    needs = {"httpcore": "httpcore", "aiohttp": "aiohttp", "h11": "h11"}.get(implementation)
    if needs is None:
        return True
    try:
        __import__(needs)
    except ImportError:
        return False
    return True


def summarise(runs: list[Run], baseline: tuple[str, str]) -> list[dict]:
    """One row per implementation and loop: medians over the rounds, ranges, and the CPU per
    check relative to `baseline` (implementation, loop)."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.implementation, run.loop), []).append(run)
    base = groups.get(baseline)
    base_ms = statistics.median(r.cpu_ms for r in base) if base else None
    rows = []
    for (implementation, loop), group in groups.items():
        cpu_ms = [r.cpu_ms for r in group]
        rows.append(
            {
                "implementation": implementation,
                "loop": loop,
                "checks_per_s": statistics.median(r.per_second for r in group),
                "cpu_ms_per_check": statistics.median(cpu_ms),
                "cpu_ms_min": min(cpu_ms),
                "cpu_ms_max": max(cpu_ms),
                "checks_per_cpu_s": 1000.0 / statistics.median(cpu_ms),
                "vs_baseline": None if base_ms is None else base_ms / statistics.median(cpu_ms),
                "failed": sum(r.failed for r in group),
                "others_cores": statistics.median(r.others_cores for r in group),
                "errors": sorted({e for r in group for e in r.errors})[:3],
            }
        )
    return rows


def table(rows: list[dict], baseline: str) -> str:
    """The rows as a text table."""
    head = (
        f"{'implementation':<20} {'loop':<8} {'checks/s':>9} {'CPU ms/check':>13} "
        f"{'(range)':>13} {'checks/CPU-s':>13} {'vs ' + baseline:>16} {'failed':>7} "
        f"{'others':>7}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        ratio = "" if row["vs_baseline"] is None else f"{row['vs_baseline']:.2f}x"
        spread = f"{row['cpu_ms_min']:.3f}-{row['cpu_ms_max']:.3f}"
        lines.append(
            f"{row['implementation']:<20} {row['loop']:<8} {row['checks_per_s']:>9.0f} "
            f"{row['cpu_ms_per_check']:>13.3f} {spread:>13} {row['checks_per_cpu_s']:>13.0f} "
            f"{ratio:>16} {row['failed']:>7} {row['others_cores']:>6.2f}c"
        )
        lines.extend(f"    error: {error}" for error in row["errors"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Start the target, run every implementation on every loop for each round, print."""
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    chosen = args.only.split(",") if args.only else list(IMPLEMENTATIONS)
    unknown = set(chosen) - set(IMPLEMENTATIONS)
    if unknown:
        raise SystemExit(f"unknown implementations: {', '.join(sorted(unknown))}")
    loops = args.loops.split(",")
    skipped = [name for name in chosen if not available(name)]
    chosen = [name for name in chosen if name not in skipped]
    rev_name = f"check@{args.rev}"
    with contextlib.ExitStack() as stack:
        target = servers.start_target(stack, use_nginx=not args.python_target)
        url = f"http://127.0.0.1:{target.port}/s/1"
        envs = {name: dict(os.environ) for name in chosen}
        if "check@REV" in envs:
            tree = revision_tree(stack, args.rev)
            envs["check@REV"]["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(tree), os.environ.get("PYTHONPATH")])
            )
        print(
            f"target: {target.name} on 127.0.0.1:{target.port}; GET {url}; "
            f"{args.concurrency} checks at a time; {args.warmup:g} s warm-up + {args.seconds:g} s "
            f"window per run; {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if skipped:
            print(f"skipped (library not installed): {', '.join(skipped)}")
        runs = []
        for round_ in range(args.rounds):
            for implementation in chosen:
                for loop in loops:
                    run = run_child(
                        args, implementation, loop, url, target.pid, envs[implementation]
                    )
                    run.implementation = (
                        rev_name if implementation == "check@REV" else run.implementation
                    )
                    runs.append(run)
                    print(
                        f"  round {round_ + 1}: {run.implementation} on {loop}: "
                        f"{run.per_second:.0f} checks/s, {run.cpu_ms:.3f} CPU ms/check, "
                        f"others {run.others_cores:.2f} cores"
                        + (f" ({run.module})" if run.module and round_ == 0 else ""),
                        flush=True,
                    )
    baseline = rev_name if "check@REV" in chosen else chosen[0]
    rows = summarise(runs, (baseline, loops[0]))
    print()
    print(table(rows, f"{baseline} {loops[0]}"))
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
