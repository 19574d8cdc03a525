"""Check outcomes waiting to be written: kept in the order they were found, bounded in number,
the oldest given up first when the database stays away too long."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from statuschecker.model import CheckOutcome


class ResultsBuffer:
    """A bounded FIFO of outcomes, used from the poller's event loop only. Beyond `limit` the
    oldest outcomes are dropped and reported to `on_drop` with their number."""

    def __init__(self, limit: int, on_drop: Callable[[int], None]) -> None:
        self._items: deque[CheckOutcome] = deque()
        self._limit = limit
        self._on_drop = on_drop
        self.dropped = 0

    def add(self, outcome: CheckOutcome) -> None:
        """Keep a new outcome, behind every other."""
        self._items.append(outcome)
        self._bound()

    def take(self, count: int) -> list[CheckOutcome]:
        """Remove and return up to `count` of the oldest outcomes, oldest first."""
        return [self._items.popleft() for _ in range(min(count, len(self._items)))]

    def give_back(self, batch: list[CheckOutcome]) -> None:
        """Return a batch `take` gave that could not be written: it goes before the rest."""
        self._items.extendleft(reversed(batch))
        self._bound()

    def __len__(self) -> int:
        return len(self._items)

    def _bound(self) -> None:
        excess = len(self._items) - self._limit
        if excess > 0:
            for _ in range(excess):
                self._items.popleft()
            self.dropped += excess
            self._on_drop(excess)
