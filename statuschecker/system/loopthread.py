"""Workers that run an asyncio loop on a thread of their own (the poller, the notifier).

The loop is uvloop's (libuv's event loop behind asyncio's interface): a poller's work is
connections, hundreds a second, and uvloop spends about a third less CPU on each than the
standard loop does (scripts/bench/http_check.py measures it). Names are still resolved as the
standard loop resolves them (`_Loop.getaddrinfo`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import uvloop


class LoopThread:
    """A worker with its own thread and asyncio loop, started and stopped from other threads.

    A subclass implements `run()`, which works until `self.stopping` is set, turning
    `self.heartbeat` as it goes, and says in `quiet_seconds` how long a healthy loop may go
    without a turn.
    """

    name = "worker"
    quiet_seconds = 30.0

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self.heartbeat = 0.0

    async def run(self) -> None:
        """Work until `self.stopping` is set."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread; returns once its loop runs."""
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError(f"the {self.name} loop did not start within 10 s")

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait up to `timeout` for the thread to end."""
        self.set_soon(self.stopping)
        if self._thread is not None:
            self._thread.join(timeout)

    def alive(self) -> bool:
        """Whether the loop runs and has turned within `quiet_seconds`."""
        recent = time.monotonic() - self.heartbeat < self.quiet_seconds
        return self._thread is not None and self._thread.is_alive() and recent

    def set_soon(self, *events: asyncio.Event | None) -> None:
        """Set events of the loop from another thread; nothing when the loop is not running."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return
        for event in events:
            if event is not None:
                with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                    loop.call_soon_threadsafe(event.set)

    def _main(self) -> None:
        with asyncio.Runner(loop_factory=_Loop) as runner:
            runner.run(self._enter())

    async def _enter(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.heartbeat = time.monotonic()
        self._started.set()
        await self.run()


class _Loop(uvloop.Loop):
    """uvloop's loop, resolving names with `socket.getaddrinfo` on the default executor, as the
    standard loop does. libuv's own lookup asks the same system resolver; this way there is one
    path for either loop, and a stand-in for `socket.getaddrinfo` (as the tests use to keep DNS
    queries on the machine) stands in for the workers' lookups too."""

    async def getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        """The addresses of `host`, as `socket.getaddrinfo` gives them."""
        return await self.run_in_executor(
            None, socket.getaddrinfo, host, port, family, type, proto, flags
        )
