"""Attempt limits for log-in and sign-up, per client address and per e-mail (in memory, so
per process)."""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from statuschecker.errors import TooManyRequests


class AttemptLimiter:
    """Counts attempts of an action per key in a moving window, e.g. "10/minute"."""

    def __init__(self, rate: str) -> None:
        self._limit = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def attempt(self, action: str, **keys: str) -> None:
        """Count one attempt of `action` for each key (say `address=..., email=...`); raise
        TooManyRequests, naming the key and when to retry, once any key is over the limit."""
        for kind, key in keys.items():
            if not self._limiter.hit(self._limit, action, kind, key):
                reset = self._limiter.get_window_stats(self._limit, action, kind, key).reset_time
                raise TooManyRequests(
                    f"too many {action} attempts for this {kind}; the limit is {self._limit}",
                    retry_after=max(1, math.ceil(reset - time.time())),
                )
