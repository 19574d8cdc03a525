"""Keeping every process's status cache true: whoever changes services (a poller's recorder, an
API process's write) announces their ids with PostgreSQL NOTIFY in the same transaction, and
each process with a cache listens and forgets what it cached of them, so the next read comes
from the database. Notifications are delivered on commit only, so a rolled-back change
announces nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import psycopg
import structlog
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)

CHANNEL = "statuschecker_services"
MAX_PAYLOAD = 7900  # PostgreSQL refuses payloads of 8000 bytes and more
RETRY_SECONDS = 1.0


def announce(conn: Connection, service_ids: Iterable[int]) -> None:
    """Tell every listener, when `conn`'s transaction commits, that these services changed."""
    for payload in _payloads(sorted(set(service_ids))):
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


def _payloads(ids: list[int]) -> list[str]:
    """The ids as comma-separated payloads, each under MAX_PAYLOAD bytes."""
    payloads: list[str] = []
    current: list[str] = []
    size = 0
    for service_id in ids:
        item = str(service_id)
        if current and size + len(item) + 1 > MAX_PAYLOAD:
            payloads.append(",".join(current))
            current, size = [], 0
        current.append(item)
        size += len(item) + 1
    if current:
        payloads.append(",".join(current))
    return payloads


class ChangeListener:
    """A thread that LISTENs on its own connection and hands the changed ids to `on_change`;
    `on_reset` is called whenever it (re)connects, because changes made while it was not
    listening were missed."""

    def __init__(
        self,
        database_url: str,
        on_change: Callable[[list[int]], None],
        on_reset: Callable[[], None],
    ) -> None:
        self._conninfo = libpq_url(database_url)
        self._on_change = on_change
        self._on_reset = on_reset
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def start(self) -> None:
        """Start listening in the background."""
        self._thread = threading.Thread(target=self._run, name="change-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; the thread notices within RETRY_SECONDS."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_reset()
                    self.listening.set()
                    log.info("changes.listening")
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=RETRY_SECONDS):
                            self._on_change([int(part) for part in notify.payload.split(",")])
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("changes.listener_lost", error=str(exc).splitlines()[0])
                self._stop.wait(RETRY_SECONDS)


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as libpq takes it."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
