"""Poller worker processes (`polling.worker`), each a poller claiming its own share of the due
services through the database leases, supervised by the process that started them:
`statuschecker poller`, or `statuschecker run` beside its API.

The parent
1. makes a fresh directory for prometheus_client's multiprocess mode and names it in
   PROMETHEUS_MULTIPROC_DIR *before* starting any worker, so the workers' work metrics go to
   files there; it serves their sum on a /metrics of its own (`run`: on the API's);
2. starts the workers with the "spawn" method (a fresh interpreter each: no fork of a process
   that has threads), giving each the settings and the database URL (the embedded server, when
   there is one, belongs to the parent);
3. watches them: a worker that ends while no stop was asked for, other than cleanly (exit
   status 0, as a signal to it asks), is logged, its live gauges are dropped
   (`mark_process_dead`) and it is replaced, no sooner than RESTART_MIN_SECONDS after that
   slot's previous start, so a worker that cannot start does not spin;
4. on SIGTERM or SIGINT (`run`: once its API has stopped) sends SIGTERM to every worker, waits
   for each to finish or abandon its in-flight checks and write what it holds, kills a worker
   that overruns that bound by STOP_GRACE_SECONDS, and returns.

A worker runs until SIGTERM/SIGINT, until its parent is gone (it then stops too rather than
run unsupervised), or until its poller loop has been quiet for `health_poller_stale_seconds`
(it then exits with status 1 and is replaced, as an unhealthy poller would be by an orchestrator).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer

import structlog

from statuschecker.metrics import server as metrics_server
from statuschecker.metrics.pings import NAMES as ping_metrics
from statuschecker.polling.worker import worker_main
from statuschecker.system.config import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = structlog.get_logger(__name__)

RESTART_MIN_SECONDS = 3.0  # a slot's worker is started at most this often
STOP_GRACE_SECONDS = 20.0  # beyond a worker's own shutdown bounds, before it is killed
WATCH_SECONDS = 0.5  # how often the parent looks at its workers and its stop flag
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class _Slot:
    """One worker place: the process in it now, when it started, how often it was replaced,
    whether its worker stopped as asked (and is not replaced)."""

    number: int
    process: BaseProcess | None = None
    started_at: float = float("-inf")
    restarts: int = 0
    stopped: bool = False


class PollerProcesses:
    """Runs and supervises `processes` poller workers, their summed work metrics served."""

    def __init__(
        self,
        settings: Settings,
        database_url: str,
        processes: int,
    ) -> None:
        self._settings = settings.model_copy(update={"database_url": database_url})
        self._slots = [_Slot(number) for number in range(processes)]
        self._context = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._metrics_dir = ""

    def run(self, metrics_host: str, metrics_port: int) -> None:
        """`statuschecker poller`: start the workers, serve their summed metrics on
        `metrics_host:metrics_port` and keep them running until SIGTERM or SIGINT; then stop
        them."""
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        server = None
        try:
            self._prepare()
            server = self._serve_metrics(metrics_host, metrics_port)
            self._start_all()
            self._watch()
        finally:
            self.stop()
            if server is not None:
                server.shutdown()
                server.server_close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def start_beside(self, registry: CollectorRegistry) -> None:
        """`statuschecker run`: start the workers and watch them from a thread, their summed
        metrics added to `registry` (the API's); `stop` ends it all."""
        self._prepare()
        registry.register(_WorkersCollector(self._metrics_dir))
        registry.register(_SupervisorCollector(self._slots))
        self._start_all()
        threading.Thread(target=self._watch, name="poller-supervisor", daemon=True).start()

    def stop(self) -> None:
        """Stop the workers (see `_stop_all`) and drop their metrics' files."""
        if not self._metrics_dir:
            return
        self._stop_all()
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(self._metrics_dir, ignore_errors=True)
        self._metrics_dir = ""
        log.info("poller.processes_stopped", processes=len(self._slots))

    def _prepare(self) -> None:
        """The directory the workers' metrics go to, named for them before any starts."""
        self._metrics_dir = tempfile.mkdtemp(prefix="statuschecker-metrics-")
        os.environ[MULTIPROC_ENV] = self._metrics_dir

    def _start_all(self) -> None:
        for slot in self._slots:
            self._start(slot)

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        if not self._stop.is_set():
            log.info("poller.processes_stopping", reason=signal.Signals(signum).name)
        self._stop.set()

    def _start(self, slot: _Slot) -> None:
        process = self._context.Process(
            target=worker_main,
            args=(self._settings, slot.number, os.getpid()),
            name=f"statuschecker-poller-{slot.number}",
            daemon=False,
        )
        process.start()
        slot.process, slot.started_at = process, time.monotonic()
        log.info("poller.process_started", slot=slot.number, pid=process.pid)

    def _watch(self) -> None:
        """Replace workers that end until a stop is asked for, but those that stopped cleanly
        (exit status 0): a signal told them to, as Ctrl-C tells a terminal's whole process
        group while the API of `statuschecker run` is still stopping."""
        while not self._stop.is_set():
            running = [s.process.sentinel for s in self._slots if s.process is not None]
            if running:
                multiprocessing.connection.wait(running, timeout=WATCH_SECONDS)
            else:
                self._stop.wait(WATCH_SECONDS)
            if self._stop.is_set():
                return
            now = time.monotonic()
            for slot in self._slots:
                process = slot.process
                if process is not None and process.exitcode is not None:
                    slot.stopped = process.exitcode == 0
                    event = "poller.process_stopped" if slot.stopped else "poller.process_died"
                    (log.info if slot.stopped else log.error)(
                        event, slot=slot.number, pid=process.pid, exitcode=process.exitcode
                    )
                    slot.process = None
                    self._forget(process)
                if (
                    slot.process is None
                    and not slot.stopped
                    and now - slot.started_at >= RESTART_MIN_SECONDS
                ):
                    slot.restarts += 1
                    self._start(slot)

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait for them within their bound, kill the ones that overrun."""
        self._stop.set()
        live = [s.process for s in self._slots if s.process is not None and s.process.is_alive()]
        for process in live:
            process.terminate()  # SIGTERM: the worker stops cleanly
        bound = (
            self._settings.poller_shutdown_seconds
            + self._settings.notify_timeout_seconds
            + STOP_GRACE_SECONDS
        )
        deadline = time.monotonic() + bound
        for process in live:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                log.error("poller.process_killed", pid=process.pid, after_seconds=bound)
                process.kill()
                process.join(5)
            log.info("poller.process_stopped", pid=process.pid, exitcode=process.exitcode)
        for slot in self._slots:
            if slot.process is not None:
                process, slot.process = slot.process, None
                self._forget(process)

    def _forget(self, process: BaseProcess) -> None:
        """Drop an ended worker's live gauges from the summed metrics (its counters stay)."""
        from prometheus_client import multiprocess

        if process.pid is not None:
            multiprocess.mark_process_dead(process.pid, self._metrics_dir)
        process.close()

    # -- the parent's /metrics --------------------------------------------------------------

    def _serve_metrics(self, host: str, port: int) -> WSGIServer:
        """Serve the workers' summed work metrics on /metrics, behind the metrics token if
        one is set, from a thread of its own."""
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        registry.register(_WorkersCollector(self._metrics_dir))
        registry.register(_SupervisorCollector(self._slots))
        try:
            server = metrics_server.serve(registry, host, port, self._settings.metrics_token)
        except OSError as exc:  # the port is taken, say: a line, not a traceback
            log.error(
                "poller.metrics_unavailable",
                host=host,
                port=port,
                error=str(exc),
            )
            raise SystemExit(1) from exc
        log.info(
            "poller.metrics_listening",
            url=f"http://{host}:{server.server_port}/metrics",
        )
        return server


class _WorkersCollector:
    """The workers' metrics, summed from their files in `path`, but for the ping intake's: a
    worker takes no pings, and the API process that serves these serves its own."""

    def __init__(self, path: str) -> None:
        from prometheus_client import multiprocess

        self._files = multiprocess.MultiProcessCollector(None, path=path)

    def collect(self) -> Iterator[Any]:
        return (family for family in self._files.collect() if family.name not in ping_metrics)


class _SupervisorCollector:
    """The parent's own figures: workers running (as far as it has noticed), and how often one
    was replaced."""

    def __init__(self, slots: list[_Slot]) -> None:
        self._slots = slots

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield GaugeMetricFamily(
            "statuschecker_poller_processes",
            "Poller worker processes running",
            value=sum(1 for s in self._slots if s.process is not None),
        )
        yield CounterMetricFamily(
            "statuschecker_poller_process_restarts",
            "Poller worker processes replaced after they ended unexpectedly",
            value=sum(s.restarts for s in self._slots),
        )
