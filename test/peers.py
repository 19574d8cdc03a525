"""Real local peers for check tests: a TCP server whose behaviour a test chooses (plain or
TLS), and a DNS server answering from a zone. Everything listens on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import trustme
from dnslib import RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer
from localserver import POLL_SECONDS, LocalServer

from statuschecker.model import CheckResult, CheckSpec

TIMEOUT = 0.5
SLACK = 0.5  # what a deadline may overrun by: loop start-up, cancellation, closing sockets
ANSWERED = 5.0
"""The deadline of a check whose peer answers (or refuses) at once: a busy machine can stall a
reply past TIMEOUT, which only the tests of deadlines need short."""

Serve = Callable[[socket.socket, threading.Event], None]
"""What a peer does with one accepted connection; returns when done or when the event is set."""
CheckFn = Callable[[CheckSpec], Coroutine[Any, Any, CheckResult]]


class Peer(LocalServer):
    """A real TCP server on 127.0.0.1 that runs `serve` for each connection in its own thread.

    `received` collects what clients sent, for serve functions that record it."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL_SECONDS)  # lets the accept loop notice `stop`
        self._threads: list[threading.Thread] = []
        self.port: int = self._listener.getsockname()[1]
        self.received = bytearray()

    def url(self, scheme: str = "tcp") -> str:
        """The peer's URL for a check kind."""
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> Peer:
        """Start accepting connections."""
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        """Tell every connection's serve function to end, wait for them, stop listening."""
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():  # ends with the test
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._spawn(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)  # no serve function outlives a test by much
        with conn, contextlib.suppress(OSError):  # the check left first, as it may
            self._serve(conn, self._stop)


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and never answer."""
    stop.wait()


def answering(reply: bytes, *, hold: bool = True) -> Serve:
    """Read what the client sends first, answer `reply` (any bytes: a peer speaking another
    protocol), then keep the connection open until the client closes it (or, without `hold`,
    close it at once)."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(reply)
        if not hold:
            return
        conn.settimeout(POLL_SECONDS)  # lets the wait notice `stop`
        while not stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except TimeoutError:
                continue

    return serve


def serving_tls(cert: trustme.LeafCert) -> Serve:
    """Handshake with `cert`, then wait for the client to close."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        with context.wrap_socket(conn, server_side=True) as tls_conn:
            tls_conn.recv(1)

    return serve


def run(check: CheckFn, spec: CheckSpec) -> tuple[CheckResult, float]:
    """Run one check in a fresh event loop; return (result, elapsed seconds)."""
    started = time.perf_counter()
    result = asyncio.run(check(spec))
    return result, time.perf_counter() - started


class Zone(BaseResolver):
    """Answers from a zone, NXDOMAIN for names not in it, and the rcodes of `failing`."""

    def __init__(self, zone: str, failing: dict[str, int] | None = None) -> None:
        self.records = RR.fromZone(zone)
        self.failing = failing or {}

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        qname = request.q.qname
        if str(qname) in self.failing:
            reply.header.rcode = self.failing[str(qname)]
            return reply
        at_name = [rr for rr in self.records if rr.rname == qname]
        if not at_name:
            reply.header.rcode = RCODE.NXDOMAIN
        for rr in at_name:
            if rr.rtype == request.q.qtype:
                reply.add_answer(rr)
        return reply


@contextlib.contextmanager
def dns_server(zone: str, failing: dict[str, int] | None = None) -> Iterator[str]:
    """A DNS server (UDP) on 127.0.0.1 answering from `zone`; yields its "address:port"."""
    quiet = DNSLogger(logf=lambda _: None)
    server = DNSServer(Zone(zone, failing), address="127.0.0.1", port=0, logger=quiet)
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()
        server.server.server_close()
