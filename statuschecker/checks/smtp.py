"""SMTP check: a mail server's greeting, EHLO, and TLS as the URL says.

`smtp://host[:port]` (25) reads the banner and says EHLO; `smtp+starttls://host[:port]` (587)
then upgrades with STARTTLS and says EHLO again over TLS; `smtps://host[:port]` (465) speaks
TLS from the start. The server's certificate is verified against the URL's host, and its expiry
recorded, as the tls check records it. Up when every step got a positive reply; the check says
QUIT and closes. A failing target is a down result whose `error` names the reason: "refused:
554 no service here" (the greeting or EHLO answered with an error), "STARTTLS not offered",
"certificate verify failed: ...", "timeout (banner)", "connection refused", "DNS failure:
host", "refused by target policy: ...".

The connection is made as the tcp check makes one (resolution, the target policy, the source
address) and handed to `aiosmtplib` for the dialogue. Phases: dns, connect, the banner (the
first response, `ttfb_ms`), TLS (`tls_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib

from statuschecker.checks.tcp import Phases, first_socket, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.net.tls import client_context, peer_cert_expiry

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
HELO_NAME = "statuschecker.invalid"
"""The name the check gives itself in EHLO: it sends no mail, and names no real host."""
OPTION_NAMES: frozenset[str] = frozenset()


async def check(spec: CheckSpec) -> CheckResult:
    """Greet the mail server at `spec.url`, with TLS as its scheme says."""
    parts = urlsplit(spec.url)
    scheme = parts.scheme.lower()
    host, port = parts.hostname or "", parts.port or DEFAULT_PORTS[scheme]
    phases = Phases()
    expires = None
    client: aiosmtplib.SMTP | None = None
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            addresses = await resolve(host, port, spec.limits.allow_private_targets)
            phases.enter("connect")
            sock = await first_socket(addresses, spec.limits.source_address)
            tls = client_context(spec.limits.ca_bundle)
            implicit = scheme == "smtps"
            phases.enter("handshake" if implicit else "banner")  # smtps: TLS, then the banner
            client = aiosmtplib.SMTP(
                hostname=host,
                sock=sock,
                use_tls=implicit,
                start_tls=False,
                tls_context=tls if implicit else None,
                local_hostname=HELO_NAME,
                timeout=None,
            )
            await client.connect()
            if implicit:
                expires = _expiry(client)
            phases.enter("ehlo")
            await client.ehlo()
            if scheme == "smtp+starttls":
                if not client.supports_extension("starttls"):
                    return phases.result("STARTTLS not offered")
                phases.enter("handshake")
                await client.starttls(server_hostname=host, tls_context=tls)
                expires = _expiry(client)
                phases.enter("ehlo")
                await client.ehlo()
            phases.enter("quit")
    except TargetRefused as exc:
        return phases.result(str(exc))
    except TimeoutError:
        return phases.result(f"timeout ({phases.current})")
    except aiosmtplib.SMTPResponseException as exc:
        return phases.result(f"refused: {exc.code} {exc.message}".strip())
    except aiosmtplib.SMTPException as exc:
        return phases.result(describe_error(exc.__cause__ or exc, spec.url))
    except OSError as exc:
        return phases.result(describe_error(exc, spec.url))
    finally:
        if client is not None:
            await _goodbye(client)
    result = phases.result(None, complete=True, cert_expires_at=expires)
    first = phases.ms.get("banner", phases.ms.get("handshake"))
    return replace(result, ttfb_ms=first, tls_ms=phases.ms.get("handshake"))


def _expiry(client: aiosmtplib.SMTP) -> Any:
    transport = client.transport
    return peer_cert_expiry(transport.get_extra_info("ssl_object") if transport else None)


async def _goodbye(client: aiosmtplib.SMTP) -> None:
    """QUIT if still connected, then close whatever is left, never waiting long."""
    with contextlib.suppress(Exception):
        if client.is_connected:
            await asyncio.wait_for(client.quit(), 0.2)
    client.close()


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """None of its own; the URL needs a host and nothing but a port besides."""
    parts = urlsplit(url.strip())
    if not parts.hostname:
        raise ValueError(f"url: a {parts.scheme}:// URL needs a host")
    if parts.path not in ("", "/") or parts.query or "@" in parts.netloc:
        raise ValueError(f"url: a {parts.scheme}:// URL takes only a host and a port")
    return {name: value for name, value in raw.items() if value is not None}
