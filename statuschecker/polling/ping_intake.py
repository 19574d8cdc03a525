"""The API's intake of heartbeat pings: pings are stored in batches (group commit: those that
arrive while one batch is stored go together in the next) and judged behind them, so a burst
costs a few short transactions to store and a few large ones to judge.

A ping is answered once stored. While the judge's runs are small (the server is not busy),
the answer also waits for a judge run that began after the ping was stored, so that a lone
ping's answer means its heartbeat's status has moved; under load, answers come once stored
and the judge catches up in large batches.
"""

from __future__ import annotations

import asyncio
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

MAX_BATCH = 1000  # pings stored by one transaction at the most
JUDGE_SERVICES = 200  # heartbeats judged by one transaction at the most
RETRY_SECONDS = 1.0  # how soon a judge that failed tries again
QUIET_SERVICES = 10  # a judge run over at most this many heartbeats: not busy (see PingIntake)


@dataclass(frozen=True, slots=True)
class Answer:
    """What became of a ping: stored (`ok`, also for a paused service, which ignores it),
    `unknown` key, `limited` (retry after `retry_after` seconds), or `unavailable` (the
    database failed)."""

    outcome: Literal["ok", "unknown", "limited", "unavailable"]
    retry_after: int = 0


OK = Answer("ok")
UNKNOWN = Answer("unknown")
UNAVAILABLE = Answer("unavailable")

_Waiting = list[tuple[asyncio.Future[Answer], Answer]]


class PingIntake:
    """Stores and judges pings on the event loop it is first used from (a server has one;
    tests may start several), after a per-key rate limit (in memory: per process)."""

    def __init__(self, recorder: Recorder, rate_limit: str, metrics: PingMetrics) -> None:
        self._recorder = recorder
        self._metrics = metrics
        self._limit = parse(rate_limit)
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._pending: list[tuple[Ping, asyncio.Future[Answer]]] = []
        self._waiting: _Waiting = []  # answers given once the judge has run over them
        self._busy = False  # the judge's last run was over more than QUIET_SERVICES
        self._store_now: asyncio.Event | None = None
        self._judge_now: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    async def submit(self, ping: Ping) -> Answer:
        """Store `ping` with the others pending; its answer once stored (and judged, when the
        judge was idle)."""
        started = time.perf_counter()
        answer = await self._answer(ping)
        self._metrics.answered.labels(answer.outcome).inc()
        if answer.outcome != "limited":
            self._metrics.wait.observe(time.perf_counter() - started)
        return answer

    async def close(self) -> None:
        """Store what is pending and judge what is stored, then stop."""
        if not self._on_this_loop():
            return
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._store_pending()
        await self._judge()

    async def _answer(self, ping: Ping) -> Answer:
        if not self._limiter.hit(self._limit, "ping", ping.key):
            reset = self._limiter.get_window_stats(self._limit, "ping", ping.key).reset_time
            return Answer("limited", max(1, math.ceil(reset - time.time())))
        if not self._on_this_loop():
            self._store_now, self._judge_now = asyncio.Event(), asyncio.Event()
            self._tasks = [
                asyncio.create_task(self._store_loop()),
                asyncio.create_task(self._judge_loop()),
            ]
        assert self._store_now is not None
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending.append((ping, answer))
        self._store_now.set()
        return await answer

    def _on_this_loop(self) -> bool:
        """Whether the intake's tasks run on the running event loop."""
        return bool(self._tasks) and self._tasks[0].get_loop() is asyncio.get_running_loop()

    async def _store_loop(self) -> None:
        assert self._store_now is not None
        while True:
            await self._store_now.wait()
            self._store_now.clear()
            await self._store_pending()

    async def _store_pending(self) -> None:
        """Store the pending pings, `MAX_BATCH` at a time, and have the judge run over them;
        their answers now if it is busy, else once a run that began after them has ended."""
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            known = await asyncio.to_thread(self._store, [p for p, _ in batch])
            stored = [
                (future, UNAVAILABLE if found is None else OK if found else UNKNOWN)
                for (_, future), found in zip(batch, known, strict=True)
            ]
            if self._busy or self._judge_now is None:
                _give(stored)
            else:
                self._waiting += stored
            if self._judge_now is not None:
                self._judge_now.set()

    def _store(self, pings: list[Ping]) -> list[bool | None]:
        """For each ping whether its key is known, None if it could not be stored. A batch
        the database refuses for its content is stored one ping at a time, so that one bad
        ping cannot keep the others out; none is while the database is out of reach."""
        try:
            return list(self._recorder.accept_pings(pings))
        except SQLAlchemyError as exc:
            if len(pings) > 1 and not database_unreachable(exc):
                return [found for ping in pings for found in self._store([ping])]
            log.warning("pings.unstored", count=len(pings), error=str(exc).splitlines()[0])
            return [None] * len(pings)

    async def _judge_loop(self) -> None:
        assert self._judge_now is not None
        while True:
            await self._judge_now.wait()
            self._judge_now.clear()
            waiting, self._waiting = self._waiting, []
            try:
                judged = await self._judge_once()
                _give(waiting)  # stored before that run began: judged by it
                total = judged or 0
                while judged:  # more may have been stored meanwhile
                    judged = await self._judge_once()
                    total += judged or 0
                self._busy = total > QUIET_SERVICES
                if judged is None:
                    await asyncio.sleep(RETRY_SECONDS)
                    self._judge_now.set()
            finally:
                _give(waiting)

    async def _judge(self) -> None:
        """Judge the stored pings until none is left or the database fails."""
        while await self._judge_once():
            pass

    async def _judge_once(self) -> int | None:
        """Judge the stored pings of up to `JUDGE_SERVICES` heartbeats (those another process
        is judging are left to it); how many, or None if the database failed (they wait for
        the next run)."""
        try:
            return await asyncio.to_thread(self._recorder.judge_pings, JUDGE_SERVICES)
        except SQLAlchemyError as exc:
            log.warning("pings.unjudged", error=str(exc).splitlines()[0])
            return None


def _give(answers: _Waiting) -> None:
    """Answer the pings whose requests are still there (a client may have gone)."""
    for future, answer in answers:
        if not future.done():
            future.set_result(answer)
