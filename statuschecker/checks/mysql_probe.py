"""The MySQL check's dialogue, by aiomysql: see `checks.mysql` for what it does and says."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import struct
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiomysql
import certifi
from pymysql.constants import CLIENT, CR, ER

from statuschecker.checks import database
from statuschecker.checks.mysql import DEFAULT_PORT, NOT_MYSQL
from statuschecker.checks.tcp import CLOSE_GRACE_SECONDS, Phases, first_socket, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused
from statuschecker.net.tls import client_context

DEFAULT_QUERY = "SELECT 1"
READ_ONLY = "SET SESSION TRANSACTION READ ONLY"


class _Unusable(Exception):
    """A server the check cannot go on with; its text is the reason a result gives."""


class _Connection(aiomysql.Connection):
    """aiomysql's connection over a socket the check connected itself.

    aiomysql (0.3) takes no socket: its `_connect` opens one from the host name, then reads the
    greeting and authenticates. `open` takes the place of `_connect` and runs those same steps
    (`_get_server_information`, `_request_authentication`) over the socket given, after
    settling TLS with what the greeting offers; it sets nothing up besides (no sql_mode, init
    command or autocommit change). The pin in pyproject keeps aiomysql to the version tested."""

    _ssl_context: ssl.SSLContext | None  # aiomysql's: cleared when the server offers no TLS

    def __init__(self, target: database.Target, tls: ssl.SSLContext | None, required: bool):
        super().__init__(
            host=target.host,  # the name TLS verifies; the socket is connected already
            port=target.port,
            user=target.user,
            # aiomysql sends the password as Latin-1: this makes it send the UTF-8 bytes.
            password=(target.password or "").encode().decode("latin-1"),
            db=target.database or None,
            ssl=tls,
            autocommit=None,
            program_name="statuschecker",
        )
        self.client_flag &= ~CLIENT.MULTI_STATEMENTS  # one statement: read-only stays on
        self._tls_required = required

    async def open(self, sock: socket.socket) -> None:
        """Read the server's greeting on `sock`, start TLS as the mode says, authenticate."""
        self._reader, self._writer = await asyncio.open_connection(sock=sock)
        self._next_seq_id = 0
        try:
            await self._get_server_information()
        except (struct.error, IndexError, aiomysql.InternalError) as exc:
            if _code(exc) is not None:  # an error packet: the server's refusal
                raise
            raise _Unusable(NOT_MYSQL) from exc  # out of sequence, or too short
        if self.protocol_version != 10 or not self.server_version[:1].isdigit():
            raise _Unusable(NOT_MYSQL)
        if self._ssl_context and not self.server_capabilities & CLIENT.SSL:
            if self._tls_required:
                raise _Unusable("TLS not offered")
            self._ssl_context = None
            self.client_flag &= ~CLIENT.SSL
        await self._request_authentication()

    def close(self) -> None:
        """Close at once: aiomysql's close leaves a TLS connection to shut down in the
        background, waiting on the server for up to 30 s."""
        if self._writer is not None:
            self._writer.transport.abort()
        super().close()


async def check(spec: CheckSpec) -> CheckResult:
    """Connect to the server at `spec.url`, then run the query and judge its first value."""
    target = database.target(spec.url, DEFAULT_PORT)
    mode = _ssl_mode(spec.url)
    phases = Phases()
    connection: _Connection | None = None
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            addresses = await resolve(target.host, target.port, spec.limits.allow_private_targets)
            tls = _tls_context(mode, spec.limits.ca_bundle)
            connection = _Connection(target, tls, required=mode != "PREFERRED")
            phases.enter("connect")
            sock = await first_socket(addresses, spec.limits.source_address)
            phases.enter("auth")
            await connection.open(sock)
            phases.enter("query")
            row = await _first_row(connection, spec.options.get("query") or DEFAULT_QUERY)
            phases.enter("quit")
    except TargetRefused as exc:
        return phases.result(str(exc))
    except TimeoutError:
        return phases.result(f"timeout ({phases.current})")
    except _Unusable as exc:
        return phases.result(str(exc))
    except aiomysql.Error as exc:
        return phases.result(_failure(exc, phases.current, target, spec.url))
    except OSError as exc:
        return phases.result(describe_error(exc, spec.url))
    finally:
        if connection is not None:
            await _goodbye(connection)
    error = database.unexpected(row[0] if row else None, spec.options)
    return replace(phases.result(error, complete=True), ttfb_ms=sum(phases.ms.values()))


async def _first_row(connection: _Connection, query: str) -> tuple[Any, ...] | None:
    """The first row of `query`'s answer (None when it has none), run in a read-only session;
    the rest of the answer is never read."""
    await connection.query(READ_ONLY)
    cursor = await connection.cursor(aiomysql.SSCursor)  # unbuffered: rows are read one by one
    try:
        await cursor.execute(query)
    except RuntimeError as exc:  # aiomysql refusing LOAD DATA LOCAL: no file is ever sent
        raise _Unusable("query failed: the server asked for a local file") from exc
    row: tuple[Any, ...] | None = await cursor.fetchone()
    return row


async def _goodbye(connection: _Connection) -> None:
    """Say COM_QUIT if still connected (the server logs a connection left without it), then
    close whatever is left, never waiting long."""
    try:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.ensure_closed(), CLOSE_GRACE_SECONDS)
    finally:
        connection.close()


def _failure(exc: aiomysql.Error, phase: str, target: database.Target, url: str) -> str:
    """A failed connection or query in words; the server's own text for a query."""
    code = _code(exc)
    message = str(exc.args[-1]) if exc.args else type(exc).__name__
    if code in (CR.CR_SERVER_LOST, CR.CR_SERVER_GONE_ERROR):
        cause = exc.__cause__
        if isinstance(cause, OSError):
            return describe_error(cause, url)
        return f"connection closed by the server ({phase})"
    if phase == "query":
        return f"query failed: {message}"
    if code == ER.ACCESS_DENIED_ERROR:
        return "authentication failed"
    if code == ER.BAD_DB_ERROR:
        return f"database {target.database!r} does not exist"
    if code == ER.DBACCESS_DENIED_ERROR:
        return f"access denied to database {target.database!r}"
    if code is not None and code < CR.CR_ERROR_FIRST:  # the server's error, not the client's
        return f"refused: {message}"
    return f"connection failed: {message}"


def _code(exc: Exception) -> int | None:
    """The MySQL error number an error carries (the server's, or aiomysql's own), if any."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def _ssl_mode(url: str) -> str:
    """The URL's `ssl-mode`, upper case; PREFERRED when it names none."""
    return dict(parse_qsl(urlsplit(url.strip()).query)).get("ssl-mode", "PREFERRED").upper()


@functools.cache
def _tls_context(mode: str, ca_bundle: str | None) -> ssl.SSLContext | None:
    """The TLS context for an `ssl-mode`: none (DISABLED), unverified (PREFERRED, REQUIRED),
    verifying the CA (VERIFY_CA), or the CA and the host (VERIFY_IDENTITY)."""
    if mode == "DISABLED":
        return None
    if mode == "VERIFY_IDENTITY":
        return client_context(ca_bundle)
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    context.check_hostname = False
    if mode != "VERIFY_CA":
        context.verify_mode = ssl.CERT_NONE
    return context
