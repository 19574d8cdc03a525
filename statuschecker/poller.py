"""The scheduler: claims due services, checks them concurrently, hands results on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from statuschecker import retention
from statuschecker.checks import run_check
from statuschecker.config import Settings
from statuschecker.loopthread import LoopThread
from statuschecker.metrics import WorkMetrics
from statuschecker.model import Assignment, CheckLimits, CheckOutcome
from statuschecker.recorder import Recorder
from statuschecker.store import schedule

log = structlog.get_logger(__name__)

MAX_CLAIM = 1000  # services claimed by one query at the most
MIN_NAP_SECONDS = 0.05  # the shortest wait between claims: fewer, fuller claims cost less CPU


def default_owner() -> str:
    """A lease owner name unique to this poller: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller(LoopThread):
    """Runs checks on a thread of its own, with its own asyncio loop.

    The loop claims as many due services as it has free check slots, starts one task per
    claimed service, and collects the outcomes; a flusher hands them to the recorder in
    batches. A batch the database refuses for a passing reason (connection lost) is kept
    and retried; a batch it refuses for its content is recorded one outcome at a time so
    that one bad row cannot block the rest.
    """

    name = "poller"

    def __init__(
        self,
        engine: Engine,
        recorder: Recorder,
        metrics: WorkMetrics,
        settings: Settings,
        owner: str | None = None,
    ) -> None:
        super().__init__()
        self.owner = owner or default_owner()
        self._engine = engine
        self._recorder = recorder
        self._metrics = metrics
        self._settings = settings
        self._limits = CheckLimits(
            max_body_bytes=settings.http_max_body_bytes,
            max_redirects=settings.http_max_redirects,
            user_agent=settings.http_user_agent,
            ca_bundle=settings.ca_bundle,
            allow_private_targets=settings.allow_private_targets,
        )
        self._pending: list[CheckOutcome] = []
        self._flush_now: asyncio.Event | None = None
        self.quiet_seconds = settings.health_poller_stale_seconds

    async def run(self) -> None:
        """Claim and check until asked to stop: in-flight checks then finish (or are
        abandoned after `poller_shutdown_seconds`) and pending results are written."""
        assert self.stopping is not None
        self._flush_now = asyncio.Event()
        log.info("poller.started", owner=self.owner)
        in_flight: set[asyncio.Task] = set()
        flusher = asyncio.create_task(self._flush_loop())
        pruner = asyncio.create_task(self._prune_loop())
        try:
            while not self.stopping.is_set():
                self.heartbeat = time.monotonic()
                free = min(self._settings.poller_concurrency - len(in_flight), MAX_CLAIM)
                claimed, next_due = await self._claim(free) if free > 0 else ([], None)
                for assignment in claimed:
                    task = asyncio.create_task(self._check(assignment))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if free > 0 and len(claimed) == free:
                    continue  # more may be due right now
                await self._idle(in_flight, full=free <= 0, next_due=next_due)
        finally:
            pruner.cancel()
            await asyncio.gather(pruner, return_exceptions=True)
            await self._finish(in_flight, flusher)
            log.info("poller.stopped", owner=self.owner)

    async def _idle(self, in_flight: set[asyncio.Task], full: bool, next_due: float | None) -> None:
        """Wait for the next reason to claim: a freed slot when every slot is taken, else the
        next due time (at most `poller_idle_seconds`, which also bounds how soon a service
        registered elsewhere is noticed)."""
        assert self.stopping is not None
        idle = self._settings.poller_idle_seconds
        if full:
            await asyncio.wait(in_flight, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            return
        delay = idle if next_due is None else min(idle, max(next_due, MIN_NAP_SECONDS))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    async def _claim(self, limit: int) -> tuple[list[Assignment], float | None]:
        """Claim up to `limit` due services; also say how long until the next one is due."""

        def claim() -> tuple[list[Assignment], float | None]:
            with self._engine.begin() as conn:
                claimed = schedule.claim_due(
                    conn, self.owner, limit, self._settings.lease_grace_seconds, self._limits
                )
                return claimed, schedule.seconds_until_next_due(conn)

        try:
            return await asyncio.to_thread(claim)
        except SQLAlchemyError as exc:
            log.warning("poller.claim_failed", error=str(exc).splitlines()[0])
            return [], None

    async def _check(self, assignment: Assignment) -> None:
        checked_at = datetime.now(UTC)
        started = time.perf_counter()
        result = await run_check(assignment.spec)
        lag = (checked_at - assignment.due_at).total_seconds()
        self._metrics.observe_check(lag, time.perf_counter() - started)
        self._pending.append(CheckOutcome(assignment.service_id, checked_at, result))
        self._metrics.pending(len(self._pending))
        if len(self._pending) >= self._settings.recorder_batch_size:
            assert self._flush_now is not None
            self._flush_now.set()

    async def _prune_loop(self) -> None:
        """Prune old ticks now and then; a failure is logged and tried again next time."""
        keep = timedelta(days=self._settings.tick_retention_days)
        while True:
            try:
                await asyncio.to_thread(retention.prune, self._engine, keep)
            except SQLAlchemyError as exc:
                log.warning("ticks.prune_failed", error=str(exc).splitlines()[0])
            await asyncio.sleep(self._settings.prune_every_seconds)

    # -- handing results to the recorder ----------------------------------------------------

    async def _flush_loop(self) -> None:
        assert self._flush_now is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._flush_now.wait(), timeout=self._settings.recorder_flush_seconds
                )
            self._flush_now.clear()
            await self.flush()

    async def flush(self) -> bool:
        """Write pending outcomes in batches; False when the database could not take them."""
        size = self._settings.recorder_batch_size
        while self._pending:
            batch = self._pending[:size]
            try:
                await asyncio.to_thread(self._recorder.record, batch, self.owner)
            except DBAPIError as exc:
                if exc.connection_invalidated or _is_connection_error(exc):
                    log.warning("recorder.database_unavailable", pending=len(self._pending))
                    return False
                await asyncio.to_thread(self._record_one_by_one, batch)
            except SQLAlchemyError as exc:
                log.warning("recorder.failed", error=str(exc).splitlines()[0])
                return False
            del self._pending[: len(batch)]
            self._metrics.pending(len(self._pending))
        return True

    def _record_one_by_one(self, batch: list[CheckOutcome]) -> None:
        for outcome in batch:
            try:
                self._recorder.record([outcome], self.owner)
            except DBAPIError as exc:
                if exc.connection_invalidated or _is_connection_error(exc):
                    raise
                log.error(
                    "recorder.outcome_rejected",
                    service_id=outcome.service_id,
                    error=str(exc.orig).splitlines()[0],
                )

    async def _finish(self, in_flight: set[asyncio.Task], flusher: asyncio.Task) -> None:
        """Let in-flight checks end within the shutdown deadline, then write what they found."""
        if in_flight:
            _, late = await asyncio.wait(in_flight, timeout=self._settings.poller_shutdown_seconds)
            for task in late:
                task.cancel()
            if late:
                log.warning("poller.abandoned_checks", count=len(late))
                await asyncio.gather(*late, return_exceptions=True)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        if not await self.flush():
            log.error("poller.unwritten_results", count=len(self._pending))


def _is_connection_error(exc: DBAPIError) -> bool:
    """Whether the database was out of reach, as opposed to refusing the data."""
    return isinstance(exc, OperationalError | InterfaceError)
