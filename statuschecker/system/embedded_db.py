"""The embedded PostgreSQL server (via `pgserver`) used when no database URL is configured.

pgserver starts a PostgreSQL 16 server listening on a Unix socket only. Two of its habits are
unsafe for a long-running service, so this module wraps it:

* pgserver trusts any live pid in `postmaster.pid`; after a crash and pid reuse it would "adopt"
  an unrelated process. We check the pid really is the postmaster of *this* data dir and remove
  a stale file before handing over to pgserver.
* pgserver stops the server only at interpreter exit, and only when its `.handle_pids.json`
  holds just the current pid, which is never true again once some process was SIGKILLed. We
  therefore ask it never to stop (`cleanup_mode=None`) and stop the server ourselves with
  `pg_ctl -m fast stop`, falling back to terminating the postmaster.

A server left running by a killed process is adopted by the next `start()` and stopped by its
`stop()`. Start and stop hold an exclusive `flock` on the data dir so that processes sharing it
do not race each other.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psutil
import structlog

log = structlog.get_logger(__name__)

_PID_FILE = "postmaster.pid"
_HANDLES_FILE = ".handle_pids.json"  # pgserver's list of pids holding the server
_STOP_TIMEOUT = 15.0  # seconds for pg_ctl stop, then again for terminate/kill


class EmbeddedPostgres:
    """The embedded PostgreSQL server whose data lives in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._url: str | None = None

    def start(self) -> str:
        """Start (or adopt) the server, initialising `data_dir` on first use; return its URL.

        Idempotent: a server already running in `data_dir`, started by this object or by any
        other process, is reused.
        """
        if self._url is not None and self.is_running():
            return self._url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _dir_lock(self.data_dir):
            pid = _postmaster_pid(self.data_dir)
            if pid is None:
                _remove_stale_pid_file(self.data_dir)
            url = _start_with_pgserver(self.data_dir)
        self._url = url
        event = "embedded_db.adopted" if pid is not None else "embedded_db.started"
        log.info(event, data_dir=str(self.data_dir), url=url)
        return url

    def stop(self) -> None:
        """Stop the server running in `data_dir`, whoever started it; a no-op if none runs."""
        self._url = None
        if not self.data_dir.is_dir():
            return
        with _dir_lock(self.data_dir):
            pid = _postmaster_pid(self.data_dir)
            if pid is not None:
                _stop_postmaster(self.data_dir, pid)
                (self.data_dir / _HANDLES_FILE).unlink(missing_ok=True)
                log.info("embedded_db.stopped", data_dir=str(self.data_dir), pid=pid)
            _forget_pgserver_instance(self.data_dir)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the server; raises RuntimeError unless `start()` succeeded."""
        if self._url is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.data_dir} is not started")
        return self._url

    def is_running(self) -> bool:
        """Whether a postmaster for `data_dir` is alive (started by anyone)."""
        return _postmaster_pid(self.data_dir) is not None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def running_url(data_dir: Path) -> str | None:
    """The URL of the server already running in `data_dir`, or None if none runs there."""
    data_dir = Path(data_dir).expanduser().resolve()
    if _postmaster_pid(data_dir) is None:
        return None
    lines = (data_dir / _PID_FILE).read_text().splitlines()
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem, status
    if len(lines) < 5 or not lines[4].strip():
        return None
    return _make_url(Path(lines[4].strip()), int(lines[3].strip() or 5432))


def _make_url(socket_dir: Path, port: int) -> str:
    url = f"postgresql+psycopg://postgres@/postgres?host={quote(str(socket_dir), safe='/')}"
    return url if port == 5432 else f"{url}&port={port}"


@contextlib.contextmanager
def _dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive flock on the data dir itself (no extra file needed)."""
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / _PID_FILE).read_text().split("\n", 1)[0]
        return int(first.strip())
    except (OSError, ValueError):
        return None


def _is_postmaster_of(proc: psutil.Process, data_dir: Path) -> bool:
    """True if `proc` is a live (not zombie) postgres whose command line names `data_dir`."""
    try:
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
            return False
        return str(data_dir) in proc.cmdline()
    except psutil.Error:
        return False


def _postmaster_pid(data_dir: Path) -> int | None:
    """The pid from `postmaster.pid` if it is this data dir's live postmaster, else None."""
    pid = _read_pid(data_dir)
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return None
    return pid if _is_postmaster_of(proc, data_dir) else None


def _remove_stale_pid_file(data_dir: Path) -> None:
    """Remove a `postmaster.pid` whose pid is not this dir's postmaster (dead or reused)."""
    pid_file = data_dir / _PID_FILE
    if not pid_file.exists():
        return
    pid = _read_pid(data_dir)
    pid_file.unlink()
    log.warning("embedded_db.stale_pid_removed", data_dir=str(data_dir), pid=pid)


def _forget_pgserver_instance(data_dir: Path) -> None:
    """Drop pgserver's per-process cache so a later `get_server` really (re)starts."""
    from pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances.pop(data_dir, None)
    if server is not None:
        atexit.unregister(server._cleanup)


def _start_with_pgserver(data_dir: Path) -> str:
    import pgserver

    _forget_pgserver_instance(data_dir)  # a cached handle may describe a stopped server
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    if info.socket_dir is None:
        raise RuntimeError(f"embedded PostgreSQL in {data_dir} has no Unix socket")
    return _make_url(info.socket_dir, info.port or 5432)


def _stop_postmaster(data_dir: Path, pid: int) -> None:
    """`pg_ctl -m fast stop`; if that fails, terminate then kill the postmaster and children."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    proc = psutil.Process(pid)
    # pg_ctl refuses to run as root: run it as the user owning the server, as pgserver does.
    user = proc.uids().real if os.geteuid() == 0 else None
    try:
        pg_ctl(
            ["-w", "-t", str(int(_STOP_TIMEOUT)), "-m", "fast", "stop"],
            pgdata=data_dir,
            user=user,
            timeout=_STOP_TIMEOUT + 5,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log.warning("embedded_db.stop_fallback", data_dir=str(data_dir), pid=pid, error=str(exc))
    else:
        if _gone(proc, timeout=_STOP_TIMEOUT / 3):
            return
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        procs = [proc]
    for signal_name in ("terminate", "kill"):
        for p in procs:
            with contextlib.suppress(psutil.Error):
                getattr(p, signal_name)()
        if all(_gone(p, timeout=_STOP_TIMEOUT / 3) for p in procs):
            return
    raise RuntimeError(f"could not stop embedded PostgreSQL (pid {pid}) in {data_dir}")


def _gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `proc` to exit; a zombie counts as exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.Error:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
