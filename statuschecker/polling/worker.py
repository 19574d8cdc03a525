"""One poller worker process, as the supervisor starts it: poll until told to stop, until the
parent is gone (rather than run unsupervised), or until its poller loop went quiet (exit
status 1, so that it is replaced, as an orchestrator would replace an unhealthy poller).

A worker runs `poller_nice` steps below its parent's CPU priority: when the cores are busy, an
API request beside it (`statuschecker run`) waits less and a check a few milliseconds more. In
the 10,000-service benchmark the API's p99 went from 26-27 ms to 17 ms with a niceness of 10
(19.8 with 5), the checks' lag p99 staying at 180-210 ms (docs/benchmarks.md)."""

from __future__ import annotations

import os
import signal
import sys
import threading

import structlog

from statuschecker.system import logs
from statuschecker.system.config import Settings

log = structlog.get_logger(__name__)


def worker_main(settings: Settings, slot: int, parent_pid: int) -> None:
    """One poller worker (in a spawned process): poll until told to stop, then write what it
    holds; exit status 1 when its poller loop went quiet."""
    from statuschecker.runtime import Runtime

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C reaches the whole process group
        signal.signal(signum, lambda *_: stop.set())
    os.nice(settings.poller_nice)  # the API's requests first when the cores are busy
    logs.configure(settings)
    structlog.contextvars.bind_contextvars(poller_slot=slot)
    assert settings.database_url is not None
    runtime = Runtime.build(settings, settings.database_url, with_poller=True)
    poller = runtime.poller
    assert poller is not None
    status = 0
    try:
        runtime.start()
        while not stop.wait(1.0):
            if os.getppid() != parent_pid:
                log.warning("poller.parent_gone", parent_pid=parent_pid)
                break
            if not poller.alive():
                log.error("poller.unhealthy", quiet_seconds=poller.quiet_seconds)
                status = 1
                break
    finally:
        runtime.close()
    sys.exit(status)
