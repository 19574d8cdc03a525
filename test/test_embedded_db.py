"""Tests of the embedded PostgreSQL wrapper against real servers, one data dir per test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from statuschecker.system.embedded_db import EmbeddedPostgres, running_url


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Live (non-zombie) postgres processes working in or naming `data_dir`."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["name"] != "postgres" or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if info["cwd"] == str(data_dir) or str(data_dir) in (info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.fixture
def data_dir(pg_dir: Path) -> Iterator[Path]:
    """A fresh data dir; whatever server runs in it is stopped afterwards, and checked gone."""
    path = (pg_dir / "pg").resolve()
    try:
        yield path
    finally:
        EmbeddedPostgres(path).stop()
        assert postgres_processes(path) == []


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url.replace("+psycopg", "", 1), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def real_pid_file(data_dir: Path) -> str:
    """The content of a `postmaster.pid` written by a real run, server stopped again."""
    with EmbeddedPostgres(data_dir):
        content = (data_dir / "postmaster.pid").read_text()
    assert not (data_dir / "postmaster.pid").exists()
    return content


def write_pid_file(data_dir: Path, content: str, pid: int) -> None:
    rest = content.split("\n", 1)[1]
    (data_dir / "postmaster.pid").write_text(f"{pid}\n{rest}")


def test_start_query_stop_restart_persists(data_dir: Path) -> None:
    db = EmbeddedPostgres(data_dir / "nested")  # parents are created
    with pytest.raises(RuntimeError):
        _ = db.url
    url = db.start()
    try:
        assert url.startswith("postgresql+psycopg://postgres@/postgres?host=/")
        assert db.start() == url == db.url  # idempotent
        assert db.is_running()
        assert running_url(data_dir / "nested") == url
        assert query(url, "SELECT 1") == [(1,)]
        query(url, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    finally:
        db.stop()
    assert not db.is_running()
    assert running_url(data_dir / "nested") is None
    assert postgres_processes(data_dir / "nested") == []
    db.stop()  # twice is fine

    with EmbeddedPostgres(data_dir / "nested") as again:
        assert query(again.url, "SELECT x FROM kept") == [(42,)]
    assert postgres_processes(data_dir / "nested") == []


def test_stop_when_never_started_is_a_no_op(data_dir: Path) -> None:
    EmbeddedPostgres(data_dir).stop()
    assert not data_dir.exists()


def test_stale_pid_file_with_dead_pid(data_dir: Path) -> None:
    content = real_pid_file(data_dir)
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    write_pid_file(data_dir, content, finished.pid)

    with EmbeddedPostgres(data_dir) as db:
        assert query(db.url, "SELECT 1") == [(1,)]


@pytest.mark.parametrize("owner", ["self", "sleep"])
def test_stale_pid_file_with_live_foreign_pid(data_dir: Path, owner: str) -> None:
    content = real_pid_file(data_dir)
    sleeper = subprocess.Popen(["sleep", "60"]) if owner == "sleep" else None
    try:
        write_pid_file(data_dir, content, sleeper.pid if sleeper else os.getpid())
        with EmbeddedPostgres(data_dir) as db:
            assert query(db.url, "SELECT 1") == [(1,)]
            pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            assert psutil.Process(pid).name() == "postgres"
    finally:
        if sleeper:
            sleeper.kill()
            sleeper.wait()


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from statuschecker.system.embedded_db import EmbeddedPostgres
    print("URL=" + EmbeddedPostgres(Path(sys.argv[1])).start(), flush=True)
    time.sleep(120)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_adopts_server_left_by_killed_process(data_dir: Path, sig: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        url = None
        for line in child.stdout:  # structlog also prints here
            if line.startswith("URL="):
                url = line.removeprefix("URL=").strip()
                break
        assert url, "child did not start the server"
    finally:
        child.send_signal(sig)
        child.wait(10)
        if child.stdout:
            child.stdout.close()

    db = EmbeddedPostgres(data_dir)
    assert db.is_running(), "server must outlive the killed process"
    assert running_url(data_dir) == url
    assert query(url, "SELECT 1") == [(1,)]
    pid_before = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0]

    assert db.start() == url  # adopted, not restarted
    assert (data_dir / "postmaster.pid").read_text().split("\n", 1)[0] == pid_before
    assert query(db.url, "SELECT 1") == [(1,)]
    db.stop()
    assert not db.is_running()
    assert postgres_processes(data_dir) == []


def test_stop_falls_back_to_terminate(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pgserver._commands

    def failing_pg_ctl(args: list[str], **kwargs: object) -> str:
        raise subprocess.CalledProcessError(1, ["pg_ctl", *args])

    db = EmbeddedPostgres(data_dir)
    db.start()
    monkeypatch.setattr(pgserver._commands, "pg_ctl", failing_pg_ctl)
    db.stop()
    assert not db.is_running()
    assert postgres_processes(data_dir) == []
