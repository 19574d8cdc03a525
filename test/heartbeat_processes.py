"""Heartbeats as an operator runs them: `statuschecker api` and `statuschecker poller` processes
on the test database (see `roles`), an account made through the API, heartbeat services
registered through it, and what the tests read back from the API and the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from accounts import PASSWORD
from roles import Role, wait_healthy
from sqlalchemy import Engine, text
from targets import free_port
from waiting import wait_until

# One signing key for every process of a test, so that a token one API issued is good on all.
SECRET_KEY = "heartbeat-e2e-signing-key-0123456789abcdef"
RATE_LIMIT = "1000000/minute"  # per key and API process: never the limit in these tests
_CONSOLE_SCRIPT = Path(sys.executable).with_name("statuschecker")
STATUSCHECKER = (
    [str(_CONSOLE_SCRIPT)]
    if _CONSOLE_SCRIPT.exists()
    else [sys.executable, "-m", "statuschecker.cli"]
)


@dataclass(frozen=True)
class Api:
    """A `statuschecker api` process and the port it serves on (127.0.0.1)."""

    role: Role
    port: int

    @property
    def url(self) -> str:
        """Its base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def ping_url(self, key: str) -> str:
        """The ping URL of `key` on this API process."""
        return f"{self.url}/ping/{key}"


def start_api(start_role: Callable[..., Role], **settings: str) -> Api:
    """Start `statuschecker api` on a free port of 127.0.0.1 (not waiting for it)."""
    port = free_port()
    role = start_role(
        "api",
        STATUSCHECKER_HOST="127.0.0.1",
        STATUSCHECKER_PORT=str(port),
        STATUSCHECKER_SECRET_KEY=SECRET_KEY,
        STATUSCHECKER_PING_RATE_LIMIT=RATE_LIMIT,
        **settings,
    )
    return Api(role, port)


def wait_api(api: Api) -> None:
    """Wait until the API answers /v1/health (failing at once if it exits)."""
    wait_healthy(api.role, api.port, timeout=60)


def start_poller(start_role: Callable[..., Role], **settings: str) -> Role:
    """Start `statuschecker poller` with one worker process, its /metrics on a free port, its
    notifier looking at the outbox five times a second (not waiting for it)."""
    return start_role(
        "poller",
        "--processes",
        "1",
        "--metrics-port",
        str(free_port()),
        STATUSCHECKER_SECRET_KEY=SECRET_KEY,
        STATUSCHECKER_NOTIFY_POLL_SECONDS="0.2",
        **settings,
    )


def poller_started(poller: Role) -> dict[str, Any]:
    """Wait until the poller's worker claims work; its `poller.started` log line (with the
    lease `owner` it claims as)."""
    started = wait_until(
        lambda: poller.alive() and poller.events("poller.started"), timeout=60, every=0.1
    )
    return started[0]


def worker_pid(poller: Role) -> int:
    """The pid of the poller's (only) worker process."""
    (pid,) = [e["pid"] for e in poller.events("poller.process_started")]
    return int(pid)


def sign_up(base: str) -> dict[str, str]:
    """Sign up (the first account) and log in through the API; the Authorization header."""
    credentials = {"email": "heartbeats@example.com", "password": PASSWORD}
    created = httpx.post(f"{base}/v1/users", json=credentials, timeout=10)
    assert created.status_code == 201, created.text
    token = httpx.post(f"{base}/v1/auth/token", json=credentials, timeout=10)
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def register(
    base: str,
    auth: dict[str, str],
    name: str,
    *,
    interval: int,
    grace: int,
    alert_policy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register a heartbeat through `POST /v1/services`; the service as answered."""
    body: dict[str, Any] = {
        "name": name,
        "heartbeat": {"interval_seconds": interval, "grace_seconds": grace},
    }
    if alert_policy is not None:
        body["alert_policy"] = alert_policy
    created = httpx.post(f"{base}/v1/services", json=body, headers=auth, timeout=10)
    assert created.status_code == 201, created.text
    service: dict[str, Any] = created.json()
    assert service["kind"] == "heartbeat"
    return service


def ping_key(service: dict[str, Any]) -> str:
    """The key in a heartbeat's ping URL."""
    url = httpx.URL(service["ping_url"])
    assert url.path.startswith("/ping/"), service["ping_url"]
    return url.path.removeprefix("/ping/")


def get(base: str, auth: dict[str, str], path: str) -> Any:
    """GET `/v1{path}` as the account; the JSON answer (200 asserted)."""
    answer = httpx.get(f"{base}/v1{path}", headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wrap(
    ping_url: str, *command: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[bytes]:
    """Run `statuschecker wrap --ping-url ping_url options -- command` to its end, without
    any STATUSCHECKER_ setting of this environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSCHECKER_")}
    return subprocess.run(
        [*STATUSCHECKER, "wrap", "--ping-url", ping_url, *options, "--", *command],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    """The rows of a query on the test database."""
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def per_service(engine: Engine, sql: str, **params: Any) -> dict[int, int]:
    """{service id: count} from a query answering (service_id, count) rows."""
    return {int(sid): int(count) for sid, count in rows(engine, sql, **params)}


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:`port`, as lean as a load generator's
    (httpx costs milliseconds of CPU a request, which on a small machine would measure the
    client instead of the server). Answers must carry a Content-Length, as the pings' do."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request (opening the connection if needed); its status and body. Raises
        OSError, asyncio.IncompleteReadError or ValueError when no whole answer comes."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self._reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        try:
            status_line = await self._reader.readuntil(b"\r\n")
            status = int(status_line.split(b" ", 2)[1])
            length, close = None, False
            while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "connection":
                    close = value.strip().lower() == "close"
            if length is None:
                raise ValueError("an answer without Content-Length")
            answer = await self._reader.readexactly(length)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
