"""A real MariaDB server for tests (Debian's mariadb-server package): a fresh data directory made
by `mariadb-install-db`, then `mariadbd` on 127.0.0.1 and a Unix socket, stopped at the end.

Where mariadbd is not installed the tests that need it skip, unless REQUIRE_SERVERS is set (CI
sets it): then they fail.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import installed
import pymysql
import pytest
from targets import free_port

START_SECONDS = 30.0
STOP_SECONDS = 10.0
POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class MariaDB:
    """A running server: its TCP port on 127.0.0.1 and its Unix socket."""

    port: int
    socket_path: Path

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement as root over the Unix socket; the rows of its answer."""
        connection = pymysql.connect(
            unix_socket=str(self.socket_path), user="root", autocommit=True
        )
        with connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())


def binaries() -> tuple[str, str]:
    """mariadb-install-db and mariadbd (see `installed.binary`)."""
    return (
        installed.binary("mariadb-install-db", "mariadb-server"),
        installed.binary("mariadbd", "mariadb-server"),
    )


@contextlib.contextmanager
def mariadb(*options: str) -> Iterator[MariaDB]:
    """A fresh MariaDB server (root without a password), with mariadbd's `options` besides
    the ones it always gets; stopped and deleted when the block ends."""
    install, server = binaries()
    base = Path(tempfile.mkdtemp(prefix="statuschecker-test-mariadb-"))  # short: a socket path
    try:
        data = base / "data"
        subprocess.run(
            [install, "--no-defaults", f"--datadir={data}", "--user=root", "--skip-name-resolve",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True,
            capture_output=True,
            timeout=START_SECONDS,
        )  # fmt: skip
        with _running(server, base, data, options) as running:
            yield running
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _running(server: str, base: Path, data: Path, options: tuple[str, ...]) -> Iterator[MariaDB]:
    """mariadbd on `data`, once it takes connections; terminated (killed if it lingers)."""
    running = MariaDB(free_port(), base / "sock")
    log = base / "error.log"
    process = subprocess.Popen(
        [server, "--no-defaults", f"--datadir={data}", f"--socket={running.socket_path}",
         f"--port={running.port}", "--bind-address=127.0.0.1", "--user=root",
         f"--pid-file={base / 'mariadbd.pid'}", f"--log-error={log}", f"--tmpdir={base}",
         "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=16M", *options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_ready(running, process, log)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)


def _wait_ready(running: MariaDB, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once the server answers on its socket; fail, quoting its log, if it exits or
    takes longer than START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if running.socket_path.exists():  # PyMySQL leaks the socket of a failed connect
            with contextlib.suppress(pymysql.err.OperationalError):
                running.execute("SELECT 1")
                return
        time.sleep(POLL_SECONDS)
    told = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    pytest.fail(f"mariadbd did not start (exit status {process.poll()}):\n{told}")
