"""HTTP(S) check: send the service's request on a fresh connection, follow redirects, read a
bounded body, and judge the final response against the service's expectations.

Up means the final response meets every expectation (see `expectations`; by default, a 2xx
status); each one missed is named in `error`, joined with "; ". A target that gives no response
is a down result whose `error` names the reason ("timeout (connect)", "connection refused",
"DNS failure: host", "refused by target policy: 10.0.0.1 is a private address", "not an HTTP
response: '-ERR unknown command'", ...); one that fails after its response headers is down with
the status it gave and the reason "... while reading the body" ("connection reset while reading
the body"); only `asyncio.CancelledError` propagates.

Phases: the host is resolved here (timed as `dns_ms`) and the request is sent to the address
found, with the URL's host in the Host header and as the TLS server name, against which the
certificate is still verified; `connect_ms` and `tls_ms` come from httpcore's trace events. For
a redirect chain they are the final request's: no connection is kept for a second request.
Without private targets allowed, the transport verifies each address it connects to, on every
hop (`netpolicy.guard`).

Cost per check is kept small on purpose: one TLS context per trust store (building one costs
milliseconds), a fresh `AsyncClient` with its own transport per check (a shared pool degrades
under high concurrency and would hide connection problems behind kept-alive sockets), and no
work the check does not need (no proxy lookup from the environment, a body kept and decoded
only when an expectation looks at it).

The first bytes each connection receives are kept (`_Recording`, a wrapper of the transport's
network backend), so that a peer speaking something else than HTTP is named as such, whether
the parser rejects what it sent or waits in vain for the end of a header block that never
comes (a Redis or SMTP server answers line by line, without the blank line HTTP ends on).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpcore
import httpx
import regex

from statuschecker.checks import expectations
from statuschecker.checks.expectations import Expectations
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused, guard
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
_NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)  # each request times its own connect
_HEAD_BYTES = 64  # how much of what a connection receives first is kept, to name a non-HTTP peer
_SHOWN_CHARS = 40  # how much of that an error message quotes
_TLS_RECORD_TYPES = frozenset({0x15, 0x16})  # alert, handshake: a TLS server's first words


class _Down(Exception):
    """The check is over, down for the reason given."""


async def check(spec: CheckSpec) -> CheckResult:
    """Send the service's request within `spec.timeout_seconds` and judge the final response."""
    started = time.perf_counter()
    phases = _Phases()
    deadline = asyncio.timeout(spec.timeout_seconds)
    try:
        async with deadline, _client(spec, phases) as client:
            return await _probe(client, spec, phases, started)
    except TimeoutError as exc:
        if deadline.expired():
            return phases.down(f"timeout (deadline {spec.timeout_seconds:g}s)")
        return phases.down(describe_error(exc, spec.url))
    except (_Down, TargetRefused) as exc:
        return phases.down(str(exc))
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        return phases.down(describe_error(exc, spec.url))


def _client(spec: CheckSpec, phases: _Phases) -> httpx.AsyncClient:
    """A client with its own one-shot transport, closed when the check ends; without private
    targets allowed, the transport verifies each address it connects to (every redirect hop).
    Each connection's first bytes go to `phases`."""
    transport = httpx.AsyncHTTPTransport(
        verify=client_context(spec.limits.ca_bundle),
        retries=0,
        limits=_NO_KEEPALIVE,
    )
    if not spec.limits.allow_private_targets:
        guard(transport)
    # httpx 0.28 takes no network backend (encode/httpx#3749): its httpcore pool does.
    pool = transport._pool
    pool._network_backend = _Recording(pool._network_backend, phases)
    return httpx.AsyncClient(
        transport=transport,
        headers={"User-Agent": spec.limits.user_agent},
        timeout=httpx.Timeout(spec.timeout_seconds),
        follow_redirects=False,  # followed by hand in `_final_response`: see there why
        trust_env=False,
    )


async def _probe(
    client: httpx.AsyncClient, spec: CheckSpec, phases: _Phases, started: float
) -> CheckResult:
    """Send the request, time the headers and the bounded body, and judge the response."""
    options = _usable(spec.options)  # what `unused` names stays out of the request and judgement
    try:
        expect = Expectations.of(options)
    except regex.error as exc:
        raise _Down(f"body_regex is not a valid regular expression: {exc}") from None
    response = await _final_response(client, spec, options, phases)
    try:
        ttfb_ms = _ms_since(started)
        phases.status_code = response.status_code  # from now on, a failure is the body's
        cert_expires_at = _cert_expiry(response)
        max_bytes = spec.limits.max_body_bytes
        body, cut = await _read_bounded(response, max_bytes, keep=expect.reads_body)
        total_ms = _ms_since(started)
    finally:
        await response.aclose()
    dns_ms, connect_ms, tls_ms = phases.dns_ms, phases.connect_ms, phases.tls_ms
    failures = expect.failures(
        response.status_code,
        body,
        max_bytes if cut else None,
        {"dns": dns_ms, "connect": connect_ms, "tls": tls_ms, "ttfb": ttfb_ms, "total": total_ms},
    )
    return CheckResult(
        up=not failures,
        response_time_ms=total_ms,
        ttfb_ms=ttfb_ms,
        status_code=response.status_code,
        error="; ".join(failures) or None,
        dns_ms=dns_ms,
        connect_ms=connect_ms,
        tls_ms=tls_ms,
        cert_expires_at=cert_expires_at,
    )


async def _final_response(
    client: httpx.AsyncClient, spec: CheckSpec, options: Mapping[str, Any], phases: _Phases
) -> httpx.Response:
    """Send the request and, with `follow_redirects`, up to `max_redirects` redirects; return
    the final response, body unread.

    Redirects are followed here rather than by httpx because httpx reads every intermediate
    redirect body in full, without any bound, and because each request of the chain goes to an
    address resolved here.
    """
    hop = _Hop.first(spec.url, options)
    follow = options.get("follow_redirects", True)
    for _ in range(spec.limits.max_redirects + 1):
        response = await _send(client, hop, phases)
        if not (follow and response.has_redirect_location):
            return response
        await response.aclose()
        hop = hop.redirected(response)
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
            url=httpx.URL(url),
            headers=options.get("headers", {}),
            body=None if body is None else body.encode(),
        )

    def redirected(self, response: httpx.Response) -> _Hop:
        """The request a redirect response asks for, made as httpx makes it: 301 (from POST),
        302 and 303 become GET without a body, and credentials stay with their origin."""
        url = self.url.join(response.headers["Location"])
        if url.scheme not in _DEFAULT_PORTS:
            raise _Down(f"redirect to an unsupported URL scheme {url.scheme!r}")
        status, method = response.status_code, self.method
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            method = "GET"
        headers = self.headers
        if (url.scheme, url.host, url.port) != (self.url.scheme, self.url.host, self.url.port):
            headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
        return _Hop(method, url, headers, self.body if method == self.method else None)


async def _send(client: httpx.AsyncClient, hop: _Hop, phases: _Phases) -> httpx.Response:
    """Send `hop` to the first address of its host that takes the connection."""
    *others, last = await phases.resolve(hop.url)
    for address in others:
        try:
            return await _send_to(client, hop, address, phases)
        except httpx.ConnectError:
            if phases.connected:  # the address took the connection; TLS failed
                raise
    return await _send_to(client, hop, last, phases)


async def _send_to(
    client: httpx.AsyncClient, hop: _Hop, address: str, phases: _Phases
) -> httpx.Response:
    """Send `hop` to `address`, naming its host in the Host header and as TLS server name."""
    phases.new_attempt()
    url, headers = hop.url, hop.headers
    extensions: dict[str, Any] = {"trace": phases.trace}
    host = url.raw_host.decode("ascii")
    if address != host:
        url = url.copy_with(host=address)
        headers = {**headers, "Host": hop.url.netloc.decode("ascii")}
        extensions["sni_hostname"] = host
    request = client.build_request(
        hop.method, url, headers=headers, content=hop.body, extensions=extensions
    )
    return await client.send(request, stream=True)


class _Phases:
    """The timing of the request in flight: its DNS lookup, made and timed here, and httpcore's
    trace events for the rest."""

    __slots__ = ("_head", "_marks", "dns_ms", "status_code")

    def __init__(self) -> None:
        self.dns_ms: float | None = None
        self.status_code: int | None = None  # the final response's, once its headers are in
        self._marks: dict[str, float] = {}
        self._head = bytearray()  # what the current connection received first

    async def resolve(self, url: httpx.URL) -> list[str]:
        """Start timing a new request: the addresses of `url`'s host, in the resolver's order
        (an IP address stands for itself); `_Down` "DNS failure: host" when there are none."""
        self.dns_ms = None
        self.new_attempt()
        host = url.raw_host.decode("ascii")
        if _is_ip_address(host):
            self.dns_ms = 0.0
            return [host]
        started = time.perf_counter()
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror:
            raise _Down(f"DNS failure: {url.host}") from None
        self.dns_ms = _ms_since(started)
        return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))

    def new_attempt(self) -> None:
        """Forget the trace events and first bytes of an earlier connection attempt."""
        self._marks.clear()
        self._head.clear()

    def received(self, data: bytes) -> None:
        """Keep the first `_HEAD_BYTES` the current connection receives (after TLS)."""
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]

    async def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's `trace` extension: note when each event happened."""
        self._marks[event] = time.perf_counter()

    @property
    def connected(self) -> bool:
        """Whether the current attempt got a TCP connection."""
        return "connection.connect_tcp.complete" in self._marks

    @property
    def connect_ms(self) -> float | None:
        """TCP connect time of the current request, once connected."""
        return self._span("connect_tcp")

    @property
    def tls_ms(self) -> float | None:
        """TLS handshake time of the current request, once done; None over plain HTTP."""
        return self._span("start_tls")

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

    def _span(self, step: str) -> float | None:
        started = self._marks.get(f"connection.{step}.started")
        done = self._marks.get(f"connection.{step}.complete")
        return None if started is None or done is None else (done - started) * 1000.0


class _Recording(httpcore.AsyncNetworkBackend):
    """A network backend handing what each of its connections receives to the check's
    `_Phases` (after TLS, if any); everything else is the wrapped backend's."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend, phases: _Phases) -> None:
        self._backend = backend
        self._phases = phases

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A recorded stream to `host`."""
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _RecordedStream(stream, self._phases)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A recorded stream to the Unix socket `path` (when the wrapped backend allows it)."""
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return _RecordedStream(stream, self._phases)

    async def sleep(self, seconds: float) -> None:
        """Sleep, as the wrapped backend does."""
        await self._backend.sleep(seconds)


class _RecordedStream(httpcore.AsyncNetworkStream):
    """A network stream whose reads are also handed to `_Phases.received`."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, phases: _Phases) -> None:
        self._stream = stream
        self._phases = phases

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        """Read, and record what came."""
        data = await self._stream.read(max_bytes, timeout)
        self._phases.received(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Write, as the wrapped stream does."""
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        """Close the wrapped stream."""
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        """Start TLS; what the TLS stream receives (in clear) is recorded in turn."""
        tls = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _RecordedStream(tls, self._phases)

    def get_extra_info(self, info: str) -> Any:
        """The wrapped stream's (the TLS object, the socket, ...)."""
        return self._stream.get_extra_info(info)


def _is_ip_address(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address (cheaper than `ipaddress` per check)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return True
    return False


def _cert_expiry(response: httpx.Response) -> datetime | None:
    """The end of validity of the server certificate, when the response came over TLS."""
    stream = response.extensions.get("network_stream")
    if stream is None or response.url.scheme != "https":
        return None
    return peer_cert_expiry(stream.get_extra_info("ssl_object"))


async def _read_bounded(response: httpx.Response, max_bytes: int, keep: bool) -> tuple[bytes, bool]:
    """Read at most about `max_bytes` of the body; return the part kept (decoded, up to
    `max_bytes`, and only when `keep`: else b"") and whether the body went on past the bound."""
    kept: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes() if keep else response.aiter_raw():
        received += len(chunk)
        if keep:
            kept.append(chunk)
        if received > max_bytes:
            return b"".join(kept)[:max_bytes], True
    return b"".join(kept), False


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
