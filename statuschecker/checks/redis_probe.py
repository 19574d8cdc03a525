"""The Redis check's dialogue, by redis-py: see `checks.redis` for what it does and says."""

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
from statuschecker.checks.redis import DEFAULT_PORT
from statuschecker.checks.tcp import Phases, first_socket, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.net.tls import client_context, peer_cert_expiry


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
