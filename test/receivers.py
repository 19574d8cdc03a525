"""A local webhook receiver for tests: a real HTTP server on 127.0.0.1 that records what it
is sent and answers as the test says."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localserver import LocalServer, ServingThread
from waiting import wait_until


@dataclass(frozen=True, slots=True)
class Received:
    """One request as received: method, path (with query), headers (names lower-cased), the
    exact body bytes, and when it arrived (`time.monotonic()`)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    """The HTTP server behind a Receiver; handlers reach it through `server.receiver`."""

    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Records every request, then answers (or not) as the receiver says."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Record and answer a POST."""
        self._handle()

    do_PUT = do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        receiver = self.server.receiver
        status = receiver._record(
            Received(self.command, self.path, headers, body, time.monotonic())
        )
        if status is None:  # hanging: answer nothing until the receiver stops
            receiver._released.wait()
            self.close_connection = True
            return
        answer = b"ok" if 200 <= status < 300 else b"failed"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Receiver(LocalServer):
    """A webhook receiver on 127.0.0.1, used as a context manager.

    It answers `fail_status` (500) to the first `fail_first` requests and `status` (200) to
    the rest; with `hang` set it accepts requests and never answers until stopped. All three
    may be changed while it runs. `requests` lists what arrived, in order.
    """

    def __init__(
        self, *, status: int = 200, fail_first: int = 0, fail_status: int = 500, hang: bool = False
    ) -> None:
        self.status = status
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.hang = hang
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._released = threading.Event()
        self._serving: ServingThread | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        """The receiver's base URL, without a trailing slash: add any path."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        """The port it listens on (or listened on, once stopped)."""
        assert self._port is not None, "the receiver was never started"
        return self._port

    @property
    def requests(self) -> list[Received]:
        """A copy of the requests received so far."""
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least `count` requests arrived; return them all."""

        def arrived() -> list[Received]:
            received = self.requests
            return received if len(received) >= count else []

        return wait_until(arrived, timeout)

    def _record(self, request: Received) -> int | None:
        """Keep the request; say how to answer it (None: hang)."""
        with self._lock:
            self._requests.append(request)
            if self.hang:
                return None
            if self.fail_first > 0:
                self.fail_first -= 1
                return self.fail_status
            return self.status

    def start(self) -> Receiver:
        """Start serving on a free port."""
        self._released.clear()
        self._serving = ServingThread(_Server(self), "receiver")
        self._port = int(self._serving.server.server_address[1])
        return self

    def stop(self) -> None:
        """Release hanging requests and stop serving; never hangs."""
        self._released.set()
        if self._serving is not None:
            self._serving.close()
            self._serving = None
