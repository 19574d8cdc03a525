"""In-memory state of services: their current state, refreshed by the recorder and by every
write, and their settings as shown, kept by the version they were read at."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from cachetools import TTLCache

from statuschecker.model import Service


class StatusCache:
    """Services by id, bounded in size and age; safe to use from the API and poller threads."""

    def __init__(self, maxsize: int, ttl_seconds: float) -> None:
        self._items: TTLCache[int, Service] = TTLCache(maxsize=maxsize, ttl=ttl_seconds)
        self._lock = threading.Lock()

    def get(self, service_id: int) -> Service | None:
        """The cached service, or None when it is not (or no longer) cached."""
        with self._lock:
            return self._items.get(service_id)

    def put(self, services: Iterable[Service]) -> None:
        """Store the current state of these services."""
        with self._lock:
            for service in services:
                self._items[service.id] = service

    def held(self, service_ids: Iterable[int]) -> list[int]:
        """Those of these services cached now."""
        with self._lock:
            return [sid for sid in service_ids if sid in self._items]

    def drop(self, service_id: int) -> None:
        """Forget a service (deleted, or changed elsewhere)."""
        with self._lock:
            self._items.pop(service_id, None)

    def clear(self) -> None:
        """Forget every service."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class SettingsCache:
    """Services as read, by id, each with the version of its settings it was read at (a digest
    the database makes of them): an entry serves a read that finds that same version, so
    changes need not be announced to it. Bounded in size and age, safe across threads."""

    def __init__(self, maxsize: int, ttl_seconds: float) -> None:
        self._items: TTLCache[int, tuple[str, Service]] = TTLCache(maxsize, ttl_seconds)
        self._lock = threading.Lock()

    def get(self, service_id: int, version: str) -> Service | None:
        """The service read at this version of its settings, or None."""
        with self._lock:
            found = self._items.get(service_id)
        return found[1] if found is not None and found[0] == version else None

    def put(self, service_id: int, version: str, service: Service) -> None:
        """Keep `service`, read at this version of its settings (replacing any other)."""
        with self._lock:
            self._items[service_id] = (version, service)
