"""Redis check: connect to `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS;
port 6379), authenticate, select the database, and send a command.

The command is the `query` option, split as a shell splits words (`GET "feature flag"`), or
`PING` when none is given; with `expected_value`, the reply (its first element, for a list)
must equal it as text (see `checks.database`). The command runs as given: to keep a health
check from writing, give it a user whose ACL allows reads only (`+@read`). The certificate of
a `rediss://` server is verified against its host and its expiry recorded.

A failing target is a down result whose `error` names the reason: "authentication failed",
"command failed: ERR unknown command 'NOPE' ...", "expected 'on', got 'off'", "connection
refused", "timeout (setup)", "certificate verify failed: ...", "DNS failure: host", "refused by
target policy: ...". Phases: dns, connect, the setup (TLS, authentication and the database's
selection, one step of redis-py's), and the reply (`ttfb_ms`, counted from the start).

The connection is made as the tcp check makes one (resolution, the target policy, the source
address) and handed to redis-py for the protocol.
"""

from __future__ import annotations

import asyncio
import shlex
import socket
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio.connection as redis_connection
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from statuschecker.checks import database
from statuschecker.checks.tcp import Phases, first_socket, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.net.tls import client_context, peer_cert_expiry

DEFAULT_PORT = 6379
MAX_DATABASE = 1_000_000
OPTION_NAMES = database.OPTION_NAMES


class _Given:
    """A redis-py connection over a socket connected beforehand (redis-py opens its stream with
    these arguments to `asyncio.open_connection`)."""

    sock: socket.socket
    tls: dict[str, Any]

    def _connection_arguments(self) -> Mapping[str, Any]:
        return {"sock": self.sock, **self.tls}


class _Connection(_Given, redis_connection.Connection):
    pass


async def check(spec: CheckSpec) -> CheckResult:
    """Connect to the server at `spec.url`, send the command and judge its reply."""
    target = database.target(spec.url, DEFAULT_PORT)
    phases = Phases()
    connection: _Connection | None = None
    expires = None
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            addresses = await resolve(target.host, target.port, spec.limits.allow_private_targets)
            phases.enter("connect")
            sock = await first_socket(addresses, spec.limits.source_address)
            connection = _connection(spec, target, sock)
            phases.enter("setup")
            await connection.connect()
            if urlsplit(spec.url).scheme.lower() == "rediss":
                expires = _expiry(connection)
            phases.enter("reply")
            await connection.send_command(*_command(spec.options))
            reply = await connection.read_response()
            phases.enter("done")
    except TargetRefused as exc:
        return phases.result(str(exc))
    except TimeoutError:
        return phases.result(f"timeout ({phases.current})")
    except redis.exceptions.AuthenticationError:
        return phases.result("authentication failed")
    except redis.exceptions.ResponseError as exc:
        if str(exc).startswith(("NOAUTH", "WRONGPASS")):
            return phases.result("authentication failed")
        return phases.result(f"command failed: {exc}")
    except redis.exceptions.ConnectionError as exc:
        cause = exc.__cause__ or exc.__context__
        return phases.result(describe_error(cause, spec.url) if cause else str(exc))
    except redis.exceptions.RedisError as exc:
        return phases.result(f"command failed: {exc}")
    except OSError as exc:
        return phases.result(describe_error(exc, spec.url))
    finally:
        if connection is not None:
            await connection.disconnect(nowait=True)
    first = (reply[0] if reply else None) if isinstance(reply, list) else reply
    error = database.unexpected(first, spec.options)
    result = phases.result(error, complete=True, cert_expires_at=expires)
    return replace(result, ttfb_ms=sum(phases.ms.values()))


def _connection(spec: CheckSpec, target: database.Target, sock: socket.socket) -> _Connection:
    """A connection over `sock`, as the URL says (TLS, user, password, database), that never
    retries: a check is one attempt."""
    connection = _Connection(
        username=target.user,
        password=target.password,
        db=int(target.database or 0),
        retry=Retry(NoBackoff(), 0),
        socket_timeout=None,
        client_name=None,
    )
    connection.sock = sock
    connection.tls = {}
    if urlsplit(spec.url).scheme.lower() == "rediss":
        connection.tls = {
            "ssl": client_context(spec.limits.ca_bundle),
            "server_hostname": target.host,
        }
    return connection


def _command(options: Mapping[str, Any]) -> list[str]:
    query: str | None = options.get("query")
    return shlex.split(query) if query else ["PING"]


def _expiry(connection: _Connection) -> Any:
    writer = connection._writer  # the stream redis-py opened on the socket
    return peer_cert_expiry(writer.transport.get_extra_info("ssl_object") if writer else None)


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`query` (words a shell would split) and `expected_value`; the URL's path is a database
    number, and it carries no query string."""
    parts = urlsplit(url.strip())
    if parts.query:
        raise ValueError(f"url: a {parts.scheme}:// URL takes no query string")
    number = parts.path.lstrip("/")
    if number and not (number.isdigit() and int(number) <= MAX_DATABASE):
        raise ValueError(f"url: the path of a {parts.scheme}:// URL is a database number")
    result = database.options(url, raw, query_words="a command")
    if "query" in result:
        try:
            shlex.split(result["query"])
        except ValueError as exc:
            raise ValueError(f"query: {exc}") from None
    return result
