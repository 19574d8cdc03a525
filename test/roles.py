"""`statuschecker` roles as an operator runs them: real processes with JSON logs in a file,
shared by the role tests and the fault suite."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from waiting import wait_until

STOP_SECONDS = 30  # SIGTERM to exit, at most (the suite's poller_shutdown_seconds is 2)


class Role:
    """`statuschecker <args>` running in `workdir` (its data dir `workdir/var`), on the
    database `database_url` names or, with None, on its own embedded server; its output in a
    file. `extra` settings override the suite's fast defaults."""

    def __init__(
        self, args: list[str], database_url: str | None, workdir: Path, extra: dict[str, str]
    ) -> None:
        self.log_file = workdir / f"{args[0]}-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSCHECKER_")}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.update(
            STATUSCHECKER_DATA_DIR=str(workdir / "var"),
            STATUSCHECKER_LOG_FORMAT="json",
            STATUSCHECKER_LEASE_GRACE_SECONDS="2",
            STATUSCHECKER_POLLER_SHUTDOWN_SECONDS="2",
            STATUSCHECKER_POLLER_IDLE_SECONDS="0.1",
        )
        if database_url is not None:
            env["STATUSCHECKER_DATABASE_URL"] = database_url
        env.update(extra)
        with self.log_file.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "statuschecker.cli", *args],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def logs(self) -> list[dict]:
        """The JSON log lines written so far."""
        lines = self.log_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def events(self, name: str) -> list[dict]:
        """The log lines of one event."""
        return [entry for entry in self.logs() if entry["event"] == name]

    def alive(self) -> bool:
        """Whether the process still runs; fails the test with its output if it ended."""
        if self.process.poll() is not None:
            raise AssertionError(f"exited early:\n{self.log_file.read_text()}")
        return True

    def stop(self) -> int:
        """SIGTERM, and its exit status within STOP_SECONDS."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_SECONDS)

    def kill(self) -> None:
        """SIGKILL the process and whatever it started (for clean-up after a failure)."""
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
        self.process.kill()
        self.process.wait(timeout=10)


@contextlib.contextmanager
def started_roles(database_url: str | None, workdir: Path) -> Iterator[Callable[..., Role]]:
    """`start(*args, **settings)` starts roles (see `Role`); whatever is left of them is
    killed when the block ends. A test module's `start_role` fixture wraps this."""
    started: list[Role] = []

    def start(*args: str, **extra: str) -> Role:
        role = Role(list(args), database_url, workdir, extra)
        started.append(role)
        return role

    try:
        yield start
    finally:
        for role in started:
            if role.process.poll() is None:
                role.kill()


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """A /metrics page as {(sample name, sorted labels): value}."""
    body = httpx.get(url, timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def wait_healthy(role: Role, port: int, timeout: float = 30.0) -> str:
    """Wait for the role's API to answer /v1/health with 200 (failing at once if the role
    exits); its /v1 URL."""
    base = f"http://127.0.0.1:{port}/v1"

    def healthy() -> bool:
        role.alive()
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{base}/health", timeout=2).status_code == 200
        return False

    wait_until(healthy, timeout=timeout, every=0.2)
    return base
