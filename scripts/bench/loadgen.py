"""A small paced HTTP/1.1 load generator on asyncio streams (keep-alive, Content-Length or
chunked bodies), cheap enough in CPU to drive a thousand requests a second from one core.

`drive` opens `concurrency` connections; with `rate > 0` requests are released on a fixed
schedule (open loop: a slow server shows up as a backlog and a lower achieved rate, never as
a slower schedule), with `rate == 0` every connection sends back to back (closed loop). A
request's latency runs from writing it to having read its whole answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TICK_SECONDS = 0.002  # how often the pacer releases what is due


@dataclass
class LoadResult:
    """What a run of `drive` saw."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of 2xx answers
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    not_sent: int = 0  # released by the pacer but still queued at the end

    @property
    def done(self) -> int:
        """Requests answered (any status)."""
        return sum(self.statuses.values())


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, chunked, close = 0, False, lines[0].startswith("HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection":
            close = value == "close"
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def drive(
    port: int,
    path: Callable[[int], str],
    *,
    rate: float,
    seconds: float,
    concurrency: int,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    answer_within: float = 30.0,
) -> LoadResult:
    """GET `path(i)` for i = 0, 1, ... on `host:port` for `seconds`, at `rate` per second
    (0: as fast as `concurrency` connections go)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    result = LoadResult()
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    counter = iter(range(10**12))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader = writer = None
        while True:
            if rate > 0:
                item = await queue.get()
                if item is None:
                    break
            else:
                if time.perf_counter() >= deadline:
                    break
                item = next(counter)
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                request = f"GET {path(item)} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n"
                began = time.perf_counter()
                writer.write(request.encode())
                status, close = await asyncio.wait_for(_read_answer(reader), answer_within)
                took = time.perf_counter() - began
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    result.latencies.append(took)
                if close:
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
                result.errors += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def pacer() -> None:
        began = time.perf_counter()
        released = 0
        while (now := time.perf_counter()) < deadline:
            due = int((now - began) * rate)
            for _ in range(due - released):
                queue.put_nowait(next(counter))
            released = due
            await asyncio.sleep(TICK_SECONDS)

    began = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    if rate > 0:
        await pacer()
        while not queue.empty():  # what is still queued at the deadline is not sent
            queue.get_nowait()
            result.not_sent += 1
        for _ in workers:
            queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - began
    return result
