"""A fast local HTTP target for benchmarks: answers every request `200 OK` with a short body.

A single asyncio.Protocol server on 127.0.0.1, no dependencies, meant to run as a process of
its own so that its CPU is not counted against the poller:

    python scripts/bench/target.py --port 0      # prints "listening <port>" once ready

HTTP/1.1 keep-alive and pipelining are honoured; `Connection: close` (and HTTP/1.0 without
keep-alive) closes after the answer. Request bodies announced by Content-Length are skipped.

With `--fail-one-in N` a path ending in a number n (`/17`) is answered `503` for
--flip-seconds (S) once every N * S seconds, each number at its own phase (N * S times the
fraction of n times the golden ratio, which spreads the numbers' turns evenly): one service
in N down at any time, and statuses changing all the time, not all at once, while a
benchmark watches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time

BODY = b"ok\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
CLOSING_RESPONSE = RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
FAILING = {
    False: RESPONSE.replace(b"200 OK", b"503 Service Unavailable", 1),
    True: CLOSING_RESPONSE.replace(b"200 OK", b"503 Service Unavailable", 1),
}
MAX_HEADER_BYTES = 64 * 1024
GOLDEN_RATIO = (5**0.5 - 1) / 2  # the phases n * this (mod 1) of numbers n spread evenly
OPEN: set[asyncio.Transport] = set()  # closed on stop, so idle keep-alive clients cannot delay it


class OkProtocol(asyncio.Protocol):
    """One connection: answer each complete request head with 200 OK (or 503, see `failing`)."""

    fail_one_in = 0  # 0: never fail; see the module's docstring
    flip_seconds = 30.0

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.skip = 0  # body bytes of the current request still to discard

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        OPEN.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the transport."""
        if self.transport is not None:
            OPEN.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        """Consume request heads (and bodies) and answer each."""
        assert self.transport is not None
        self.buffer += data
        while self.buffer:
            if self.skip:
                dropped = min(self.skip, len(self.buffer))
                self.buffer, self.skip = self.buffer[dropped:], self.skip - dropped
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            close, self.skip = _parse_head(head)
            if self.fail_one_in and self.failing(head):
                self.transport.write(FAILING[close])
            else:
                self.transport.write(CLOSING_RESPONSE if close else RESPONSE)
            if close:
                self.transport.close()
                return

    def failing(self, head: bytes) -> bool:
        """Whether the request's path ends in a number whose turn it is to fail now."""
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        number = parts[1].rsplit(b"/", 1)[-1] if len(parts) > 1 else b""
        if not number.isdigit():
            return False
        phase = int(number) * GOLDEN_RATIO % 1 * self.fail_one_in  # in turns of flip_seconds
        return (time.time() / self.flip_seconds + phase) % self.fail_one_in < 1


def _parse_head(head: bytes) -> tuple[bool, int]:
    """Whether the client wants the connection closed, and the body length it announces."""
    request_line, _, fields = head.partition(b"\r\n")
    close = request_line.endswith(b"HTTP/1.0")
    length = 0
    for line in fields.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"connection":
            close = value == b"close" or (close and value != b"keep-alive")
        elif name == b"content-length" and value.isdigit():
            length = int(value)
    return close, length


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Stop when the process that started us is gone (so a killed benchmark leaves nothing)."""
    while not stop.is_set():
        if os.getppid() != parent:
            stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def serve(port: int, watch_parent: bool) -> None:
    """Serve on 127.0.0.1:`port` until SIGINT/SIGTERM (or the parent's exit, if watched)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(OkProtocol, "127.0.0.1", port, backlog=4096)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    watcher = asyncio.create_task(_watch_parent(os.getppid(), stop)) if watch_parent else None
    async with server:
        await stop.wait()
        server.close()
        for transport in list(OPEN):
            transport.close()
    if watcher is not None:
        await watcher


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument(
        "--watch-parent", action="store_true", help="exit when the parent process exits"
    )
    parser.add_argument("--fail-one-in", type=int, default=0,
                        help="answer 503 to one path number in N at a time (0: never)")  # fmt: skip
    parser.add_argument("--flip-seconds", type=float, default=30.0,
                        help="how long each path's turn to fail lasts")  # fmt: skip
    args = parser.parse_args()
    OkProtocol.fail_one_in, OkProtocol.flip_seconds = args.fail_one_in, args.flip_seconds
    asyncio.run(serve(args.port, args.watch_parent))


if __name__ == "__main__":
    main()
