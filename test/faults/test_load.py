"""Load: the API under sustained concurrent requests while the poller runs flat out.

One runtime polls a few hundred services at a 1 s interval against a local target and serves
the API over HTTP (uvicorn on 127.0.0.1, in this process, as `statuschecker run` does). Then
concurrent keep-alive clients, acting as the services' owner, send a mix of GET requests
(services list, one service, its stats, its events, the status list) in two windows: first
paced at a steady rate, then back to back, as fast as the API answers. In neither may a
request fail or answer 5xx. The request rate and the latency of each kind of request are
reported, and so is the poller's work meanwhile: the ticks stored in each window against the
slots due in it. Paced, the poller must keep its rate; flat out, the API and the poller share
one interpreter (and here two cores with the database, the target and the clients), so the
poller's share is reported and only required to show that it kept recording.

The target and the clients run in processes of their own: in this one they would take turns
with the API and the poller for the interpreter's lock, and the figures would be theirs.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import httpx
from accounts import Account
from figures import quantile
from sqlalchemy import func, select, text
from targets import target_process

from statuschecker.runtime import Runtime
from statuschecker.store.tables import service_ticks
from web.app import create_app

SERVICES = 200
INTERVAL = 1  # seconds
CLIENTS = 24
PACED_RATE = 50.0  # requests per second, all clients together
WINDOW_SECONDS = 12.0  # each window
WINDOWS: tuple[float | None, ...] = (PACED_RATE, None)  # requests/s; None: back to back
WARMUP_SECONDS = 3.0  # the first checks of every service
REQUEST_TIMEOUT = 30.0  # a request slower than this counts as an error
# The share of due slots the poller must have served: with the API paced, about all of them
# (a loaded CI machine may delay a few); with the API flat out, enough to show it was not
# stalled (a stalled poller serves none).
MIN_TICK_SHARE_PACED = 0.85
MIN_TICK_SHARE_FLAT_OUT = 0.3


def register(runtime: Runtime, account: Account, url: str) -> list[int]:
    """Register the account's services, first checks spread over one interval from a second
    on; their ids."""
    ids = [
        runtime.services.register(account.caller, f"load-{i:04d}", url, INTERVAL, 1.0).id
        for i in range(SERVICES)
    ]
    with runtime.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE services SET next_check_at = now() + make_interval(secs => 1 + "
                ":interval * (numbered.n - 1) / :count) FROM (SELECT id, row_number() OVER "
                "(ORDER BY id) AS n FROM services) AS numbered WHERE services.id = numbered.id"
            ),
            {"interval": INTERVAL, "count": SERVICES},
        )
    return ids


def requests(ids: list[int]) -> Callable[[int], tuple[str, str]]:
    """The mix of GET requests: (kind, path) of the n-th request of a client."""
    kinds: list[tuple[str, Callable[[int], str]]] = [
        ("services", lambda i: "/v1/services?limit=50"),
        ("service", lambda i: f"/v1/services/{ids[i % len(ids)]}"),
        ("stats", lambda i: f"/v1/services/{ids[i % len(ids)]}/stats?window_seconds=600"),
        ("status", lambda i: "/v1/status?limit=100"),
        ("events", lambda i: f"/v1/services/{ids[i % len(ids)]}/events?limit=20"),
    ]

    def request(n: int) -> tuple[str, str]:
        kind, path = kinds[n % len(kinds)]
        return kind, path(n // len(kinds))

    return request


class Load:
    """What the clients saw in one window: latencies by kind of request, statuses, errors,
    and when they started and stopped sending."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.started_at = self.ended_at = datetime.now(UTC)

    @property
    def seconds(self) -> float:
        """How long the clients sent."""
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def done(self) -> int:
        """Requests answered."""
        return sum(self.statuses.values())

    def figures(self) -> dict[str, object]:
        """Request rate and latency, over all requests and by kind."""
        every = [latency for latencies in self.latencies.values() for latency in latencies]
        figures: dict[str, object] = {
            "clients": CLIENTS,
            "offered_per_s": "as fast as answered" if self.rate is None else self.rate,
            "requests": self.done,
            "requests_per_s": self.done / self.seconds,
            "p50_ms": quantile(every, 0.50) * 1000,
            "p95_ms": quantile(every, 0.95) * 1000,
            "p99_ms": quantile(every, 0.99) * 1000,
            "errors": sum(self.errors.values()),
            "5xx": sum(count for status, count in self.statuses.items() if status >= 500),
        }
        for kind, latencies in sorted(self.latencies.items()):
            p50, p99 = quantile(latencies, 0.50) * 1000, quantile(latencies, 0.99) * 1000
            figures[f"{kind}_p50/p99_ms"] = f"{p50:.0f}/{p99:.0f}"
        return figures


def drive_elsewhere(base_url: str, headers: dict[str, str], ids: list[int]) -> list[Load]:
    """`drive` each of `WINDOWS` in turn, in a process of their own; what the clients saw."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_drive_in_process,
        args=(base_url, headers, ids, theirs),
        name="load-clients",
        daemon=True,
    )
    process.start()
    try:
        if not ours.poll(len(WINDOWS) * WINDOW_SECONDS + 60):
            raise AssertionError("the load clients did not report within a minute of their end")
        loads: list[Load] = ours.recv()
        return loads
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=10)
        ours.close()


def _drive_in_process(
    base_url: str, headers: dict[str, str], ids: list[int], conn: Connection
) -> None:
    async def windows() -> list[Load]:
        return [await drive(base_url, headers, ids, rate) for rate in WINDOWS]

    conn.send(asyncio.run(windows()))


async def drive(base_url: str, headers: dict[str, str], ids: list[int], rate: float | None) -> Load:
    """`CLIENTS` keep-alive clients sending the request mix for `WINDOW_SECONDS`, `rate`
    requests per second in all (each client its share, on a fixed schedule; one that falls
    behind sends back to back) or, with no rate, each back to back."""
    load = Load(rate)
    request = requests(ids)
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    period = 0.0 if rate is None else CLIENTS / rate  # between two requests of one client

    async with httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        limits=limits,
        timeout=REQUEST_TIMEOUT,
        trust_env=False,
    ) as client:
        load.started_at = datetime.now(UTC)
        began = time.perf_counter()
        deadline = began + WINDOW_SECONDS

        async def client_loop(number: int) -> None:
            next_at = began + period * number / CLIENTS
            for n in itertools.count(number * 7):  # ends at the deadline
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                if time.perf_counter() >= deadline:
                    return
                next_at += period
                kind, path = request(n)
                sent = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    load.errors[f"{kind}: {type(exc).__name__}"] += 1
                    continue
                load.latencies[kind].append(time.perf_counter() - sent)
                load.statuses[response.status_code] += 1
                if response.status_code != 200:
                    load.errors[f"{kind}: status {response.status_code}"] += 1

        await asyncio.gather(*(client_loop(i) for i in range(CLIENTS)))
        load.ended_at = datetime.now(UTC)
    return load


def ticks_between(runtime: Runtime, ids: list[int], t0: datetime, t1: datetime) -> int:
    """Ticks of these services checked in [t0, t1)."""
    t = service_ticks.c
    query = (
        select(func.count())
        .select_from(service_ticks)
        .where(t.service_id.in_(ids), t.checked_at >= t0, t.checked_at < t1)
    )
    with runtime.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_api_under_concurrent_load_while_the_poller_runs_flat_out(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    account: Account,
    fault_report: Callable[..., None],
) -> None:
    runtime = make_runtime(with_poller=True)
    with target_process("up") as target_url:
        ids = register(runtime, account, target_url)
        base_url = serve(create_app(runtime))  # its lifespan starts the poller
        time.sleep(WARMUP_SECONDS)
        loads = drive_elsewhere(base_url, account.headers, ids)
        time.sleep(2 * INTERVAL)  # checks of the last window's last slots get written
        assert runtime.poller is not None
        runtime.poller.stop()

    failures = []
    for load in loads:
        ticks = ticks_between(runtime, ids, load.started_at, load.ended_at)
        expected = SERVICES * load.seconds / INTERVAL
        paced = load.rate is not None
        fault_report(
            f"load: API {'paced' if paced else 'flat out'}, poller busy",
            **load.figures(),
            ticks_per_s_expected=expected / load.seconds,
            ticks_per_s_achieved=ticks / load.seconds,
        )
        if load.done == 0 or load.errors:
            failures.append(f"{load.rate=}: {load.done} answered, errors {dict(load.errors)}")
        if any(status >= 500 for status in load.statuses):
            failures.append(f"{load.rate=}: statuses {dict(load.statuses)}")
        least = MIN_TICK_SHARE_PACED if paced else MIN_TICK_SHARE_FLAT_OUT
        if ticks < least * expected:
            failures.append(f"{load.rate=}: {ticks} ticks of {expected:.0f} due")
    assert not failures, failures
