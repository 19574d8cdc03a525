"""The API's intake of heartbeat pings: pings are stored in batches (group commit: those that
arrive while one batch is stored go together in the next), answered once stored, and judged
behind them.

Who judges depends on the load. A batch of at most `QUIET_PINGS` (the server is not busy) is
judged here at once, and its answers wait for that run, so that a lone ping's answer means its
heartbeat's status has moved. Larger batches are answered once stored and left to the pollers,
which judge the pings stored at least `POLLERS_JUDGE_AFTER` seconds ago in large runs, on
cores of their own (`Poller`); what they leave (no poller runs) is judged here after
`LEFT_OVER_AFTER` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Collection
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
QUIET_PINGS = 10  # a stored batch of at most this many is judged here at once
JUDGE_SERVICES = 200  # heartbeats judged by one transaction at the most
POLLERS_JUDGE_AFTER = 0.25  # seconds: pollers judge pings this old, this often while there are
POLLERS_JUDGE_IDLE = 1.0  # seconds: how often at most they look while they found none lately
LEFT_OVER_AFTER = 2.0  # seconds: the API judges pings the pollers left this old, this often


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
        self._heard: set[int] = set()  # the heartbeats of those answers
        self._store_now: asyncio.Event | None = None
        self._judge_now: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    async def submit(self, ping: Ping) -> Answer:
        """Store `ping` with the others pending; its answer once stored (and judged, when its
        batch was a quiet one)."""
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
        await asyncio.to_thread(judge_stored, self._recorder)
        _give(self._waiting)

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
        """Store the pending pings, `MAX_BATCH` at a time; a quiet batch's answers once the
        judge has run over its heartbeats, a busy one's now."""
        assert self._judge_now is not None
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            stored = await asyncio.to_thread(self._store, [p for p, _ in batch])
            answers = [(f, answer) for (_, f), (answer, _) in zip(batch, stored, strict=True)]
            if len(batch) > QUIET_PINGS:
                _give(answers)
            else:
                self._waiting += answers
                self._heard.update(sid for _, sid in stored if sid is not None)
                self._judge_now.set()

    def _store(self, pings: list[Ping]) -> list[tuple[Answer, int | None]]:
        """For each ping its answer, and its heartbeat's id once stored. A batch the database
        refuses for its content is stored one ping at a time, so that one bad ping cannot
        keep the others out; none is while the database is out of reach."""
        try:
            found = self._recorder.accept_pings(pings)
        except SQLAlchemyError as exc:
            if len(pings) > 1 and not database_unreachable(exc):
                return [stored for ping in pings for stored in self._store([ping])]
            log.warning("pings.unstored", count=len(pings), error=str(exc).splitlines()[0])
            return [(UNAVAILABLE, None)] * len(pings)
        return [(UNKNOWN, None) if sid is None else (OK, sid) for sid in found]

    async def _judge_loop(self) -> None:
        """When asked, judge the heartbeats quiet batches stored pings for (and answer those
        pings then); every `LEFT_OVER_AFTER` seconds, the pings the pollers left."""
        assert self._judge_now is not None
        swept = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._judge_now.wait(), LEFT_OVER_AFTER)
            self._judge_now.clear()
            waiting, self._waiting = self._waiting, []
            heard, self._heard = sorted(self._heard), set()
            try:
                for at in range(0, len(heard), JUDGE_SERVICES):
                    chunk = heard[at : at + JUDGE_SERVICES]
                    await asyncio.to_thread(judge_once, self._recorder, among=chunk)
            finally:
                _give(waiting)
            if time.monotonic() - swept >= LEFT_OVER_AFTER:
                swept = time.monotonic()
                await asyncio.to_thread(judge_stored, self._recorder, LEFT_OVER_AFTER)


def judge_once(
    recorder: Recorder, age_seconds: float = 0.0, among: Collection[int] | None = None
) -> int | None:
    """Judge the stored pings (some at least `age_seconds` old; with `among`, of these
    heartbeats) of up to `JUDGE_SERVICES` heartbeats (those another process is judging are
    left to it); how many, or None if the database failed (they wait for a later run)."""
    try:
        return recorder.judge_pings(JUDGE_SERVICES, age_seconds, among)
    except SQLAlchemyError as exc:
        log.warning("pings.unjudged", error=str(exc).splitlines()[0])
        return None


def judge_stored(recorder: Recorder, age_seconds: float = 0.0) -> int:
    """Judge the stored pings (those of heartbeats with some at least `age_seconds` old) until
    none is left or the database fails; of how many heartbeats."""
    judged = 0
    while found := judge_once(recorder, age_seconds):
        judged += found
    return judged


def _give(answers: _Waiting) -> None:
    """Answer the pings whose requests are still there (a client may have gone)."""
    for future, answer in answers:
        if not future.done():
            future.set_result(answer)
