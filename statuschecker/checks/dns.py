"""DNS check: ask a resolver for the records of one type at a name (`dns://name`).

Up means the resolver answered with at least one record of the type and, when the
`expected_value` option is set, with one that matches it. A failing lookup is a down result
whose `error` names the reason ("NXDOMAIN", "no MX records", "SERVFAIL", "resolver refused",
"timeout (deadline 2s)", "answer does not contain ...", "refused by target policy: 10.0.0.53 is
a private address" for a `resolver` option the policy forbids, "cannot connect from 10.9.9.9:
..." for a source address that cannot be used); only `asyncio.CancelledError` propagates.
`dns_ms` and `response_time_ms` are the lookup time, reported whenever the resolver replied.
Each nameserver is asked from the source address `net.source` picks for its address.

How `expected_value` matches a record:

- TXT: the record's strings concatenated, without quotes, compared exactly.
- Any other type: the value in zone-file form ("192.0.2.1", "10 mail.example.com",
  "0 issue letsencrypt.org"), compared with the record without regard to case, spacing, quotes
  or a final dot on names. For MX and SRV the target host name alone ("mail.example.com") also
  matches.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from collections.abc import Mapping
from typing import Any

import dns.asyncbackend
import dns.asyncresolver
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.nameserver
import dns.rdata
import dns.resolver
import dns.reversename
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.SRV import SRV

from statuschecker.checks.urls import bare_host
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.policy import TargetRefused, refuse_forbidden
from statuschecker.net.source import check_bindable, source_for

_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA")
_DEFAULT_RECORD_TYPE = "A"
_DNS_PORT = 53
OPTION_NAMES = frozenset({"record_type", "resolver", "expected_value"})
_TARGET_TYPES = frozenset({"MX", "SRV"})  # whose target host alone may be the expected value
_MAX_SHOWN = 5  # answers quoted in a mismatch error
_LABEL = re.compile(rb"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?", re.IGNORECASE)
_RCODE_ERRORS = {"REFUSED": "resolver refused"}


async def check(spec: CheckSpec) -> CheckResult:
    """Look up `spec.url`'s name within `spec.timeout_seconds` and judge the answer."""
    record_type = spec.options.get("record_type", _DEFAULT_RECORD_TYPE)
    expected = spec.options.get("expected_value")
    try:
        qname = _query_name(spec.url, record_type)
        wanted = None if expected is None else _normalise_value(record_type, expected)
        resolver = _resolver(
            spec.options.get("resolver"),
            spec.limits.allow_private_targets,
            spec.limits.source_address,
        )
    except (ValueError, TargetRefused) as exc:
        return CheckResult(up=False, error=str(exc))
    except dns.resolver.NoResolverConfiguration:
        return CheckResult(up=False, error="no resolver configured")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            answer = await resolver.resolve(
                qname, record_type, lifetime=spec.timeout_seconds, search=False
            )
    except (TimeoutError, dns.exception.Timeout):
        return CheckResult(up=False, error=f"timeout (deadline {spec.timeout_seconds:g}s)")
    except dns.exception.DNSException as exc:
        took = _ms_since(started) if _replied(exc) else None
        reason = _describe(exc, record_type)
        return CheckResult(up=False, response_time_ms=took, dns_ms=took, error=reason)
    took = _ms_since(started)
    records = list(answer.rrset or ())
    if wanted is not None and not any(wanted in _forms(record) for record in records):
        error = f"answer does not contain {expected!r} (got: {_shown(records)})"
        return CheckResult(up=False, response_time_ms=took, dns_ms=took, error=error)
    return CheckResult(up=True, response_time_ms=took, dns_ms=took)


def _resolver(
    address: str | None, allow_private_targets: bool, source: str | None
) -> dns.asyncresolver.Resolver:
    """The system's stub resolver, or one asking only the server at `address`: without
    `allow_private_targets`, `TargetRefused` when the policy forbids that address (the system's
    resolvers are the operator's, and allowed). Either asks from `source` where it applies."""
    if address is None:
        resolver = dns.asyncresolver.Resolver()  # reads /etc/resolv.conf: picks up its changes
        if source is not None:
            resolver.nameservers = [
                _from_source(ns, resolver, source) for ns in resolver.nameservers
            ]
        return resolver
    resolver = dns.asyncresolver.Resolver(configure=False)
    host, port = _nameserver(address)
    if not allow_private_targets:
        refuse_forbidden([host])
    resolver.nameservers = [
        _from_source(dns.nameserver.Do53Nameserver(host, port), resolver, source)
    ]
    return resolver


def _from_source(
    nameserver: str | dns.nameserver.Nameserver,
    resolver: dns.resolver.BaseResolver,
    source: str | None,
) -> str | dns.nameserver.Nameserver:
    """`nameserver` (an address as the resolver holds it, or a nameserver), asked from `source`
    when that applies to its address; other nameservers as they are."""
    if isinstance(nameserver, str) and dns.inet.is_address(nameserver):
        port = resolver.nameserver_ports.get(nameserver, resolver.port)
        nameserver = dns.nameserver.Do53Nameserver(nameserver, port)
    if not isinstance(nameserver, dns.nameserver.Do53Nameserver):
        return nameserver
    local = source_for(source, nameserver.address)
    return nameserver if local is None else _SourcedNameserver(nameserver, local)


class _SourcedNameserver(dns.nameserver.Do53Nameserver):
    """A Do53 nameserver asked from a source address: the resolver passes one source to all
    its nameservers, which may be of both address families."""

    def __init__(self, nameserver: dns.nameserver.Do53Nameserver, source: str) -> None:
        super().__init__(nameserver.address, nameserver.port)
        self.source = source

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,  # noqa: ASYNC109 - dnspython's interface
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: dns.asyncbackend.Backend,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        """The query, from `self.source`; `SourceUnavailable` (an OSError, which takes this
        nameserver out of the lookup) when that cannot be bound."""
        check_bindable(self.source)
        return await super().async_query(
            request,
            timeout,
            self.source,
            source_port,
            max_size,
            backend,
            one_rr_per_rrset,
            ignore_trailing,
        )


def _replied(exc: dns.exception.DNSException) -> bool:
    """Whether the failure came with a DNS response (so the lookup time means something)."""
    if isinstance(exc, dns.resolver.NoNameservers):
        return any(error[4] is not None for error in exc.kwargs.get("errors", ()))
    return isinstance(exc, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer | dns.resolver.YXDOMAIN)


def _describe(exc: dns.exception.DNSException, record_type: str) -> str:
    """A short reason for a failed lookup."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return "NXDOMAIN"
    if isinstance(exc, dns.resolver.NoAnswer):
        return f"no {record_type} records"
    if isinstance(exc, dns.resolver.YXDOMAIN):
        return "YXDOMAIN"
    if isinstance(exc, dns.resolver.NoNameservers):
        # One entry per failed attempt: (server, tcp, port, exception or rcode text, response).
        reasons = [_describe_attempt(error[3]) for error in exc.kwargs.get("errors", ())]
        return "; ".join(dict.fromkeys(reasons)) or "no nameserver answered"
    return f"DNS error: {exc}"


def _describe_attempt(failure: object) -> str:
    """One nameserver's failure: an rcode text from its response, or an I/O exception."""
    if isinstance(failure, str):
        return _RCODE_ERRORS.get(failure, failure)
    if isinstance(failure, OSError) and failure.strerror:
        return failure.strerror.lower()
    if isinstance(failure, dns.exception.FormError):
        return "malformed response"
    return str(failure) or type(failure).__name__


def _shown(records: list[dns.rdata.Rdata]) -> str:
    """The first few records in zone-file form, for an error."""
    shown = [record.to_text(origin=dns.name.root) for record in records[:_MAX_SHOWN]]
    if len(records) > _MAX_SHOWN:
        shown.append(f"... {len(records) - _MAX_SHOWN} more")
    return ", ".join(shown)


def _forms(record: dns.rdata.Rdata) -> set[str]:
    """The normalised texts an expected value may take to match `record`."""
    if isinstance(record, TXT):
        return {b"".join(record.strings).decode("utf-8", "replace")}
    if isinstance(record, MX):
        return {_canonical(record), _name_text(record.exchange)}
    if isinstance(record, SRV):
        return {_canonical(record), _name_text(record.target)}
    return {_canonical(record)}


def _normalise_value(record_type: str, value: str) -> str:
    """`value` in the form `_forms` produces; ValueError when it cannot be such a record."""
    if record_type == "TXT":
        return value
    try:
        record = dns.rdata.from_text("IN", record_type, value, origin=dns.name.root)
        return _canonical(record)
    except (dns.exception.DNSException, ValueError) as exc:
        if record_type in _TARGET_TYPES:
            try:
                return _name_text(dns.name.from_text(value))
            except (dns.exception.DNSException, ValueError):
                pass
        raise ValueError(f"expected_value {value!r} is not a valid {record_type} record") from exc


def _canonical(record: dns.rdata.Rdata) -> str:
    """A record's zone-file text with names relative to the root (no final dot), lower case."""
    return record.to_text(origin=dns.name.root).lower()


def _name_text(name: dns.name.Name) -> str:
    """A name in lower case without the final dot."""
    return name.to_text(omit_final_dot=True).lower()


def _query_name(url: str, record_type: str) -> dns.name.Name:
    """The name a `dns://name` URL asks about; for PTR an IP address stands for its reverse
    name. ValueError when the URL is not a bare name."""
    host = bare_host(url, "dns://name", " (set the resolver option instead)")
    if record_type == "PTR":
        try:
            return dns.reversename.from_address(host)
        except (dns.exception.SyntaxError, ValueError):
            pass
    try:
        name = dns.name.from_text(host)
    except (dns.exception.DNSException, ValueError):
        name = None
    if name is None or not all(_LABEL.fullmatch(label) for label in name.labels[:-1]):
        raise ValueError(f"url: {host!r} is not a valid DNS name")
    return name


def _nameserver(value: object) -> tuple[str, int]:
    """(address, port) from "host" or "host:port" (IPv6 with a port as "[addr]:port")."""
    problem = "resolver must be an IP address, optionally with :port"
    if not isinstance(value, str):
        raise ValueError(problem)
    text = value.strip()
    host, port = text, _DNS_PORT
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not (rest == "" or rest.startswith(":")):
            raise ValueError(f"{problem}, got {value!r}")
        if rest:
            port = _port(rest[1:], problem, value)
    elif text.count(":") == 1:
        host, _, tail = text.partition(":")
        port = _port(tail, problem, value)
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        raise ValueError(f"{problem}, got {value!r}") from None


def _port(text: str, problem: str, value: object) -> int:
    """A port number 1-65535 from its text."""
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{problem}, got {value!r} (port must be 1-65535)")
    return int(text)


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a dns service's URL and options; return the options normalised.

    `record_type` is upper-cased (default A); `resolver` becomes "addr", "addr:port" or
    "[v6addr]:port" (port 53 left out); `expected_value` is put in the form it is compared in.
    An option set to None counts as not set.
    """
    record_type = raw.get("record_type") or _DEFAULT_RECORD_TYPE
    if not isinstance(record_type, str) or record_type.upper() not in _RECORD_TYPES:
        raise ValueError(f"record_type must be one of {', '.join(_RECORD_TYPES)}")
    record_type = record_type.upper()
    _query_name(url, record_type)
    result: dict[str, Any] = {"record_type": record_type}
    if raw.get("resolver") is not None:
        address, port = _nameserver(raw["resolver"])
        shown = f"[{address}]" if ":" in address else address
        result["resolver"] = address if port == _DNS_PORT else f"{shown}:{port}"
    expected = raw.get("expected_value")
    if expected is not None:
        if not isinstance(expected, str) or not expected.strip():
            raise ValueError("expected_value must be a non-empty string")
        try:
            result["expected_value"] = _normalise_value(record_type, expected)
        except ValueError:  # kept as given: the check is down for it, and `advice` says why
            result["expected_value"] = expected
    return result


def advice(options: Mapping[str, Any]) -> list[str]:
    """An `expected_value` that no record of the `record_type` can match, in words."""
    expected = options.get("expected_value")
    record_type = options.get("record_type", _DEFAULT_RECORD_TYPE)
    try:
        if expected is not None:
            _normalise_value(record_type, expected)
    except ValueError as exc:
        return [f"{exc}: no answer can match it, so the check is down"]
    return []


def _ms_since(started: float) -> float:
    """Milliseconds elapsed since a `time.perf_counter()` reading."""
    return (time.perf_counter() - started) * 1000.0
