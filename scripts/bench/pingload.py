"""The load generators of the ping benchmark (`pings.py`): `wrk` with a Lua script that rotates
over the ping URLs when wrk is installed, else a Python asyncio client on raw keep-alive
connections. Either runs as a child process of its own, so that its CPU is measured apart from
the benchmark's and the server's.

Both send *runs*: a finishing ping (`/ping/<key>`), preceded for a fraction of the runs
(`start_ratio`) by a start ping (`/ping/<key>/start`), over all keys in turn, from `clients`
persistent HTTP/1.1 connections spread over the API processes' ports; GET, or POST with a body
of `body_bytes` (a job's log). Latency runs from writing a request to having read its whole
answer.

- The Python client sends a run's start and finish pings one after the other on one connection,
  stops starting runs at the deadline and reads the answers of those in flight, so every
  request it sent is counted. It counts answers by ping kind and status.
- wrk's connections each take the next request from the rotation (a run's start and finish go
  out back to back on two connections); at the deadline it closes its connections with up to
  one request each in flight, which the server may still store. Its latency percentiles are
  over every answer (any status); its status counts come from the `response` hook.

    python scripts/bench/pingload.py CONFIG.json     # prints one JSON object (Python client)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadgen import _read_answer

USER_AGENT = "statuschecker-bench"
ROTATION_PINGS = 20_000  # a start-ratio rotation repeats after about this many pings
ANSWER_WITHIN_S = 30.0
WRK_MARK = "PINGLOAD-JSON "


@dataclass
class Plan:
    """What to send: the keys, how and to which ports."""

    ports: list[int]
    keys: list[str]
    clients: int
    seconds: float
    body_bytes: int = 0
    start_ratio: float = 0.0
    seed: int = 1

    def runs(self) -> list[list[str]]:
        """The rotation: each run is its ping paths, a start (sometimes) then the finish."""
        rng = random.Random(self.seed)
        rounds = 1 if self.start_ratio <= 0 else max(1, math.ceil(ROTATION_PINGS / len(self.keys)))
        found = []
        for _ in range(rounds):
            for key in self.keys:
                run = [f"/ping/{key}/start"] if rng.random() < self.start_ratio else []
                found.append([*run, f"/ping/{key}"])
        return found

    def body(self) -> bytes:
        """`body_bytes` of a plausible job log."""
        line = b"2024-01-01T03:00:00Z backup: copied 1234 files, 56 MB\n"
        return (line * (self.body_bytes // len(line) + 1))[: self.body_bytes]


@dataclass
class LoadOutcome:
    """What a load generator saw, in the same shape for wrk and the Python client."""

    tool: str
    seconds: float
    statuses: dict[str, dict[int, int]]  # ping kind ("start", "finish", "any") -> status -> n
    errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # p50/p90/p99/p999/max
    latency_of: str = "2xx answers"
    cpu_s: float = 0.0
    connections_opened: int = 0
    in_flight_at_stop: str = "none: answers of requests in flight were read"

    def count(self, ok: bool = True) -> int:
        """Answers counted, 2xx (ok) or not."""
        return sum(
            n
            for by_status in self.statuses.values()
            for status, n in by_status.items()
            if (200 <= status < 300) == ok
        )


def quantiles(sorted_s: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max of sorted seconds, in ms (nearest rank)."""

    def at(q: float) -> float | None:
        if not sorted_s:
            return None
        return round(1000 * sorted_s[min(len(sorted_s) - 1, math.ceil(q * len(sorted_s)) - 1)], 2)

    return {
        "p50": at(0.5),
        "p90": at(0.9),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(1000 * sorted_s[-1], 2) if sorted_s else None,
    }


# -- the Python client -------------------------------------------------------------------------


async def drive(plan: Plan) -> LoadOutcome:
    """Send runs round-robin from `plan.clients` keep-alive connections until the deadline;
    answers of requests in flight at the deadline are read and counted."""
    body = plan.body()
    method = "POST" if body else "GET"
    head = f"Host: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\n"
    if body:
        head += f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
    runs = [
        [(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body, _kind(path)) for path in run]
        for run in plan.runs()
    ]
    statuses: dict[str, dict[int, int]] = {"start": {}, "finish": {}}
    errors = {"connect": 0, "read": 0, "timeout": 0}
    latencies: list[float] = []
    opened = 0
    turn = 0
    clock = time.perf_counter
    deadline = clock() + plan.seconds

    async def connection(port: int) -> None:
        nonlocal opened, turn
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            while clock() < deadline:
                run = runs[turn % len(runs)]
                turn += 1
                for request, kind in run:
                    if writer is None:
                        try:
                            reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        except OSError:
                            errors["connect"] += 1
                            await asyncio.sleep(0.01)
                            break
                        opened += 1
                    assert reader is not None
                    began = clock()
                    writer.write(request)
                    try:
                        status, close = await asyncio.wait_for(
                            _read_answer(reader), ANSWER_WITHIN_S
                        )
                    except TimeoutError:
                        errors["timeout"] += 1
                        close = True
                    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                        errors["read"] += 1
                        close = True
                    else:
                        took = clock() - began
                        counts = statuses[kind]
                        counts[status] = counts.get(status, 0) + 1
                        if 200 <= status < 300:
                            latencies.append(took)
                    if close:
                        writer.close()
                        reader = writer = None
                        break  # the rest of this run is not sent
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    cpu0 = _cpu_self()
    began = clock()
    ports = [plan.ports[i % len(plan.ports)] for i in range(plan.clients)]
    await asyncio.gather(*(connection(port) for port in ports))
    seconds = clock() - began
    cpu = _cpu_self() - cpu0
    latencies.sort()
    return LoadOutcome(
        tool="Python asyncio client (raw sockets, keep-alive" + (", uvloop)" if _uvloop() else ")"),
        seconds=round(seconds, 3),
        statuses=statuses,
        errors=errors,
        latency_ms=quantiles(latencies),
        cpu_s=round(cpu, 3),
        connections_opened=opened,
    )


def _kind(path: str) -> str:
    return "start" if path.endswith("/start") else "finish"


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run_python_client(plan: Plan) -> LoadOutcome:
    """`drive` on uvloop when it is installed, else on asyncio's own loop."""
    if _uvloop():
        import uvloop

        return uvloop.run(drive(plan))
    return asyncio.run(drive(plan))


# -- wrk ---------------------------------------------------------------------------------------

WRK_SCRIPT = """\
-- written by scripts/bench/pingload.py: rotate over the ping runs, count answers by status
local ports = {ports}
local paths = {paths}
local rotation = {rotation}
local method = "{method}"
local body = {body}
local headers = {{["User-Agent"] = "{agent}"}}
if body ~= nil then headers["Content-Type"] = "text/plain" end
local threads = {{}}
local requests = {{}}
local at = 0
counts = {{}}

function setup(thread)
    local n = #threads
    thread:set("id", n)
    thread.addr = wrk.lookup("127.0.0.1", tostring(ports[n % #ports + 1]))[1]
    table.insert(threads, thread)
end

function init(args)
    for i, path in ipairs(paths) do
        requests[i] = wrk.format(method, path, headers, body)
    end
    at = (id * 7919) % #rotation  -- threads start at different places of the rotation
end

function request()
    at = at % #rotation + 1
    return requests[rotation[at]]
end

function response(status, headers, body)
    counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
    local parts = {{}}
    for _, thread in ipairs(threads) do
        for status, n in pairs(thread:get("counts")) do
            table.insert(parts, string.format('"%d": %d', status, n))
        end
    end
    local e = summary.errors
    io.write("{mark}", string.format(
        '{{"duration_us": %d, "requests": %d, "statuses": [{{%s}}], '
        .. '"errors": {{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}, '
        .. '"latency_us": {{"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}}}}\\n',
        summary.duration, summary.requests, table.concat(parts, "}}, {{"),
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max))
end
"""


def wrk_path() -> str | None:
    """The wrk executable, if installed."""
    return shutil.which("wrk")


def wrk_script(plan: Plan) -> str:
    """The Lua script that makes wrk send `plan`'s runs."""
    runs = plan.runs()
    paths = sorted({path for run in runs for path in run})
    index = {path: i + 1 for i, path in enumerate(paths)}
    rotation = [index[path] for run in runs for path in run]
    body = plan.body()
    return WRK_SCRIPT.format(
        ports=_lua_list(plan.ports),
        paths=_lua_list(paths),
        rotation=_lua_list(rotation),
        method="POST" if body else "GET",
        body=_lua_string(body.decode()) if body else "nil",
        agent=f"{USER_AGENT}/wrk",
        mark=WRK_MARK,
    )


def _lua_list(values: Sequence[object]) -> str:
    items = (_lua_string(v) if isinstance(v, str) else str(v) for v in values)
    return "{" + ",".join(items) + "}"


def _lua_string(value: str) -> str:
    return json.dumps(value)  # ASCII with \\ and \" escapes: valid Lua too


def wrk_argv(exe: str, plan: Plan, script: Path) -> list[str]:
    """The wrk command line: one thread per API process, `clients` connections in all."""
    threads = min(len(plan.ports), plan.clients)
    return [
        exe,
        "--threads", str(threads),
        "--connections", str(plan.clients),
        "--duration", f"{max(1, round(plan.seconds))}s",
        "--timeout", f"{ANSWER_WITHIN_S:g}s",
        "--script", str(script),
        f"http://127.0.0.1:{plan.ports[0]}/",
    ]  # fmt: skip


def wrk_outcome(stdout: str, cpu_s: float, plan: Plan) -> LoadOutcome:
    """wrk's printed JSON line as a LoadOutcome."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith(WRK_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result: {stdout[-500:]!r}")
    found: dict[str, Any] = json.loads(line[len(WRK_MARK) :])
    statuses: dict[int, int] = {}
    for counts in found["statuses"]:
        for status, n in counts.items():
            statuses[int(status)] = statuses.get(int(status), 0) + n
    latency = {k: round(v / 1000, 2) for k, v in found["latency_us"].items()}
    errors = {k: v for k, v in found["errors"].items() if k != "status"}
    return LoadOutcome(
        tool="wrk (keep-alive, Lua rotation over the ping URLs)",
        seconds=round(found["duration_us"] / 1e6, 3),
        statuses={"any": statuses},
        errors=errors,
        latency_ms=latency,
        latency_of="every answer (wrk measures all statuses alike)",
        cpu_s=round(cpu_s, 3),
        connections_opened=plan.clients,  # wrk reconnects only after errors
        in_flight_at_stop=f"up to {plan.clients} (wrk closes its connections at the deadline)",
    )


def run_wrk(exe: str, plan: Plan, workdir: Path, popen: Any) -> LoadOutcome:
    """Run wrk as a child through `popen(argv, **kwargs)` (which owns its clean-up); its CPU is
    what this process's reaped children used meanwhile."""
    script = workdir / "pings.lua"
    script.write_text(wrk_script(plan))
    before = _cpu_children()
    proc = popen(wrk_argv(exe, plan, script), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=plan.seconds + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {err.decode()[-500:]}")
    return wrk_outcome(out.decode(), _cpu_children() - before, plan)


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_python_child(plan: Plan, workdir: Path, popen: Any) -> LoadOutcome:
    """This file as a child process running the Python client on `plan`."""
    config = workdir / "plan.json"
    config.write_text(json.dumps(plan.__dict__))
    argv = [sys.executable, str(Path(__file__).resolve()), str(config)]
    proc = popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=plan.seconds + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"the Python client exited with {proc.returncode}: {err.decode()}")
    found = json.loads(out)
    found["statuses"] = {
        kind: {int(s): n for s, n in counts.items()} for kind, counts in found["statuses"].items()
    }
    return LoadOutcome(**found)


def main(argv: list[str]) -> int:
    """Run the Python client on the plan in the JSON file `argv[0]`, print the outcome."""
    plan = Plan(**json.loads(Path(argv[0]).read_text()))
    print(json.dumps(run_python_client(plan).__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
