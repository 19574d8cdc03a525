"""The gRPC check's dialogue, by grpcio: see `checks.grpc` for what it does and says."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from dataclasses import replace
from pathlib import Path

import certifi
import grpc
from grpc_health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from grpc_health.v1.health_pb2_grpc import HealthStub

from statuschecker.checks.grpc import target
from statuschecker.checks.tcp import Address, Phases, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused

MAX_REPLY_BYTES = 4096
"""The largest Check answer read (a real one is a few bytes)."""

Settings = list[tuple[str, str | int]]
"""grpc channel arguments."""

_SETTLED = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE)
_STATUS_NAMES = {number: name for name, number in HealthCheckResponse.ServingStatus.items()}
# How grpc prefixes the reason a connection failed: "failed to connect to all addresses; last
# error: UNKNOWN: ipv4:127.0.0.1:50051: ".
_LAST_ERROR = re.compile(r"^failed to connect to all addresses; last error: \w+: ipv[46]:\S+: ")


async def check(spec: CheckSpec) -> CheckResult:
    """Ask the server at `spec.url` how its service (or the server overall) is."""
    try:
        secure, host, port, service = target(spec.url)
    except ValueError as exc:
        return CheckResult(up=False, error=str(exc))
    phases = Phases()
    async with contextlib.AsyncExitStack() as channels:  # closed after the deadline's block
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                addresses = await resolve(host, port, spec.limits.allow_private_targets)
                phases.enter("connect")
                credentials = _credentials(spec.limits.ca_bundle) if secure else None
                left_ms = spec.timeout_seconds * 1000 - phases.ms["dns"]
                settings = _settings(host, port, secure, spec.limits.user_agent, left_ms)
                channel, ready = await _connect(addresses, settings, credentials, channels)
                if ready:  # else the call fails at once with grpc's reason
                    phases.enter("reply")
                answer = await HealthStub(channel).Check(HealthCheckRequest(service=service))
        except TargetRefused as exc:
            return phases.result(str(exc))
        except TimeoutError:
            return phases.result(f"timeout ({phases.current})")
        except grpc.aio.AioRpcError as exc:
            return _failed(phases, exc, service)
        except OSError as exc:
            return phases.result(describe_error(exc, spec.url))
        return _answered(phases, _verdict(answer.status, service))


async def _connect(
    addresses: list[Address],
    settings: Settings,
    credentials: grpc.ChannelCredentials | None,
    channels: contextlib.AsyncExitStack,
) -> tuple[grpc.aio.Channel, bool]:
    """A channel to the first address family that connects, and True; else the last one's,
    which failed, and False. Each channel is closed when `channels` exits."""
    *others, last = _targets(addresses)
    for other in others:
        channel = await channels.enter_async_context(_channel(other, settings, credentials))
        if await _ready(channel):
            return channel, True
    channel = await channels.enter_async_context(_channel(last, settings, credentials))
    return channel, await _ready(channel)


def _targets(addresses: list[Address]) -> list[str]:
    """grpc targets for the resolved `addresses`: one per address family, in the order the
    resolver gave them, each listing that family's addresses (grpc tries them in turn)."""
    families: dict[str, list[str]] = {}
    for ip, port in addresses:
        family, shown = ("ipv6", f"[{ip}]") if ":" in ip else ("ipv4", ip)
        families.setdefault(family, []).append(f"{shown}:{port}")
    return [f"{family}:{','.join(found)}" for family, found in families.items()]


def _settings(host: str, port: int, secure: bool, user_agent: str, left_ms: float) -> Settings:
    """The channel arguments of a check: the URL's host as authority and TLS name, no proxy,
    no retry, a connection of its own (not another check's), a small answer, and a connection
    attempt that ends with the check's time (`left_ms`): closing a channel does not end one,
    its own deadline does (20 s by default)."""
    attempt_ms = max(1, round(left_ms))
    settings: Settings = [
        ("grpc.default_authority", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"),
        ("grpc.primary_user_agent", user_agent),
        ("grpc.enable_http_proxy", 0),
        ("grpc.enable_retries", 0),
        ("grpc.use_local_subchannel_pool", 1),
        ("grpc.max_receive_message_length", MAX_REPLY_BYTES),
        ("grpc.initial_reconnect_backoff_ms", attempt_ms),  # the attempt's deadline: the
        ("grpc.min_reconnect_backoff_ms", attempt_ms),  # larger of these two
    ]
    return [*settings, ("grpc.ssl_target_name_override", host)] if secure else settings


def _channel(
    target: str, settings: Settings, credentials: grpc.ChannelCredentials | None
) -> grpc.aio.Channel:
    """A channel to `target`, over TLS with `credentials` when given."""
    if credentials is None:
        return grpc.aio.insecure_channel(target, settings)
    return grpc.aio.secure_channel(target, credentials, settings)


@functools.cache
def _credentials(ca_bundle: str | None) -> grpc.ChannelCredentials:
    """TLS credentials trusting certifi's CAs and those in `ca_bundle`."""
    roots = Path(certifi.where()).read_bytes()
    if ca_bundle:
        roots += b"\n" + Path(ca_bundle).read_bytes()
    return grpc.ssl_channel_credentials(root_certificates=roots)


async def _ready(channel: grpc.aio.Channel) -> bool:
    """Connect `channel`: True once it is ready, False when connecting failed (grpc would
    retry after a backoff, as `channel_ready()` waits for)."""
    state = channel.get_state(try_to_connect=True)
    while state not in _SETTLED:
        await channel.wait_for_state_change(state)
        state = channel.get_state(try_to_connect=True)
    return bool(state == grpc.ChannelConnectivity.READY)


def _verdict(status: int, service: str) -> str | None:
    """The error for a Check answer's serving status, None for SERVING."""
    if status == HealthCheckResponse.SERVING:
        return None
    if status == HealthCheckResponse.SERVICE_UNKNOWN:
        return f"SERVICE_UNKNOWN: no such service {service!r}"
    return _STATUS_NAMES.get(status, f"serving status {status}")


def _failed(phases: Phases, exc: grpc.aio.AioRpcError, service: str) -> CheckResult:
    """The result of a failed Check call: no connection, or the server's refusal."""
    code = exc.code()
    if phases.current == "connect" or code == grpc.StatusCode.UNAVAILABLE:
        return phases.result(_unreachable(exc.details() or ""))
    if code == grpc.StatusCode.NOT_FOUND:  # the health servicer's answer for an unknown name
        return _answered(phases, f"SERVICE_UNKNOWN: no such service {service!r}")
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return _answered(phases, "health checking not served (UNIMPLEMENTED)")
    details = exc.details()
    return _answered(phases, f"{code.name}: {details}" if details else code.name)


def _unreachable(details: str) -> str:
    """Words for a connection grpc could not make (or lost), from its UNAVAILABLE details."""
    reason = _LAST_ERROR.sub("", details)
    lowered = reason.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "connection reset" in lowered:
        return "connection reset"
    if "hostname verification" in lowered or "not in peer certificate" in lowered:  # 1.85, 1.60
        return "TLS error: certificate verify failed: hostname mismatch"
    if verify := re.search(r"CERTIFICATE_VERIFY_FAILED: ([^:]+)", reason):
        return f"TLS error: certificate verify failed: {verify[1]}"
    if tls := re.search(r"OPENSSL_internal:(\w+)", reason):  # WRONG_VERSION_NUMBER
        return f"TLS error: {tls[1].lower().replace('_', ' ')}"
    return f"UNAVAILABLE: {reason}" if reason else "UNAVAILABLE"


def _answered(phases: Phases, error: str | None) -> CheckResult:
    """The result once the server answered, with the time to its answer as `ttfb_ms`."""
    phases.enter("answered")
    ttfb = sum(phases.ms.values())
    return replace(phases.result(error, complete=True), ttfb_ms=ttfb)
