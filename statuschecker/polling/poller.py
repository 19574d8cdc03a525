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
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from statuschecker.checks import run_check
from statuschecker.errors import database_unreachable
from statuschecker.metrics.work import WorkMetrics
from statuschecker.model import HEARTBEAT, Assignment, CheckLimits, CheckOutcome, CheckResult
from statuschecker.polling import retention
from statuschecker.polling.local_schedule import LocalSchedule
from statuschecker.polling.ping_intake import (
    POLLERS_JUDGE_AFTER,
    POLLERS_JUDGE_IDLE,
    judge_stored,
)
from statuschecker.polling.presence import SEEN_EVERY_SECONDS, Presence
from statuschecker.polling.recorder import Recorder
from statuschecker.polling.results_buffer import ResultsBuffer
from statuschecker.store import schedule
from statuschecker.system.config import Settings
from statuschecker.system.loopthread import LoopThread

log = structlog.get_logger(__name__)

MAX_CLAIM = 1000  # services claimed by one query at the most
MIN_NAP_SECONDS = 0.1  # the shortest wait between claims: fewer, fuller claims cost less CPU
PROBE_EVERY_SECONDS = 1.0  # how often a poller without its database asks whether it is back
FORGET_EVERY_SECONDS = 10.0  # how often the local schedule drops services no longer claimed
SLOTS_EVERY_SECONDS = 5.0  # how often a poller asks whether a service names its location
SILENCE = CheckResult(up=False)  # a heartbeat found due, until the recorder judges it


def default_owner() -> str:
    """A lease owner name unique to this poller: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Poller(LoopThread):
    """Runs checks on a thread of its own, with its own asyncio loop.

    The loop claims as many due services as it has free check slots, starts one task per
    claimed service, and buffers the outcomes; a flusher hands them to the recorder in
    batches, oldest first. A batch the database refuses for its content is recorded one
    outcome at a time so that one bad row cannot block the rest. Beside, it judges the
    heartbeat pings the API processes stored and left to the pollers (`ping_intake`).

    While the database is out of reach the poller goes on checking the services it last
    claimed, on their own schedule (`LocalSchedule`), keeps the outcomes in a bounded buffer
    (the oldest dropped and counted beyond `recorder_buffer_max_results`), and asks every
    second whether the database is back; then the buffer is written, in order. The recorder
    ignores outcomes it already holds, so a batch whose commit was lost in transit and is
    written again is not duplicated.
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
            source_address=str(settings.source_address) if settings.source_address else None,
        )
        self.buffer = ResultsBuffer(settings.recorder_buffer_max_results, metrics.dropped)
        self._local = LocalSchedule(settings.lease_grace_seconds)
        self._checking: dict[int, Assignment] = {}  # in-flight checks by service id
        self._online_since = datetime.now(UTC)
        self._offline_since: float | None = None  # monotonic time the database went away
        self._probe: asyncio.Task | None = None
        self._probed_at = 0.0
        self._forgot_at = 0.0
        self._flush_now: asyncio.Event | None = None
        self._presence = Presence(engine, self.owner, settings.location)
        self._slots = False  # whether a service names this poller's location
        self._slots_asked_at = float("-inf")
        self.quiet_seconds = settings.health_poller_stale_seconds

    @property
    def database_reachable(self) -> bool:
        """False while the poller checks on its own schedule and buffers its results."""
        return self._offline_since is None

    def condition(self) -> str:
        """Either "ok" or what keeps the poller from its usual work."""
        if not self.alive():
            return "not running or stalled"
        if not self.database_reachable:
            return (
                "checking on its own schedule while the database is away: "
                f"{len(self.buffer)} results buffered, {self.buffer.dropped} dropped"
            )
        return "ok"

    async def run(self) -> None:
        """Claim and check until asked to stop: in-flight checks then finish (or are
        abandoned after `poller_shutdown_seconds`, their leases released) and pending results
        are written."""
        assert self.stopping is not None
        self._flush_now = asyncio.Event()
        log.info("poller.started", owner=self.owner, location=self._settings.location)
        in_flight: set[asyncio.Task] = set()
        flusher = asyncio.create_task(self._flush_loop())
        pruner = asyncio.create_task(self._prune_loop())
        judge = asyncio.create_task(self._judge_loop())
        presence = asyncio.create_task(self._presence_loop())
        try:
            while not self.stopping.is_set():
                self.heartbeat = time.monotonic()
                free = min(self._settings.poller_concurrency - len(in_flight), MAX_CLAIM)
                claimed, next_due = await self._claim(free) if free > 0 else ([], None)
                for assignment in claimed:
                    if assignment.service_id in self._checking:
                        continue  # checked since before the database came back; once is enough
                    self._checking[assignment.service_id] = assignment
                    task = asyncio.create_task(self._check(assignment))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if free > 0 and len(claimed) == free:
                    continue  # more may be due right now
                await self._idle(in_flight, full=free <= 0, next_due=next_due)
        finally:
            for task in (pruner, judge, presence):
                task.cancel()
            await asyncio.gather(pruner, judge, presence, return_exceptions=True)
            await self._finish(in_flight, flusher)
            if self.database_reachable:
                await asyncio.to_thread(self._presence.stopped)
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
        """Claim up to `limit` due services; also say how long until the next one is due.
        Without the database, the due services come from the local schedule."""
        if not self.database_reachable and not self._database_back():
            return self._claim_locally(limit)

        def claim() -> tuple[list[Assignment], float | None]:
            grace, location = self._settings.lease_grace_seconds, self._settings.location
            with self._engine.connect() as conn:  # each statement its own transaction
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                claimed, ahead = schedule.claim_due(conn, self.owner, limit, grace, self._limits)
                if not self._slots_here(conn) or len(claimed) >= limit:
                    return claimed, ahead
                slots, slots_ahead = schedule.claim_slots(
                    conn, self.owner, location, limit - len(claimed), grace, self._limits
                )
            known = [seconds for seconds in (ahead, slots_ahead) if seconds is not None]
            return claimed + slots, min(known, default=None)

        try:
            claimed, next_due = await asyncio.to_thread(claim)
        except SQLAlchemyError as exc:
            if not database_unreachable(exc):
                log.warning("poller.claim_failed", error=str(exc).splitlines()[0])
                return [], None
            self._lost_database(exc)
            return self._claim_locally(limit)
        now = datetime.now(UTC)
        # Whether a heartbeat is late is known only to the database: none is checked locally.
        self._local.remember([a for a in claimed if a.kind != HEARTBEAT], now)
        if time.monotonic() - self._forgot_at >= FORGET_EVERY_SECONDS:  # a scan of every one
            self._forgot_at = time.monotonic()
            self._local.forget_unclaimed(now, self._online_since)
        return claimed, next_due

    def _slots_here(self, conn: Connection) -> bool:
        """Whether a service names this poller's location (asked every `SLOTS_EVERY_SECONDS`,
        so that a poller of a location no service names claims as before: one statement)."""
        if time.monotonic() - self._slots_asked_at >= SLOTS_EVERY_SECONDS:
            self._slots_asked_at = time.monotonic()
            self._slots = schedule.has_slots(conn, self._settings.location)
        return self._slots

    def _claim_locally(self, limit: int) -> tuple[list[Assignment], float | None]:
        now = datetime.now(UTC)
        due = self._local.due(limit, now, self._checking)
        return due, self._local.seconds_until_next(now)

    def _lost_database(self, exc: SQLAlchemyError) -> None:
        """Go on without the database: check on the local schedule and buffer the results."""
        if self._offline_since is not None:
            return
        self._offline_since = time.monotonic()
        self._probed_at = self._offline_since
        self._metrics.database_reachable(False)
        log.warning(
            "poller.database_unavailable",
            error=str(exc).splitlines()[0],
            buffered=len(self.buffer),
            services_held=len(self._local),
        )

    def _database_back(self) -> bool:
        """Whether the background probe found the database again; starts the next probe when
        none runs and the last was at least `PROBE_EVERY_SECONDS` ago."""
        probe = self._probe
        if probe is not None and probe.done():
            self._probe = None
            if probe.exception() is None:
                assert self._offline_since is not None and self._flush_now is not None
                log.info(
                    "poller.database_back",
                    seconds_away=round(time.monotonic() - self._offline_since, 3),
                    buffered=len(self.buffer),
                    dropped=self.buffer.dropped,
                )
                self._offline_since = None
                self._online_since = datetime.now(UTC)
                self._metrics.database_reachable(True)
                self._flush_now.set()
                return True
        if self._probe is None and time.monotonic() - self._probed_at >= PROBE_EVERY_SECONDS:
            self._probed_at = time.monotonic()
            self._probe = asyncio.create_task(asyncio.to_thread(self._ping))
        return False

    def _ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def _check(self, assignment: Assignment) -> None:
        checked_at = datetime.now(UTC)
        started = time.perf_counter()
        silence = assignment.kind == HEARTBEAT
        try:
            # A heartbeat is not checked: the recorder judges its silence (not before it was
            # due by the database's clock, which this one may trail).
            result = SILENCE if silence else await run_check(assignment.spec)
        finally:
            self._checking.pop(assignment.service_id, None)
        if silence:
            checked_at = max(checked_at, assignment.due_at)
        lag = (checked_at - assignment.due_at).total_seconds()
        self._metrics.observe_check(lag, time.perf_counter() - started, assignment.kind)
        self.buffer.add(
            CheckOutcome(
                assignment.service_id,
                checked_at,
                result,
                silence=silence,
                location=self._settings.location,
            )
        )
        self._metrics.pending(len(self.buffer))
        if len(self.buffer) >= self._settings.recorder_batch_size and self.database_reachable:
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

    async def _presence_loop(self) -> None:
        """Say the poller is there every `SEEN_EVERY_SECONDS` (not while the database is away:
        its location then goes stale for the others, as it should)."""
        while True:
            if self.database_reachable:
                await asyncio.to_thread(self._presence.seen)
            await asyncio.sleep(SEEN_EVERY_SECONDS)

    async def _judge_loop(self) -> None:
        """Judge the heartbeat pings an API process stored and left to the pollers (it does
        while busy: `ping_intake`), every `POLLERS_JUDGE_AFTER` seconds while there are some;
        after a look that found none, the wait doubles up to `POLLERS_JUDGE_IDLE`."""
        wait = POLLERS_JUDGE_AFTER
        while True:
            await asyncio.sleep(wait)
            judged = 0
            if self.database_reachable:
                judged = await asyncio.to_thread(judge_stored, self._recorder, POLLERS_JUDGE_AFTER)
            wait = POLLERS_JUDGE_AFTER if judged else min(2 * wait, POLLERS_JUDGE_IDLE)

    # -- handing results to the recorder ----------------------------------------------------

    async def _flush_loop(self) -> None:
        """Write the buffer now and then, and at once when a batch is full or the database is
        back; not while the database is away (the claim loop's probe notices its return)."""
        assert self._flush_now is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._flush_now.wait(), timeout=self._settings.recorder_flush_seconds
                )
            self._flush_now.clear()
            if self.database_reachable:
                await self.flush()

    async def flush(self) -> bool:
        """Write buffered outcomes in batches, oldest first; False when the database could not
        take them (they stay buffered)."""
        size = self._settings.recorder_batch_size
        while self.buffer:
            batch = self.buffer.take(size)
            try:
                await asyncio.to_thread(self._recorder.record, batch, self.owner)
            except SQLAlchemyError as exc:
                if database_unreachable(exc):
                    self.buffer.give_back(batch)
                    self._lost_database(exc)
                    return False
                if not isinstance(exc, DBAPIError):
                    self.buffer.give_back(batch)
                    log.warning("recorder.failed", error=str(exc).splitlines()[0])
                    return False
                unwritten = await asyncio.to_thread(self._record_one_by_one, batch)
                if unwritten:
                    self.buffer.give_back(unwritten)
                    return False
            self._metrics.pending(len(self.buffer))
        return True

    def _record_one_by_one(self, batch: list[CheckOutcome]) -> list[CheckOutcome]:
        """Record each outcome alone, logging those the database refuses; the outcomes left
        unwritten when it went away meanwhile."""
        for index, outcome in enumerate(batch):
            try:
                self._recorder.record([outcome], self.owner)
            except DBAPIError as exc:
                if database_unreachable(exc):
                    self._lost_database(exc)
                    return batch[index:]
                log.error(
                    "recorder.outcome_rejected",
                    service_id=outcome.service_id,
                    error=str(exc.orig).splitlines()[0],
                )
        return []

    async def _finish(self, in_flight: set[asyncio.Task], flusher: asyncio.Task) -> None:
        """Let in-flight checks end within the shutdown deadline, write what they found, and
        release the leases of the checks abandoned."""
        abandoned: list[int] = []
        if in_flight:
            _, late = await asyncio.wait(in_flight, timeout=self._settings.poller_shutdown_seconds)
            abandoned = list(self._checking)
            for task in late:
                task.cancel()
            if late:
                log.warning("poller.abandoned_checks", count=len(late))
                await asyncio.gather(*late, return_exceptions=True)
        flusher.cancel()
        if self._probe is not None:
            self._probe.cancel()
        await asyncio.gather(flusher, *filter(None, [self._probe]), return_exceptions=True)
        if not await self.flush():
            log.error("poller.unwritten_results", count=len(self.buffer))
        if abandoned:
            await asyncio.to_thread(self._release, abandoned)

    def _release(self, service_ids: list[int]) -> None:
        """End this poller's leases on these services, so that another poller may take them at
        their next slot without waiting for the leases to run out."""
        try:
            with self._engine.begin() as conn:
                schedule.release(conn, self.owner, service_ids)
        except SQLAlchemyError as exc:
            log.warning("poller.release_failed", error=str(exc).splitlines()[0])
