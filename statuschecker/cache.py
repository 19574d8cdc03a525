"""In-memory current state of services, refreshed by the recorder and by every write."""

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
