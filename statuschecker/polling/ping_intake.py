"""The API's intake of heartbeat pings: each request waits until its ping is committed, and
the pings that arrive while one transaction runs go together in the next (group commit), so a
burst costs a few transactions instead of one per ping."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from typing import Literal

import structlog
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.errors import database_unreachable
from statuschecker.metrics.pings import PingMetrics
from statuschecker.model import Ping
from statuschecker.polling.recorder import Recorder

log = structlog.get_logger(__name__)

MAX_BATCH = 1000  # pings in one transaction at the most


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of a ping: recorded (`ok`, also for a paused service), `unknown` key,
    `limited` (retry after `retry_after` seconds), or `unavailable` (the database failed)."""

    outcome: Literal["ok", "unknown", "limited", "unavailable"]
    retry_after: int = 0


OK = Answer("ok")
UNKNOWN = Answer("unknown")
UNAVAILABLE = Answer("unavailable")


class PingIntake:
    """Records pings in batches on the event loop it is first used from, one transaction at
    a time, after a per-key rate limit (in memory: per process)."""

    def __init__(self, recorder: Recorder, rate_limit: str, metrics: PingMetrics) -> None:
        self._recorder = recorder
        self._metrics = metrics
        self._limit = parse(rate_limit)
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._pending: list[tuple[Ping, asyncio.Future[Answer]]] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task | None = None

    async def submit(self, ping: Ping) -> Answer:
        """Record `ping` with the others pending; its answer once their transaction ends."""
        started = time.perf_counter()
        answer = await self._answer(ping)
        self._metrics.answered.labels(answer.outcome).inc()
        if answer.outcome != "limited":
            self._metrics.wait.observe(time.perf_counter() - started)
        return answer

    async def _answer(self, ping: Ping) -> Answer:
        if not self._limiter.hit(self._limit, "ping", ping.key):
            reset = self._limiter.get_window_stats(self._limit, "ping", ping.key).reset_time
            return Answer("limited", max(1, math.ceil(reset - time.time())))
        if self._writer is None or self._writer.get_loop() is not asyncio.get_running_loop():
            # The first ping on this loop (a server has one; tests may start several).
            self._wake = asyncio.Event()
            self._writer = asyncio.create_task(self._write_loop())
        assert self._wake is not None
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append((ping, answer))
        self._wake.set()
        return await answer

    async def close(self) -> None:
        """Write what is pending, then stop."""
        if self._writer is None or self._writer.get_loop() is not asyncio.get_running_loop():
            return
        await self._write_pending()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def _write_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._write_pending()

    async def _write_pending(self) -> None:
        """Write the pending pings, `MAX_BATCH` at a time; those arriving meanwhile wait for
        the next transaction."""
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            known = await asyncio.to_thread(self._record, [p for p, _ in batch])
            for (_, answer), found in zip(batch, known, strict=True):
                if not answer.done():  # its request may have gone (client disconnected)
                    answer.set_result(UNAVAILABLE if found is None else OK if found else UNKNOWN)

    def _record(self, pings: list[Ping]) -> list[bool | None]:
        """For each ping whether its key is known, None if it could not be recorded. A batch
        the database refuses for its content is recorded one ping at a time, so that one bad
        ping cannot keep the others out; none is while the database is out of reach."""
        try:
            return list(self._recorder.record_pings(pings))
        except SQLAlchemyError as exc:
            if len(pings) > 1 and not database_unreachable(exc):
                return [found for ping in pings for found in self._record([ping])]
            log.warning("pings.unrecorded", count=len(pings), error=str(exc).splitlines()[0])
            return [None] * len(pings)
