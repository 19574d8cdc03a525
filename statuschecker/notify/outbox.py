"""The notifier: works off the outboxes of alert deliveries and of status pages' deliveries to
their subscribers, on a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import NamedTuple

import httpx
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.model import Delivery, PageDelivery
from statuschecker.net.policy import guard
from statuschecker.net.tls import client_context
from statuschecker.notify import DeliveryError, apprise_channel, payload, title, webhook
from statuschecker.redaction import redact
from statuschecker.store import deliveries
from statuschecker.system.config import Settings
from statuschecker.system.loopthread import LoopThread
from statuschecker.timefmt import rfc3339

log = structlog.get_logger(__name__)

MAX_CLAIM = 50  # deliveries claimed, and sent at once, per round at the most
MIN_NAP_SECONDS = 0.01  # the shortest wait between rounds


def webhook_client(allow_private_targets: bool) -> httpx.AsyncClient:
    """The client webhooks are posted with: shared TLS context, no proxies from the
    environment, redirects not followed (a webhook that moved is a failed delivery), and without
    `allow_private_targets` each connection verified by the target policy (`netpolicy.guard`),
    for the global receivers too."""
    transport = httpx.AsyncHTTPTransport(verify=client_context(), trust_env=False)
    if not allow_private_targets:
        guard(transport)
    return httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False)


class Clients(NamedTuple):
    """The notifier's HTTP clients: for alerts' receivers, and for status pages' subscribers."""

    receivers: httpx.AsyncClient
    subscribers: httpx.AsyncClient


class Notifier(LoopThread):
    """Sends alert notifications on a thread of its own, with its own asyncio loop.

    Every `notify_poll_seconds`, sooner when a retry falls due, and at once on `wake()`, the
    loop claims up to `MAX_CLAIM` due deliveries under a lease, sends them concurrently, and
    records each outcome in its own short transaction. A failed attempt is retried after
    `notify_retry_base_seconds * 2**attempts` (capped at `notify_retry_max_seconds`) until
    `notify_max_attempts` attempts were made; then the delivery is given up as 'failed'.
    """

    name = "notifier"

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__()
        self._engine = engine
        self._settings = settings
        self._clients: Clients | None = None
        self._wake: asyncio.Event | None = None
        # A round lasts about one timeout.
        self.quiet_seconds = settings.notify_poll_seconds + settings.notify_timeout_seconds + 5

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the round in flight; deliveries not sent are sent later, by whichever
        notifier runs next."""
        self.set_soon(self.stopping, self._wake)  # in this order: a woken round sees the stop
        super().stop(timeout)

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll (safe from any thread)."""
        self.set_soon(self._wake)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until asked to stop."""
        assert self._loop is not None and self.stopping is not None
        # Apprise sends on threads: enough for a full round besides the database calls.
        self._loop.set_default_executor(
            ThreadPoolExecutor(max_workers=MAX_CLAIM + 4, thread_name_prefix="notifier")
        )
        self._wake = asyncio.Event()
        log.info("notifier.started")
        try:
            async with self._opened() as self._clients:
                while not self.stopping.is_set():
                    self.heartbeat = time.monotonic()
                    self._wake.clear()
                    handled = await self._round()
                    if handled < MAX_CLAIM:
                        await self._idle()
        finally:
            self._clients = None
            log.info("notifier.stopped")

    async def _round(self) -> int:
        """One round that never raises: a database error is logged and the loop goes on."""
        try:
            return await self.run_once()
        except SQLAlchemyError as exc:
            log.warning("notifier.database_failed", error=str(exc).splitlines()[0])
        except Exception:
            log.exception("notifier.round_failed")
        return 0

    async def _idle(self) -> None:
        """Wait for a wake-up, a stop, or the next due delivery (at most the poll interval)."""
        assert self._wake is not None
        delay = self._settings.notify_poll_seconds
        with contextlib.suppress(SQLAlchemyError):
            due = await asyncio.to_thread(self._seconds_until_next_due)
            if due is not None:
                delay = min(delay, max(due, MIN_NAP_SECONDS))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _seconds_until_next_due(self) -> float | None:
        with self._engine.begin() as conn:
            return deliveries.seconds_until_next_due(conn)

    # -- one round --------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim the due deliveries, send them concurrently and record each outcome; return
        how many were handled. Outside the loop clients are made for the round."""
        if self._clients is not None:
            return await self._send_due(self._clients)
        async with self._opened() as clients:
            return await self._send_due(clients)

    @contextlib.asynccontextmanager
    async def _opened(self) -> AsyncIterator[Clients]:
        """The clients of alerts' receivers and of status pages' subscribers: anybody may
        subscribe, so subscribers reach private addresses only when both settings allow it."""
        settings = self._settings
        private = settings.allow_private_targets
        async with (
            webhook_client(private) as receivers,
            webhook_client(private and settings.subscriber_private_targets) as subscribers,
        ):
            yield Clients(receivers, subscribers)

    async def _send_due(self, clients: Clients) -> int:
        claimed = await asyncio.to_thread(self._claim)
        await asyncio.gather(*(self._deliver(clients, delivery) for delivery in claimed))
        return len(claimed)

    def _claim(self) -> list[Delivery | PageDelivery]:
        # The lease covers a whole attempt: every claimed delivery is sent at once. Alerts first.
        lease = self._settings.notify_timeout_seconds + self._settings.lease_grace_seconds
        with self._engine.begin() as conn:
            claimed: list[Delivery | PageDelivery] = [*deliveries.claim_due(conn, MAX_CLAIM, lease)]
            if len(claimed) < MAX_CLAIM:
                claimed += deliveries.claim_page_due(conn, MAX_CLAIM - len(claimed), lease)
            return claimed

    async def _deliver(self, clients: Clients, delivery: Delivery | PageDelivery) -> None:
        """Send one delivery and record the outcome in its own transaction; never raises. When
        the database refuses the outcome, the lease runs out and the delivery is sent again."""
        reason = None
        try:
            await self._send(clients, delivery)
        except DeliveryError as exc:
            reason = exc.reason
        except Exception as exc:  # a bug: retried and given up like any failure, not a stall
            log.exception("notify.send_crashed", **_about(delivery))
            reason = f"internal error: {type(exc).__name__}"
        try:
            await asyncio.to_thread(self._record, delivery, reason)
        except SQLAlchemyError as exc:
            log.error("notify.record_failed", **_about(delivery), error=str(exc).splitlines()[0])

    async def _send(self, clients: Clients, delivery: Delivery | PageDelivery) -> None:
        timeout = self._settings.notify_timeout_seconds
        if isinstance(delivery, PageDelivery):
            body = {**delivery.payload, "sent_at": rfc3339(datetime.now(UTC))}
            await webhook.send(
                clients.subscribers, delivery.url, delivery.secret, body, timeout, delivery.event
            )
        elif delivery.channel == "webhook":
            event = f"alert.{delivery.alert.kind}"
            await webhook.send(
                clients.receivers,
                delivery.target,
                delivery.secret,
                payload(delivery),
                timeout,
                event,
            )
        else:
            await apprise_channel.send(
                delivery.target,
                title(delivery),
                delivery.alert.message,
                timeout,
                notify_type=apprise_channel.NOTIFY_TYPES[delivery.alert.kind],
            )

    def _record(self, delivery: Delivery | PageDelivery, reason: str | None) -> None:
        """Write and log the outcome of an attempt: delivered when `reason` is None, else
        failed, to be retried after a growing pause or given up."""
        fields = {**_about(delivery), "attempts": delivery.attempts + 1}
        page = isinstance(delivery, PageDelivery)
        if reason is None:
            with self._engine.begin() as conn:
                deliveries.mark_delivered(conn, delivery.id, page)
            log.info("notify.delivered", **fields)
            return
        retry_in = self._retry_in(delivery.attempts)
        with self._engine.begin() as conn:
            deliveries.mark_failed_attempt(conn, delivery.id, reason, retry_in, page)
        log.warning("notify.attempt_failed", reason=reason, retry_in_seconds=retry_in, **fields)
        if retry_in is None:
            log.error("notify.gave_up", reason=reason, **fields)

    def _retry_in(self, previous_attempts: int) -> float | None:
        """Seconds until the next attempt after one more failure; None when that failure used
        up `notify_max_attempts`."""
        settings = self._settings
        if previous_attempts + 1 >= settings.notify_max_attempts:
            return None
        return min(
            settings.notify_retry_base_seconds * 2**previous_attempts,
            settings.notify_retry_max_seconds,
        )


def _about(delivery: Delivery | PageDelivery) -> dict[str, object]:
    """What the log lines of a delivery say of it (its target redacted)."""
    if isinstance(delivery, PageDelivery):
        return {
            "page_delivery_id": delivery.id,
            "subscription_id": delivery.subscription_id,
            "event": delivery.event,
            "target": redact("webhook", delivery.url),
        }
    return {
        "delivery_id": delivery.id,
        "alert_id": delivery.alert.id,
        "service_id": delivery.alert.service_id,
        "channel": delivery.channel,
        "target": delivery.redacted_target,
    }
