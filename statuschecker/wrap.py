"""`statuschecker wrap`: run a job (a cron line, a systemd timer's command) and report each run
to a heartbeat monitor's ping URL, a start ping before and the exit status with the tail of the
output after. The job's exit status is never changed, and the job runs whatever the monitor
does."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import IO, Self
from urllib.parse import urlsplit

import httpx

from statuschecker.net.errors import describe_error
from statuschecker.redaction import redact

ENV_PING_URL = "STATUSCHECKER_PING_URL"
TAIL_BYTES = 10 * 1024
"""How much of the end of the job's output (stdout and stderr together) is sent with its exit
status."""
CHUNK_BYTES = 64 * 1024
DEFAULT_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 10.0
BACKOFF_SECONDS = 0.5
"""The pause before the first retry of a ping; doubled for each one after, up to
MAX_BACKOFF_SECONDS."""
MAX_BACKOFF_SECONDS = 5.0
DRAIN_SECONDS = 1.0
"""How long the output is still read once the command ended: a background process it left
behind may hold its stdout open for hours, and the report must not wait for it."""
NOT_FOUND = 127
NOT_EXECUTABLE = 126
_RETRIED_STATUSES = {408, 429}  # and every 5xx; any other answer will not change on a retry
_FORWARDED = (signal.SIGINT, signal.SIGTERM)

USAGE_EXAMPLE = "statuschecker wrap --ping-url URL -- /usr/local/bin/backup --full"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options and the command of `statuschecker wrap`."""
    parser.usage = (
        "%(prog)s [-h] [--ping-url URL] [--retries N] [--timeout SECONDS] -- command [args ...]"
    )
    parser.epilog = (
        f"example cron line: 0 3 * * * {USAGE_EXAMPLE}. The exit status is the command's "
        f"(126: not executable, 127: not found, 128+N: killed by signal N)."
    )
    parser.add_argument(
        "--ping-url",
        default=os.environ.get(ENV_PING_URL) or None,
        metavar="URL",
        help=f"the heartbeat's ping URL (default: ${ENV_PING_URL})",
    )
    parser.add_argument(
        "--retries",
        type=_count,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="retries of a ping the monitor did not take, 0.5 s, 1 s, 2 s... apart "
        f"(default: {DEFAULT_RETRIES})",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"timeout of each ping request (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "job",
        nargs=argparse.REMAINDER,
        metavar="command",
        help="the command to run and its arguments, after --",
    )


def cmd_wrap(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Check the command line (a usage error exits 2), then run the command and report it;
    return its exit status."""
    command = args.job[1:] if args.job[:1] == ["--"] else args.job
    if not args.ping_url:
        parser.error(f"no ping URL: pass --ping-url URL or set {ENV_PING_URL}")
    if not command:
        parser.error(f"no command to run: put it after --, as in {USAGE_EXAMPLE}")
    try:
        url = httpx.URL(args.ping_url)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        # The URL is not shown: its path holds the key, a credential.
        parser.error("the ping URL is not an http:// or https:// URL with a host")
    return wrap(args.ping_url, command, retries=args.retries, timeout=args.timeout)


def wrap(
    ping_url: str,
    command: Sequence[str],
    *,
    retries: int = DEFAULT_RETRIES,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> int:
    """Run `command` and report it to the monitor at `ping_url`; return its exit status.

    1. Pick a run id and POST `{ping_url}/start?rid=<id>`. A SIGINT or SIGTERM meanwhile stops
       the wrapper there: the job is not run, nothing more is sent, the status is 128+N.
    2. Run the command, its stdin, stdout and stderr those of the wrapper, keeping the last
       TAIL_BYTES of its output (stdout and stderr together, in the order they were read);
       SIGINT and SIGTERM are forwarded to it. A command that cannot be started is status 127
       (not found) or 126 (not executable), said on stderr.
    3. POST `{ping_url}/<exit status>?rid=<id>` with the tail of the output as its body.
       A SIGINT or SIGTERM meanwhile cuts the report short (the status is still the job's).

    A ping the monitor does not take is retried (see `Monitor`), then given up; whatever did
    not reach the monitor is said in one line on stderr at the end, without the ping key.
    """
    rid = str(uuid.uuid4())
    failures: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    with Monitor(ping_url, retries, timeout) as monitor, _Signals() as signals:
        try:
            with signals.pinging():
                failures += monitor.ping("start", rid)
        except _Interrupted as stop:
            _say(f"stopped by {stop.name} before the job started; nothing more reported")
            return 128 + stop.signum
        status, tail, ran = _run(command, signals)
        try:
            with signals.pinging():
                failures += monitor.ping(str(status), rid, tail)
        except _Interrupted as stop:
            failures.append(f"exit status ping: interrupted by {stop.name}")
    if failures:
        outcome = "the job ran anyway" if ran else "the job did not run"
        _say(f"could not reach the monitor: {', '.join(failures)} ({monitor.shown_url}); {outcome}")
    return status


class OutputTail:
    """The last `size` bytes appended to it, from any number of threads: memory stays bounded
    (size plus one chunk) whatever goes through."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._buffer = bytearray()
        self._lock = threading.Lock()

    def append(self, chunk: bytes) -> None:
        """Keep the end of `chunk`, dropping the oldest bytes beyond `size`."""
        with self._lock:
            self._buffer += chunk[-self._size :]
            del self._buffer[: -self._size]

    def value(self) -> bytes:
        """The bytes kept, oldest first."""
        with self._lock:
            return bytes(self._buffer)


class Monitor:
    """The heartbeat monitor behind a ping URL, pinged with POST requests; a context manager
    holding one HTTP client. Proxies and CA bundle come from the environment, as with curl."""

    def __init__(
        self,
        ping_url: str,
        retries: int,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = httpx.URL(ping_url)
        self._retries = retries
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self.shown_url = masked_ping_url(ping_url)
        self._secrets = _key_segments(ping_url)

    def ping(self, what: str, rid: str, body: bytes = b"") -> list[str]:
        """POST `{ping_url}/{what}?rid={rid}` with `body` as text/plain; retry a failed request
        or a 408, 429 or 5xx answer up to `retries` times, BACKOFF_SECONDS, then twice as
        long... apart. No failure: []; else one text saying why, without the key."""
        path = self._url.path.rstrip("/")
        url = self._url.copy_with(path=f"{path}/{what}")
        reason, attempts = "", 0
        while attempts <= self._retries:
            if attempts:
                self._sleep(min(BACKOFF_SECONDS * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))
            attempts += 1
            try:
                response = self._client.post(
                    url,
                    params={"rid": rid},
                    content=body,
                    headers={"Content-Type": "text/plain"},
                )
            except (httpx.HTTPError, OSError) as exc:
                reason = describe_error(exc, str(url))
                continue
            if response.is_success:
                return []
            reason = f"HTTP {response.status_code}"
            if response.status_code not in _RETRIED_STATUSES and response.status_code < 500:
                break
        name = "start" if what == "start" else "exit status"
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        return [f"{name} ping: {self._scrubbed(reason)} ({tries})"]

    def _scrubbed(self, text: str) -> str:
        """`text` with the key's parts of the URL replaced by '…'."""
        for secret in self._secrets:
            text = text.replace(secret, "…")
        return text

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.close()


def masked_ping_url(url: str) -> str:
    """A ping URL as it may be shown: scheme://host[:port], and of the path only its first
    segment when it has more than one (`/ping/…`); the rest may be, or hold, the key."""
    shown = redact("ping", url)
    segments = [part for part in urlsplit(url).path.split("/") if part]
    if len(segments) > 1:
        return f"{shown}/{segments[0]}/…"
    return f"{shown}/…" if segments else shown


def _key_segments(url: str) -> list[str]:
    """The parts of a ping URL's path that `masked_ping_url` hides (longer ones first, so that
    one holding another is replaced whole)."""
    segments = [part for part in urlsplit(url).path.split("/") if part]
    hidden = segments[1:] if len(segments) > 1 else segments
    return sorted((part for part in hidden if len(part) > 3), key=len, reverse=True)


class _Interrupted(Exception):
    """Raised by the signal handler while a ping is under way, to cut it short."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


class _Signals:
    """SIGINT and SIGTERM while the wrapper runs: during a ping they cut it short
    (`_Interrupted`); while the command runs they are forwarded to it (one received just before
    it was started, once it is). A signal the wrapper was started ignoring stays ignored, and so
    the command inherits it ignored, as it would without the wrapper."""

    def __init__(self) -> None:
        self._pinging = False
        self._child: subprocess.Popen[bytes] | None = None
        self._pending: int | None = None
        self._previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    @contextmanager
    def pinging(self) -> Iterator[None]:
        """While a ping is under way: a signal raises `_Interrupted`."""
        self._pinging = True
        try:
            yield
        finally:
            self._pinging = False

    def started(self, child: subprocess.Popen[bytes]) -> None:
        """The command started: forward what came just before, and what comes now."""
        self._child = child
        if self._pending is not None:
            child.send_signal(self._pending)

    def ended(self) -> None:
        """The command ended: nothing more to forward."""
        self._child = None

    def _handle(self, signum: int, _: FrameType | None) -> None:
        if self._pinging:
            raise _Interrupted(signum)
        if self._child is None:
            self._pending = signum
        else:
            self._child.send_signal(signum)  # a no-op once it was waited for

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for signum in _FORWARDED:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _run(command: Sequence[str], signals: _Signals) -> tuple[int, bytes, bool]:
    """Run the command, teeing its stdout and stderr to ours; its exit status (128+N when killed
    by signal N, 126 or 127 when it cannot be started), the tail of its output (or why it
    could not be started), and whether it was started."""
    tail = OutputTail(TAIL_BYTES)
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except (OSError, ValueError) as exc:
        missing = isinstance(exc, FileNotFoundError | NotADirectoryError)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        reason = f"cannot run {command[0]!r}: {why}"
        _say(reason)
        return (NOT_FOUND if missing else NOT_EXECUTABLE), reason.encode(), False
    signals.started(child)
    assert child.stdout is not None and child.stderr is not None
    tees = [
        threading.Thread(target=_tee, args=(pipe, fd, tail), name=name, daemon=True)
        for pipe, fd, name in ((child.stdout, 1, "tee-stdout"), (child.stderr, 2, "tee-stderr"))
    ]
    for tee in tees:
        tee.start()
    returncode = child.wait()
    signals.ended()
    deadline = time.monotonic() + DRAIN_SECONDS
    for tee in tees:
        tee.join(max(0.0, deadline - time.monotonic()))
    return (128 - returncode if returncode < 0 else returncode), tail.value(), True


def _tee(source: IO[bytes], sink: int, tail: OutputTail) -> None:
    """Copy `source` to the file descriptor `sink` and into `tail` until its end. When the sink
    fails (closed, a broken pipe) the copy stops but the reading goes on, so that the command
    never blocks on a full pipe."""
    fd = source.fileno()
    writing = True
    while chunk := os.read(fd, CHUNK_BYTES):
        tail.append(chunk)
        while writing and chunk:
            try:
                chunk = chunk[os.write(sink, chunk) :]
            except OSError:
                writing = False
    source.close()


def _say(text: str) -> None:
    """One line on stderr, after what the command wrote there."""
    print(f"statuschecker wrap: {text}", file=sys.stderr, flush=True)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"needs 0 or more, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"needs a number of seconds above 0, not {text}")
    return value
