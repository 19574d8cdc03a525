"""Local HTTP targets for tests: real servers on 127.0.0.1 (or ::1) whose behaviour flips at run
time."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

from localserver import LocalServer, ServingThread

MODES = (
    "up",
    "down",
    "slow",
    "refuse",
    "hang",
    "redirect-loop",
    "big",
    "reset",
    "echo",
    "serve",
    "redirect",
    "trickle",
    "reset-midway",
)
REDIRECTED_PATH = "/redirected"
BIG_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = b"x" * 65536
TRICKLED_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
MIDWAY_BODY_BYTES = 1024  # what "reset-midway" sends of the body it announces, before the reset
_MIDWAY_PAUSE_SECONDS = 0.1  # lets the bytes sent reach the client before the RST


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that was free a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens, so a connection is refused."""
    return f"http://127.0.0.1:{free_port()}/"


class _Server(ThreadingHTTPServer):
    """The HTTP server behind a Target; handlers reach the target through `server.target`."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int, target: Target) -> None:
        self.target = target
        self.address_family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
        super().__init__((target.host, port), _Handler)

    def server_bind(self) -> None:
        """Bind, without HTTPServer's reverse lookup of the address (::1 is not in every
        /etc/hosts, and the lookup must not leave the machine)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.target.host, self.server_address[1]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """Note the peer of every connection accepted, before anything is read from it."""
        self.target._count_peer(client_address[0])
        return True

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection, over TLS when the target has a context (the handshake runs in
        the connection's own thread, so a client that never completes it blocks nobody)."""
        if self.target.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.target.tls.wrap_socket(request, server_side=True)
        except OSError:  # a failed handshake: the client is told by the alert or the close
            return
        with wrapped:
            super().finish_request(wrapped, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Answers every request, whatever its method, according to the target's current mode."""

    server: _Server
    protocol_version = "HTTP/1.1"
    body = b""  # the request's

    def do_GET(self) -> None:
        """Serve one request in the target's mode."""
        target = self.server.target
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        mode = target._count_hit(self.command, headers, self.body, self.client_address[0])
        getattr(self, "_" + mode.replace("-", "_"))(target)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain",
    ) -> None:
        """A complete response with a Content-Length (and no body to a HEAD request)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _up(self, target: Target) -> None:
        self._send(200, b"ok")

    def _down(self, target: Target) -> None:
        self._send(503, b"unavailable")

    def _refused_peer(self, target: Target) -> None:
        self._send(503, b"refused: " + self.client_address[0].encode())

    def _slow(self, target: Target) -> None:
        if target._released.wait(target.slow_seconds):
            self.close_connection = True
            return
        self._send(200, b"ok")

    def _hang(self, target: Target) -> None:
        target._released.wait()
        self.close_connection = True

    def _redirect_loop(self, target: Target) -> None:
        self._send(302, b"", {"Location": self.path})

    def _echo(self, target: Target) -> None:
        """200 with the request as JSON: method, path, headers (names lower-cased), body."""
        echoed = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": self.body.decode(errors="replace"),
        }
        self._send(200, json.dumps(echoed).encode(), content_type="application/json")

    def _serve(self, target: Target) -> None:
        self._send(target.status, target.body, content_type=target.content_type)

    def _redirect(self, target: Target) -> None:
        if self.path == REDIRECTED_PATH:
            self._serve(target)
        else:
            self._send(302, b"", {"Location": target.location})

    def _big(self, target: Target) -> None:
        """Stream `big_bytes` in chunks without holding them; stop when the client leaves."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(target.big_bytes))
        self.end_headers()
        remaining = target.big_bytes
        try:
            while remaining > 0 and not target._released.is_set():
                chunk = _CHUNK[: min(remaining, len(_CHUNK))]
                self.wfile.write(chunk)
                remaining -= len(chunk)
                target._count_sent(len(chunk))
        except OSError:
            pass
        self.close_connection = True

    def _trickle(self, target: Target) -> None:
        """Send a complete 200 response one byte every `trickle_seconds`; stop when the client
        leaves or the target stops."""
        try:
            for byte in TRICKLED_RESPONSE:
                if target._released.wait(target.trickle_seconds):
                    break
                self.wfile.write(bytes([byte]))
        except OSError:
            pass
        self.close_connection = True

    def _reset_midway(self, target: Target) -> None:
        """Send the headers of a 200 and `MIDWAY_BODY_BYTES` of the twice longer body they
        announce, then abort the connection with RST."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(2 * MIDWAY_BODY_BYTES))
        self.end_headers()
        try:
            self.wfile.write(_CHUNK[:MIDWAY_BODY_BYTES])
        except OSError:
            return
        # SO_LINGER 0 drops whatever is still unsent: give what was written time to leave.
        target._released.wait(_MIDWAY_PAUSE_SECONDS)
        self._reset(target)

    def _reset(self, target: Target) -> None:
        """Abort the connection: SO_LINGER 0 makes the close send RST instead of FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        # The socket closes for real once rfile and wfile are closed in finish(), which runs
        # before the server would shutdown(SHUT_WR) it and send a polite FIN.
        self.connection.close()


class Target(LocalServer):
    """A real HTTP server on 127.0.0.1 whose behaviour a test flips at run time.

    Modes: "up" (200 "ok"), "down" (503), "slow" (answers 200 after `slow_seconds`), "refuse"
    (the listening socket is closed so connections are refused; leaving it listens again on
    the same port), "hang" (accepts, never answers until stopped), "redirect-loop" (302 to
    itself), "big" (streams `big_bytes`, 50 MB by default, without buffering), "reset" (aborts
    the connection with RST after reading the request), "echo" (200 with the request as JSON:
    method, path, headers, body), "serve" (answers `status` with `body` as `content_type`),
    "redirect" (302 to `location`, by default `REDIRECTED_PATH`, which is answered as in
    "serve"), "trickle" (sends a complete 200 response one byte every `trickle_seconds`),
    "reset-midway" (sends the headers and part of the body, then aborts with RST). Every mode
    answers every method; with a `tls` server context, it speaks HTTPS. It listens on `host`,
    127.0.0.1 by default, or ::1.

    A request from an address in `refused_peers` (a set a test may change at any time) is
    answered 503 "refused: <address>" whatever the mode, and takes no turn of `play`: as a
    target that refuses one checking location (`source_address`) and serves the others.

    `hits` counts requests received in any mode, including ones never answered;
    `last_method`, `last_headers` (names lower-cased) and `last_body` describe the latest;
    `sent_bytes` counts the body bytes "big" handed to the kernel, over all its requests;
    `peers` lists the client address of every connection accepted (also one that sent no
    request, as a tcp:// check's), in order; `last_peer` is the latest request's.
    """

    def __init__(
        self,
        mode: str = "up",
        *,
        slow_seconds: float = 5.0,
        big_bytes: int = BIG_BODY_BYTES,
        trickle_seconds: float = 1.0,
        port: int = 0,
        status: int = 200,
        body: bytes = b"ok",
        content_type: str = "text/plain",
        location: str = REDIRECTED_PATH,
        tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        refused_peers: set[str] | None = None,
    ) -> None:
        _validate(mode)
        self.host = host
        self.refused_peers: set[str] = set() if refused_peers is None else refused_peers
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.big_bytes = big_bytes
        self.trickle_seconds = trickle_seconds
        self.port = port
        self.status = status
        self.body = body
        self.content_type = content_type
        self.location = location
        self.tls = tls
        self._hits = 0
        self._script: list[str] = []
        self._sent_bytes = 0
        self.last_method = ""
        self.last_headers: dict[str, str] = {}
        self.last_body = b""
        self.last_peer = ""
        self._peers: list[str] = []
        self._lock = threading.Lock()  # guards mode switches, start and stop
        self._hits_lock = threading.Lock()
        self._released = threading.Event()
        self._serving: ServingThread | None = None
        self._started = False

    @property
    def url(self) -> str:
        """The target's base URL."""
        scheme = "http" if self.tls is None else "https"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"

    @property
    def peers(self) -> list[str]:
        """The client address of every connection accepted so far, in order."""
        with self._hits_lock:
            return list(self._peers)

    @property
    def hits(self) -> int:
        """Requests received so far."""
        with self._hits_lock:
            return self._hits

    @property
    def sent_bytes(self) -> int:
        """Body bytes "big" mode wrote so far (all requests)."""
        with self._hits_lock:
            return self._sent_bytes

    def set_mode(self, mode: str) -> None:
        """Switch behaviour; entering or leaving "refuse" closes or reopens the listener."""
        _validate(mode)
        with self._lock:
            previous, self.mode = self.mode, mode
            if not self._started or (previous == "refuse") == (mode == "refuse"):
                return
            if mode == "refuse":
                self._close_listener()
            else:
                self._listen()

    def start(self) -> Target:
        """Start serving (or just reserve the port when starting in "refuse" mode)."""
        with self._lock:
            if self._started:
                return self
            self._released.clear()
            self._started = True
            if self.mode == "refuse":
                self.port = self.port or free_port(self.host)
            else:
                self._listen()
        return self

    def stop(self) -> None:
        """Stop serving and release every handler still waiting; never hangs."""
        with self._lock:
            self._started = False
            self._released.set()
            self._close_listener()

    def play(self, modes: list[str]) -> None:
        """Answer the next requests in these modes, one each, then go on in the current mode
        (so a test scripts exactly what consecutive checks see). Not for "refuse"."""
        for mode in modes:
            _validate(mode)
        with self._hits_lock:
            self._script = list(modes)

    def _count_hit(self, method: str, headers: dict[str, str], body: bytes, peer: str) -> str:
        """Count a request from `peer`; the mode to answer it in."""
        with self._hits_lock:
            self._hits += 1
            self.last_method, self.last_headers, self.last_body = method, headers, body
            self.last_peer = peer
            if peer in self.refused_peers:
                return "refused-peer"
            return self._script.pop(0) if self._script else self.mode

    def _count_peer(self, peer: str) -> None:
        with self._hits_lock:
            self._peers.append(peer)

    def _count_sent(self, count: int) -> None:
        with self._hits_lock:
            self._sent_bytes += count

    def _listen(self) -> None:
        """Bind (the same port once one is known) and serve in a daemon thread."""
        server = _Server(self.port, self)
        self.port = server.server_address[1]
        self._serving = ServingThread(server, f"target-{self.port}")

    def _close_listener(self) -> None:
        """Stop accepting and close the listening socket; handlers in flight carry on."""
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.close()


@contextlib.contextmanager
def target_process(mode: str = "up") -> Iterator[str]:
    """A Target in a process of its own, so that serving does not compete with the test's
    interpreter for its lock (load tests); yields its URL, stops it when the block ends."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_serve_in_process, args=(mode, theirs), name="target-process", daemon=True
    )
    process.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("the target process did not start within 30 s")
        yield ours.recv()
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=10)
        ours.close()


def _serve_in_process(mode: str, conn: Connection) -> None:
    """Serve a Target until the parent says stop or goes away."""
    with Target(mode) as target:
        conn.send(target.url)
        with contextlib.suppress(EOFError, OSError):
            conn.recv()


def _validate(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown target mode {mode!r}; expected one of {MODES}")
