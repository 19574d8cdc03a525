"""In-memory state of services, refreshed by the recorder and by every write; and values kept for
a while, looked up many at a time (a list's uptime figures and settings)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from cachetools import TTLCache

from statuschecker.model import Service

K = TypeVar("K")
V = TypeVar("V")


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


class Expiring(Generic[K, V]):
    """Values by key, each kept for `ttl_seconds` from when it was put, at most `maxsize` of
    them (the oldest go first); looked up and put many at a time under one lock, for lists
    whose every item would pay a cache's own bookkeeping. Safe across threads."""

    def __init__(self, maxsize: int, ttl_seconds: float) -> None:
        self._items: dict[K, tuple[float, V]] = {}
        self._maxsize = maxsize
        self._ttl = ttl_seconds
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The values kept of these keys (those not kept, or expired, left out)."""
        now = time.monotonic()
        with self._lock:
            found = {key: self._items.get(key) for key in keys}
        return {key: kept[1] for key, kept in found.items() if kept is not None and kept[0] > now}

    def put_many(self, values: Mapping[K, V]) -> None:
        """Keep these values (replacing what was kept of their keys)."""
        expires = time.monotonic() + self._ttl
        with self._lock:
            for key, value in values.items():
                self._items.pop(key, None)  # to the end: the newest
                self._items[key] = (expires, value)
            while len(self._items) > self._maxsize:
                del self._items[next(iter(self._items))]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
