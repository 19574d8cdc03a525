"""The SMTP check, against real SMTP servers (aiosmtpd's) on 127.0.0.1: plain, offering
STARTTLS, speaking TLS from the start, and refusing at the greeting."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from peers import run
from registered import checked_up
from targets import free_port

from statuschecker.checks import run_check, smtp, validate_options
from statuschecker.model import CheckLimits, CheckResult, CheckSpec

TIMEOUT = 2.0


class Handler:
    """Accepts the dialogue; no mail is ever sent."""


class Refusing(SMTP):
    """A server that greets with 554, as one that does not serve this client."""

    async def push(self, status: Any) -> None:
        if str(status).startswith("220"):
            status = "554 no service here"
        await super().push(status)


@pytest.fixture(scope="module")
def tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def servers(tls: ssl.SSLContext) -> Iterator[dict[str, Controller]]:
    """plain (no STARTTLS), starttls (offers it), implicit (TLS from the start)."""
    started = {
        "plain": Controller(Handler(), hostname="127.0.0.1", port=free_port()),
        "starttls": Controller(Handler(), hostname="127.0.0.1", port=free_port(), tls_context=tls),
        "implicit": Controller(Handler(), hostname="127.0.0.1", port=free_port(), ssl_context=tls),
    }
    for controller in started.values():
        controller.start()
    yield started
    for controller in started.values():
        controller.stop()


def url(scheme: str, controller: Controller) -> str:
    return f"{scheme}://127.0.0.1:{controller.port}"


@pytest.mark.parametrize(
    ("scheme", "server", "error", "tls_used"),
    [
        ("smtp", "plain", None, False),
        ("smtp+starttls", "starttls", None, True),
        ("smtps", "implicit", None, True),
        ("smtp+starttls", "plain", "STARTTLS not offered", False),
    ],
)
def test_the_dialogue_as_the_scheme_says(
    servers: dict[str, Controller],
    ca_bundle: str,
    scheme: str,
    server: str,
    error: str | None,
    tls_used: bool,
) -> None:
    spec = CheckSpec(url(scheme, servers[server]), TIMEOUT, CheckLimits(ca_bundle=ca_bundle))
    result, _ = run(smtp.check, spec)
    assert (result.up, result.error) == (error is None, error), result
    assert result.dns_ms is not None and result.connect_ms is not None
    if error is None:
        assert result.ttfb_ms is not None and result.response_time_ms is not None
        assert (result.tls_ms is not None, result.cert_expires_at is not None) == (tls_used,) * 2


def test_an_untrusted_certificate_is_down_in_words(servers: dict[str, Controller]) -> None:
    result, _ = run(smtp.check, CheckSpec(url("smtps", servers["implicit"]), TIMEOUT))
    assert not result.up and "certificate verify failed" in str(result.error), result


class RefusingController(Controller):
    """Serves `Refusing`."""

    def factory(self) -> SMTP:
        return Refusing(self.handler)


def test_a_refusing_greeting_is_named() -> None:
    refusing = RefusingController(Handler(), hostname="127.0.0.1", port=free_port())
    refusing.start()
    try:
        result, _ = run(smtp.check, CheckSpec(url("smtp", refusing), TIMEOUT))
    finally:
        refusing.stop()
    assert (result.up, result.error) == (False, "refused: 554 no service here"), result


def test_nothing_listening_and_a_silent_peer() -> None:
    from peers import Peer, silent

    result, _ = run(smtp.check, CheckSpec(f"smtp://127.0.0.1:{free_port()}", TIMEOUT))
    assert result == CheckResult(up=False, error="connection refused", dns_ms=result.dns_ms)
    with Peer(silent) as peer:  # accepts, never greets
        quiet, elapsed = run(run_check, CheckSpec(peer.url("smtp"), 0.5))
    assert quiet.error == "timeout (banner)" and elapsed < 1.5, quiet


def test_the_source_address_and_the_target_policy_hold(servers: dict[str, Controller]) -> None:
    target = url("smtp", servers["plain"])
    result, _ = run(smtp.check, CheckSpec(target, TIMEOUT, CheckLimits(source_address="127.0.0.2")))
    assert result.up, result
    refused, _ = run(
        smtp.check, CheckSpec(target, TIMEOUT, CheckLimits(allow_private_targets=False))
    )
    assert refused.error == "refused by target policy: 127.0.0.1 is a loopback address"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("smtp://", "url: a smtp:// URL needs a host"),
        ("smtps://mail.example/inbox", "url: a smtps:// URL takes only a host and a port"),
    ],
)
def test_urls_that_do_not_fit_are_refused(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        smtp.options(given, {})


def test_smtp_urls_are_routed_here() -> None:
    assert validate_options("smtp+starttls://mail.example:587", {"max_response_time_ms": 500}) == {
        "max_response_time_ms": 500
    }


def test_a_mail_server_is_registered_and_checked_end_to_end(
    make_runtime: Callable[..., Any], account: Any, servers: dict[str, Controller]
) -> None:
    created, _ = checked_up(
        make_runtime, account, {"name": "mail", "url": url("smtp", servers["plain"])}
    )
    assert created["kind"] == "smtp"
