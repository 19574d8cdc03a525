"""HTTP(S) check: send the service's request on a fresh connection, follow redirects, read a
bounded body, and judge the final response against the service's expectations.

Up means the final response meets every expectation (see `expectations`; by default, a 2xx
status); each one missed is named in `error`, joined with "; ". A target that gives no response
is a down result whose `error` names the reason ("timeout (deadline 10s)", "connection refused",
"DNS failure: host", "refused by target policy: 10.0.0.1 is a private address", "not an HTTP
response: '-ERR unknown command'", ...); one that fails after its response headers is down with
the status it gave and the reason "... while reading the body" ("connection reset while reading
the body"); only `asyncio.CancelledError` propagates.

Each request of a redirect chain gets a connection of its own, made here in steps timed as its
phases: the host is resolved (`dns_ms`; an IP address stands for itself); without private
targets allowed, every address found is verified (`netpolicy.refuse_forbidden`), on every hop;
TCP connects to the first address that takes the connection (`connect_ms`), never to the name
again, from the source address `net.source` picks for it; over https, TLS starts on it with the
URL's host as server name, against which the certificate is verified (`tls_ms`). The request
names that host in its Host header. The phases of a redirect chain are the final request's.

HTTP/1.1 itself is h11's (a protocol state machine that does no I/O of its own) over asyncio
streams: one request per connection needs no client, pool or transport layer, and those cost
most of a check's CPU (scripts/bench/http_check.py measures the difference). Cost is also kept
down by one TLS context per trust store (building one costs milliseconds), no connection kept
for later (a shared pool would hide connection problems behind kept-alive sockets), and no work
the check does not need (a body kept and decoded only when an expectation looks at it).

The first bytes each connection receives (after TLS) are kept, so that a peer speaking something
else than HTTP is named as such, whether the parser rejects what it sent or waits in vain for the
end of a header block that never comes (a Redis or SMTP server answers line by line, without the
blank line HTTP ends on).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import h11
import httpx
import regex

from statuschecker.checks import expectations
from statuschecker.checks.expectations import Expectations
from statuschecker.model import CheckLimits, CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused, refuse_forbidden
from statuschecker.net.source import open_connection
from statuschecker.net.tls import client_context, peer_cert_expiry
from statuschecker.text import storable

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_HEADERS = 50
MAX_HEADER_VALUE_CHARS = 4_096
MAX_REQUEST_BODY_CHARS = 65_536
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_SET_BY_THE_CHECK = frozenset({"host", "content-length", "transfer-encoding"})
_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The headers httpx sends by default (the engine's User-Agent is added); a service's own
# headers replace them by name, in any case.
_DEFAULT_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
)
_WBITS = {b"gzip": zlib.MAX_WBITS | 16, b"deflate": zlib.MAX_WBITS}  # the codings accepted
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_BYTES = 65_536
_MAX_HEAD_BYTES = 102_400  # the largest response head taken, as httpcore takes it
_PARSED_URLS = 8_192  # how many service URLs `_parsed` keeps (about 600 bytes each)
_HEAD_BYTES = 64  # how much of what a connection receives first is kept, to name a non-HTTP peer
_SHOWN_CHARS = 40  # how much of that an error message quotes
_TLS_RECORD_TYPES = frozenset({0x15, 0x16})  # alert, handshake: a TLS server's first words


class _Down(Exception):
    """The check is over, down for the reason given."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a request found: the judged result, and (when asked for) the body read and the
    response's headers, for a journey's captures."""

    result: CheckResult
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


async def check(spec: CheckSpec) -> CheckResult:
    """Send the service's request within `spec.timeout_seconds` and judge the final response."""
    return (await answer(spec, keep_body=False)).result


async def answer(spec: CheckSpec, *, keep_body: bool) -> Answer:
    """`check`'s request and judgement, with the final response's headers and, when
    `keep_body`, its body (up to `max_body_bytes`, decoded), or nothing of either for a target
    that gave no response."""
    started = time.perf_counter()
    phases = _Phases()
    deadline = asyncio.timeout(spec.timeout_seconds)
    try:
        async with deadline:
            return await _probe(spec, phases, started, keep_body)
    except TimeoutError:  # the deadline, or the kernel giving up on the connection
        if deadline.expired():
            return Answer(phases.down(f"timeout (deadline {spec.timeout_seconds:g}s)"))
        return Answer(phases.down(f"timeout ({'read' if phases.connected else 'connect'})"))
    except (_Down, TargetRefused) as exc:
        return Answer(phases.down(str(exc)))
    except h11.ProtocolError as exc:
        return Answer(phases.down(f"protocol error: {exc}"))
    except (httpx.InvalidURL, OSError) as exc:
        return Answer(phases.down(describe_error(exc, spec.url)))


async def _probe(spec: CheckSpec, phases: _Phases, started: float, keep_body: bool) -> Answer:
    """Send the request, time the headers and the bounded body, and judge the response."""
    options = _usable(spec.options)  # what `unused` names stays out of the request and judgement
    try:
        expect = Expectations.of(options)
    except regex.error as exc:
        raise _Down(f"body_regex is not a valid regular expression: {exc}") from None
    with contextlib.ExitStack() as connections:
        exchange = await _final_exchange(spec, options, phases, connections)
        ttfb_ms = _ms_since(started)
        status = phases.status_code = exchange.status  # from now on, a failure is the body's
        cert_expires_at = peer_cert_expiry(exchange.ssl_object)
        max_bytes = spec.limits.max_body_bytes
        body, cut = await exchange.read_body(max_bytes, keep=expect.reads_body or keep_body)
        total_ms = _ms_since(started)
    dns_ms, connect_ms, tls_ms = phases.dns_ms, phases.connect_ms, phases.tls_ms
    failures = expect.failures(
        status,
        body,
        max_bytes if cut else None,
        {"dns": dns_ms, "connect": connect_ms, "tls": tls_ms, "ttfb": ttfb_ms, "total": total_ms},
    )
    result = CheckResult(
        up=not failures,
        response_time_ms=total_ms,
        ttfb_ms=ttfb_ms,
        status_code=status,
        error="; ".join(failures) or None,
        dns_ms=dns_ms,
        connect_ms=connect_ms,
        tls_ms=tls_ms,
        cert_expires_at=cert_expires_at,
    )
    return Answer(result, body, exchange.headers)


async def _final_exchange(
    spec: CheckSpec,
    options: Mapping[str, Any],
    phases: _Phases,
    connections: contextlib.ExitStack,
) -> _Exchange:
    """Send the request and, with `follow_redirects`, up to `max_redirects` redirects, each on
    a connection of its own that `connections` closes; the final exchange, its body unread.

    A redirect's body is never read, and each request of the chain goes to an address
    resolved (and verified) for its own host.
    """
    hop = _Hop.first(spec.url, options)
    follow = options.get("follow_redirects", True)
    for _ in range(spec.limits.max_redirects + 1):
        exchange = await _Exchange.open(hop.url, spec.limits, phases, connections)
        await exchange.send(hop.request(spec.limits.user_agent))
        location = exchange.location() if follow else None
        if location is None:
            return exchange
        exchange.close()
        hop = hop.redirected(exchange.status, location)
    raise _Down("too many redirects")


@dataclass(frozen=True, slots=True)
class _Hop:
    """One request of a redirect chain, addressed by host name."""

    method: str
    url: httpx.URL
    headers: Mapping[str, str]
    body: bytes | None

    @classmethod
    def first(cls, url: str, options: Mapping[str, Any]) -> _Hop:
        """The request the service's (usable) options describe."""
        body = options.get("body")
        return cls(
            method=options.get("method", "GET"),
            url=_parsed(url),
            headers=options.get("headers", {}),
            body=None if body is None else body.encode(),
        )

    def request(self, user_agent: str) -> list[h11.Event]:
        """The request as h11 events, with the headers httpx would send: Host, its defaults
        with `user_agent` and the hop's headers over them, and the body's Content-Length."""
        fields = {name.lower(): (name, value) for name, value in _DEFAULT_HEADERS}
        fields["user-agent"] = ("User-Agent", user_agent)
        fields.update((name.lower(), (name, value)) for name, value in self.headers.items())
        headers = [("Host", self.url.netloc.decode("ascii")), *fields.values()]
        if self.body is not None or self.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(self.body or b""))))
        events: list[h11.Event] = [
            h11.Request(method=self.method, target=self.url.raw_path, headers=headers)
        ]
        if self.body:
            events.append(h11.Data(data=self.body))
        events.append(h11.EndOfMessage())
        return events

    def redirected(self, status: int, location: str) -> _Hop:
        """The request a redirect response asks for, made as httpx makes it: 301 (from POST),
        302 and 303 become GET without a body, and credentials stay with their origin."""
        url = self.url.join(location)
        if url.scheme not in _DEFAULT_PORTS:
            raise _Down(f"redirect to an unsupported URL scheme {url.scheme!r}")
        method = self.method
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            method = "GET"
        headers = self.headers
        if (url.scheme, url.host, url.port) != (self.url.scheme, self.url.host, self.url.port):
            headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
        return _Hop(method, url, headers, self.body if method == self.method else None)


class _Exchange:
    """One request and its response on a connection of its own: h11's state machine over an
    asyncio stream, handing what the connection receives to the check's `_Phases`."""

    __slots__ = ("_h11", "_phases", "_reader", "_response", "_writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, phases: _Phases
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._phases = phases
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self._response: h11.Response | None = None

    @classmethod
    async def open(
        cls,
        url: httpx.URL,
        limits: CheckLimits,
        phases: _Phases,
        connections: contextlib.ExitStack,
    ) -> _Exchange:
        """A connection to `url`'s host (see the module's docstring), closed when
        `connections` exits if not before."""
        addresses = await phases.resolve(url, limits.allow_private_targets)
        port = url.port or _DEFAULT_PORTS[url.scheme]
        reader, writer = await _connect(addresses, port, limits.source_address, phases)
        exchange = cls(reader, writer, phases)
        connections.callback(exchange.close)
        if url.scheme == "https":
            context = client_context(limits.ca_bundle)
            await phases.start_tls(writer, context, url.raw_host.decode("ascii"))
        return exchange

    @property
    def status(self) -> int:
        """The response's status code, once `send` returned."""
        assert self._response is not None, "no response yet"
        return self._response.status_code

    @property
    def ssl_object(self) -> Any:
        """The connection's TLS object (None over plain HTTP)."""
        return self._writer.get_extra_info("ssl_object")

    async def send(self, request: list[h11.Event]) -> None:
        """Send the request and wait for the response's head (interim 1xx responses skipped).

        A failure to write is not raised here: a server may answer and close before it has read
        the whole request, and what it answered (or the reset) comes from the reading.
        """
        self._writer.write(b"".join(self._h11.send(event) or b"" for event in request))
        while self._response is None:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                self._response = event
            elif not isinstance(event, h11.InformationalResponse):
                raise _Down(f"protocol error: {type(event).__name__} before the response")

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The response's headers, names in lower case, values as text."""
        assert self._response is not None, "no response yet"
        return tuple((name.decode("ascii"), _text(value)) for name, value in self._response.headers)

    def location(self) -> str | None:
        """Where the response redirects to; None when it is no redirect (or names no place)."""
        assert self._response is not None, "no response yet"
        if self._response.status_code not in _REDIRECT_STATUSES:
            return None
        return next(
            (_text(value) for name, value in self._response.headers if name == b"location"), None
        )

    async def read_body(self, max_bytes: int, keep: bool) -> tuple[bytes, bool]:
        """Read at most about `max_bytes` of the body; return the part kept (decoded from gzip
        or deflate, up to `max_bytes`, and only when `keep`: else b"") and whether the body went
        on past the bound. Decoding stops at the bound too: a small body may inflate to any
        size."""
        decoder = self._decoder() if keep else None
        kept: list[bytes] = []
        received = 0
        while not isinstance(event := await self._next_event(), h11.EndOfMessage):
            if not isinstance(event, h11.Data):
                raise _Down(f"protocol error: {type(event).__name__} within the body")
            chunk = event.data
            if decoder is not None:
                try:
                    chunk = decoder.decompress(chunk, max_bytes + 1 - received)
                except zlib.error as exc:
                    raise _Down(f"content decoding failed: {exc}") from None
            received += len(chunk)
            if keep:
                kept.append(chunk)
            if received > max_bytes:
                return b"".join(kept)[:max_bytes], True
        return b"".join(kept), False

    def close(self) -> None:
        """Close the connection at once (no TLS close_notify waited for)."""
        self._writer.transport.abort()

    async def _next_event(self) -> object:
        """h11's next event, reading from the connection as it needs; a peer that closes
        before its response is `_Down`, in httpcore's words."""
        while (event := self._h11.next_event()) is h11.NEED_DATA:
            data = await self._reader.read(_READ_BYTES)
            if not data and self._h11.their_state is h11.SEND_RESPONSE:
                raise _Down("protocol error: Server disconnected without sending a response.")
            self._phases.received(data)
            self._h11.receive_data(data)
        return event

    def _decoder(self) -> Any:
        """A decompressor for the body's content coding when it is gzip or deflate, else None
        (the body is kept as it came)."""
        assert self._response is not None, "no response yet"
        for name, value in self._response.headers:
            if name == b"content-encoding":
                wbits = _WBITS.get(value.strip().lower())
                return None if wbits is None else zlib.decompressobj(wbits)
        return None


class _Phases:
    """The phases of the request in flight, each timed as the check goes through it, and what
    its connection received first."""

    __slots__ = ("_head", "connect_ms", "dns_ms", "status_code", "tls_ms")

    def __init__(self) -> None:
        self.dns_ms: float | None = None
        self.connect_ms: float | None = None
        self.tls_ms: float | None = None
        self.status_code: int | None = None  # the final response's, once its headers are in
        self._head = bytearray()  # what the current connection received first

    @property
    def connected(self) -> bool:
        """Whether the current attempt got a TCP connection."""
        return self.connect_ms is not None

    async def resolve(self, url: httpx.URL, allow_private_targets: bool) -> list[str]:
        """Start timing a new request: the addresses of `url`'s host, in the resolver's order (an
        IP address stands for itself); `_Down` "DNS failure: host" when there are none, and
        without `allow_private_targets`, `TargetRefused` when the policy forbids any of them."""
        self.dns_ms = None
        self.new_attempt()
        host = url.raw_host.decode("ascii")
        if _is_ip_address(host):
            self.dns_ms = 0.0
            addresses = [host]
        else:
            started = time.perf_counter()
            port = url.port or _DEFAULT_PORTS[url.scheme]
            try:
                found = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (socket.gaierror, UnicodeError):  # UnicodeError: a label too long for IDNA
                raise _Down(f"DNS failure: {url.host}") from None
            self.dns_ms = _ms_since(started)
            addresses = list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))
        if not allow_private_targets:
            refuse_forbidden(addresses)
        return addresses

    def new_attempt(self) -> None:
        """Forget the connection times and first bytes of an earlier connection attempt."""
        self.connect_ms = self.tls_ms = None
        self._head.clear()

    async def connect(
        self, address: str, port: int, source: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A timed TCP connection to `address`, from `source` when it applies to it."""
        self.new_attempt()
        started = time.perf_counter()
        connection = await open_connection(address, port, source)
        self.connect_ms = _ms_since(started)
        return connection

    async def start_tls(
        self, writer: asyncio.StreamWriter, context: ssl.SSLContext, host: str
    ) -> None:
        """A timed TLS handshake on `writer`'s connection, naming and verifying `host`."""
        started = time.perf_counter()
        await writer.start_tls(context, server_hostname=host)
        self.tls_ms = _ms_since(started)

    def received(self, data: bytes) -> None:
        """Keep the first `_HEAD_BYTES` the current connection receives (after TLS)."""
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]

    def down(self, error: str) -> CheckResult:
        """A down result with a reason and the phases the last request got through.

        1. When the peer sent something that does not begin like an HTTP response, that is
           the reason, whatever the parser or the deadline made of it.
        2. When the final response's headers were in, the reason says the body failed, and
           the result keeps the status.
        """
        not_http = self._not_http()
        if not_http is not None:
            error = not_http
        elif self.status_code is not None:
            error = f"{error} while reading the body"
        return CheckResult(
            up=False,
            status_code=self.status_code,
            error=error,
            dns_ms=self.dns_ms,
            connect_ms=self.connect_ms,
            tls_ms=self.tls_ms,
        )

    def _not_http(self) -> str | None:
        """'not an HTTP response: ...' quoting what the peer sent first, when that cannot be
        the start of an HTTP/1.x status line; else None."""
        head = bytes(self._head)
        if not head or head[: len(b"HTTP/")] == b"HTTP/"[: len(head)]:
            return None
        if len(head) > 1 and head[0] in _TLS_RECORD_TYPES and head[1] == 0x03:
            return "not an HTTP response: the peer speaks TLS (an https:// URL?)"
        line = head.split(b"\n", 1)[0].removesuffix(b"\r")
        cut = len(line) > _SHOWN_CHARS or (line == head and len(head) == _HEAD_BYTES)
        shown = repr(line[:_SHOWN_CHARS].decode("latin-1"))
        return f"not an HTTP response: {shown}{'...' if cut else ''}"


async def _connect(
    addresses: list[str], port: int, source: str | None, phases: _Phases
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the first of `addresses` that takes it, from `source` where it applies;
    the last one's error when none does."""
    *others, last = addresses
    for address in others:
        with contextlib.suppress(OSError):
            return await phases.connect(address, port, source)
    return await phases.connect(last, port, source)


@functools.lru_cache(maxsize=_PARSED_URLS)
def _parsed(url: str) -> httpx.URL:
    """`url` parsed, from a cache: a poller checks the same URLs over and over, and parsing one
    costs about a twentieth of a check's CPU."""
    return httpx.URL(url)


def _is_ip_address(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address (cheaper than `ipaddress` per check)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return True
    return False


def _text(value: bytes) -> str:
    """A header value as text: UTF-8 when it is, else Latin-1 (as httpx reads headers)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _usable(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options without those `unused` names."""
    left_out = unused(options)
    usable = {name: value for name, value in options.items() if name not in left_out}
    if "headers" in usable:
        headers = usable["headers"].items()
        usable["headers"] = {k: v for k, v in headers if f"headers.{k}" not in left_out}
    return usable


def _ms_since(started: float) -> float:
    """Milliseconds elapsed since a `time.perf_counter()` reading."""
    return (time.perf_counter() - started) * 1000.0


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The http(s) options in `raw`, checked and normalised; only those given are returned (the
    check applies the defaults); null stands for not given, except as `json_value`. ValueError
    naming the option at fault.

    Request: `method`, `headers`, `body`, `follow_redirects`; expectations: see `expectations`.
    """
    raw = {k: v for k, v in raw.items() if v is not None or k == "json_value"}  # null: not given
    given = {name: _VALIDATORS[name](value) for name, value in raw.items() if name in _VALIDATORS}
    return given | expectations.validate(raw)


def unused(options: Mapping[str, Any]) -> dict[str, str]:
    """The options (and `headers.<name>` for a header) that cannot apply as the others are
    set, with the reason: body expectations of a HEAD request (it gets no body), `json_value`
    without `json_field`, a header name that is not a token or that the check sets itself."""
    reasons = {}
    if str(options.get("method", "")).upper() == "HEAD":
        for name in sorted(options.keys() & expectations.BODY_OPTIONS):
            reasons[name] = "a HEAD request gets no body"
    if "json_value" in options and "json_field" not in options:
        reasons["json_value"] = "it applies to the value at json_field, which is not set"
    for name in options.get("headers") or {}:
        if not _TOKEN.fullmatch(name):
            reasons[f"headers.{name}"] = "not a header name (letters, digits and !#$%&'*+-.^_`|~)"
        elif name.lower() in _SET_BY_THE_CHECK:
            reasons[f"headers.{name}"] = "the check sets this header itself"
    return reasons


def advice(options: Mapping[str, Any]) -> list[str]:
    """`unused` in words, and the expectations' own advice."""
    unusable = [f"{name[:80]!r} is unused: {why}" for name, why in unused(options).items()]
    return unusable + expectations.advice(options)


def _method(value: Any) -> str:
    """One of `METHODS`, in capitals."""
    if not isinstance(value, str) or value.upper() not in METHODS:
        raise ValueError(f"method must be one of {', '.join(sorted(METHODS))}")
    return value.upper()


def _headers(value: Any) -> dict[str, str]:
    """Up to `MAX_HEADERS` names and printable ASCII values, stripped of surrounding blanks
    (a name the check cannot send is kept, and `unused`)."""
    if not isinstance(value, dict) or len(value) > MAX_HEADERS:
        raise ValueError(f"headers must be an object of at most {MAX_HEADERS} names and values")
    normal = {}
    for name, text in value.items():
        if (
            not isinstance(text, str)
            or len(text) > MAX_HEADER_VALUE_CHARS
            or not _HEADER_VALUE.fullmatch(text)
        ):
            raise ValueError(
                f"headers.{name} must be printable ASCII of at most {MAX_HEADER_VALUE_CHARS}"
                " characters"
            )
        normal[storable(name)] = text.strip(" \t")
    return normal


def _body(value: Any) -> str:
    """A string of at most `MAX_REQUEST_BODY_CHARS` characters that UTF-8 can encode."""
    if isinstance(value, str) and len(value) <= MAX_REQUEST_BODY_CHARS:
        with contextlib.suppress(UnicodeEncodeError):  # lone surrogates have no UTF-8
            value.encode()
            return value
    raise ValueError(f"body must be a string of at most {MAX_REQUEST_BODY_CHARS} characters")


def _follow_redirects(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ValueError("follow_redirects must be true or false")
    return value


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "method": _method,
    "headers": _headers,
    "body": _body,
    "follow_redirects": _follow_redirects,
}
OPTION_NAMES = frozenset(_VALIDATORS) | expectations.OPTIONS
"""The options of http(s) checks: the request's and the expectations'."""
