"""The UDP check and its options, against real local peers on 127.0.0.1: a server that answers
datagrams as a test says, one that never answers, and a port nothing listens on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from peers import ANSWERED, SLACK, TIMEOUT, run
from registered import checked_up
from targets import free_port

from statuschecker.checks import run_check, udp, validate_options, warnings
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

Answer = Callable[[bytes], bytes | None]
"""What a peer sends back for a datagram (None: nothing)."""


class UdpPeer:
    """A real UDP server on 127.0.0.1 answering each datagram with `answer(datagram)`; it
    keeps what it received, and from which address."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.received: list[tuple[bytes, str]] = []
        self.url = f"udp://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self._sock.recvfrom(65536)
            except TimeoutError:
                continue
            self.received.append((data, sender[0]))
            reply = self._answer(data)
            if reply is not None:
                self._sock.sendto(reply, sender)

    def __enter__(self) -> UdpPeer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


@pytest.fixture
def pong() -> Iterator[UdpPeer]:
    """Answers `ping` with `pong`, bytes with their length and an echo, and nothing else."""

    def answer(data: bytes) -> bytes | None:
        if data == b"ping":
            return b"pong"
        if data.startswith(b"\xff\xff\xff\xff"):
            return b"\xff\xff\xff\xffI game server" + bytes([len(data)])
        return None

    with UdpPeer(answer) as peer:
        yield peer


def test_a_reply_is_up_with_its_times(pong: UdpPeer) -> None:
    spec = CheckSpec(pong.url, ANSWERED, options={"body": "ping", "body_contains": "pong"})
    result, elapsed = run(udp.check, spec)
    assert result.up and result.error is None, result
    assert result.dns_ms is not None and result.ttfb_ms is not None
    assert result.dns_ms + result.ttfb_ms <= result.response_time_ms < elapsed * 1000  # type: ignore[operator]
    assert pong.received == [(b"ping", "127.0.0.1")]


def test_bytes_are_sent_as_given_in_hex(pong: UdpPeer) -> None:
    query = "ffffffff54536f7572636520456e67696e6520517565727900"  # a game server's info query
    spec = CheckSpec(pong.url, ANSWERED, options={"body_hex": query, "body_contains": "game"})
    result, _ = run(udp.check, spec)
    assert result.up, result
    assert pong.received == [(bytes.fromhex(query), "127.0.0.1")]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"body": "ping", "body_contains": "PONG"}, "reply does not contain 'PONG'"),
        ({"body": "hello"}, "timeout (reply)"),  # the peer says nothing to it
        ({}, "timeout (reply)"),  # an empty datagram, unanswered
    ],
)
def test_a_wrong_or_missing_reply_is_down_in_words(
    pong: UdpPeer, options: dict[str, Any], error: str
) -> None:
    deadline = TIMEOUT if error.startswith("timeout") else ANSWERED
    result, elapsed = run(udp.check, CheckSpec(pong.url, deadline, options=options))
    assert (result.up, result.error) == (False, error), result
    assert elapsed < deadline + SLACK
    if error.startswith("timeout"):
        assert result.response_time_ms is None and result.ttfb_ms is None


def test_a_closed_port_is_connection_refused() -> None:
    result, elapsed = run(
        udp.check, CheckSpec(f"udp://127.0.0.1:{free_port()}", 2.0, options={"body": "x"})
    )
    assert result == CheckResult(up=False, error="connection refused", dns_ms=result.dns_ms)
    assert elapsed < 1.0  # the host said so at once: no waiting for the timeout


def test_unresolvable_host_is_a_dns_failure(unresolvable: str) -> None:
    result, _ = run(udp.check, CheckSpec(f"udp://{unresolvable}:53", 2.0))
    assert result == CheckResult(up=False, error=f"DNS failure: {unresolvable}")


def test_the_source_address_and_the_target_policy_hold() -> None:
    def echo(data: bytes) -> bytes:
        return data

    with UdpPeer(echo) as peer:
        limits = CheckLimits(source_address="127.0.0.3")
        result, _ = run(udp.check, CheckSpec(peer.url, ANSWERED, limits, {"body": "hi"}))
        assert result.up, result
        assert peer.received == [(b"hi", "127.0.0.3")]
        limits = CheckLimits(allow_private_targets=False)
        result, _ = run(udp.check, CheckSpec(peer.url, ANSWERED, limits, {"body": "hi"}))
    assert result.error == "refused by target policy: 127.0.0.1 is a loopback address", result
    assert len(peer.received) == 1  # nothing was sent


def test_run_check_runs_the_udp_check_within_its_deadline(pong: UdpPeer) -> None:
    result, _ = run(run_check, CheckSpec(pong.url, ANSWERED, options={"body": "ping"}))
    assert result.up, result
    silent, elapsed = run(run_check, CheckSpec(pong.url, TIMEOUT, options={"body": "?"}))
    assert silent.error == "timeout (reply)" and elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, {}),
        ({"body": "ping", "body_contains": None}, {"body": "ping"}),
        ({"body_hex": "FFFF00"}, {"body_hex": "ffff00"}),
    ],
)
def test_options_keep_what_is_given(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert udp.options("udp://game.example:27015", raw) == expected


@pytest.mark.parametrize(
    ("url", "raw", "message"),
    [
        ("udp://game.example", {}, "url: a udp:// URL needs a port"),
        ("udp://game.example:27015/x", {}, "url: a udp:// URL takes only a host and a port"),
        ("udp://game.example:1", {"body_hex": "abc"}, "body_hex must be bytes as hexadecimal"),
        ("udp://game.example:1", {"body_hex": "zz"}, "body_hex must be bytes as hexadecimal"),
        ("udp://game.example:1", {"body_hex": "00" * 8193}, "body_hex must be bytes"),
        ("udp://game.example:1", {"body": "x" * 8193}, "body must be a string of at most 8192"),
        ("udp://game.example:1", {"body_contains": ""}, "body_contains must be a string"),
    ],
)
def test_options_reject_what_does_not_fit(url: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        udp.options(url, raw)


def test_udp_urls_are_routed_here_and_both_payloads_are_named() -> None:
    options = {"body": "a", "body_hex": "00", "max_response_time_ms": 50}
    assert validate_options("udp://game.example:27015", options) == options
    assert warnings("udp://game.example:27015", options, 60, 5) == [
        "body is kept, but unused: body_hex is the datagram sent"
    ]


def test_a_udp_service_is_registered_and_checked_end_to_end(
    make_runtime: Callable[..., Any], account: Any, pong: UdpPeer
) -> None:
    body = {"name": "game", "url": pong.url, "body": "ping", "body_contains": "pong",
            "timeout_seconds": 1}  # fmt: skip
    created, (tick, *_) = checked_up(make_runtime, account, body)
    assert created["kind"] == "udp"
    assert tick["up"] and tick["ttfb_ms"] is not None
