"""Bounded waiting for things that happen on other threads."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | Literal[False] | None], timeout: float = 10.0, every: float = 0.05
) -> T:
    """Call `probe` until it returns something truthy and return that; fail after `timeout`.

    A probe may answer `False` or `None` for "not yet" (as `ready() and value` does): those are
    never returned, so the result is typed without them."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(every)
