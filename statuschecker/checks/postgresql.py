"""PostgreSQL check: connect to `postgresql://[user[:password]@]host[:port][/database]`
(`postgres://` too; port 5432), authenticate, and run a query in a read-only session.

The `query` option (default `SELECT 1`) runs as one statement with
`default_transaction_read_only` on, so a health check never writes; with `expected_value`, the
first column of the first row must equal it (see `checks.database`). `?sslmode=` takes libpq's
modes (default `prefer`); `verify-ca` and `verify-full` trust the CA bundle
(`STATUSCHECKER_CA_BUNDLE`) or, without one, the system's CAs.

A failing target is a down result whose `error` names the reason: "authentication failed",
"database 'x' does not exist", "query failed: cannot execute INSERT in a read-only
transaction", "expected '1', got '0'", "connection refused", "timeout (connect)", "DNS failure:
host", "refused by target policy: ...". Phases: dns, connect (TCP, TLS and authentication,
which libpq does in one step), and the query's answer (`ttfb_ms`).

The name is resolved here, under the target policy, and libpq connects to that address
(`hostaddr`), keeping the name for TLS. libpq cannot bind a source address:
`STATUSCHECKER_SOURCE_ADDRESS` does not apply to this kind. Nothing of the poller's own
environment reaches the connection but libpq's `PG*` variables, which a poller should not set.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg

from statuschecker.checks import database
from statuschecker.checks.tcp import Phases, resolve
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.net.errors import describe_error
from statuschecker.net.policy import TargetRefused

DEFAULT_PORT = 5432
DEFAULT_QUERY = "SELECT 1"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
OPTION_NAMES = database.OPTION_NAMES

_MISSING_DATABASE = re.compile(r'database "(.*)" does not exist')
_AUTHENTICATION = re.compile(
    r"password authentication failed|no password supplied|authentication failed"
    r"|role \".*\" does not exist|no pg_hba.conf entry"
)


async def check(spec: CheckSpec) -> CheckResult:
    """Connect to the server at `spec.url`, then run the query and judge its first value."""
    target = database.target(spec.url, DEFAULT_PORT)
    phases = Phases()
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            addresses = await resolve(target.host, target.port, spec.limits.allow_private_targets)
            phases.enter("connect")
            connection = await psycopg.AsyncConnection.connect(
                **_parameters(spec, target, addresses[0][0]), autocommit=True
            )
            async with connection:
                phases.enter("query")
                # Prepared: one statement, as the extended protocol allows no more.
                query = spec.options.get("query") or DEFAULT_QUERY
                cursor = await connection.execute(query, prepare=True)
                row = await cursor.fetchone() if cursor.description else None
                phases.enter("done")
    except TargetRefused as exc:
        return phases.result(str(exc))
    except TimeoutError:
        return phases.result(f"timeout ({phases.current})")
    except psycopg.OperationalError as exc:
        if phases.current == "connect":
            return phases.result(_connect_failure(exc, spec.url))
        return phases.result(f"query failed: {_first_line(exc)}")
    except psycopg.Error as exc:
        return phases.result(f"query failed: {_first_line(exc)}")
    except OSError as exc:
        return phases.result(describe_error(exc, spec.url))
    error = database.unexpected(row[0] if row else None, spec.options)
    return replace(phases.result(error, complete=True), ttfb_ms=sum(phases.ms.values()))


def _parameters(spec: CheckSpec, target: database.Target, address: str) -> dict[str, Any]:
    """libpq's connection parameters: the resolved address under the URL's name, the URL's
    user, password, database and sslmode, a read-only session, and no password file."""
    mode = dict(parse_qsl(urlsplit(spec.url).query)).get("sslmode", "prefer")
    parameters: dict[str, Any] = {
        "host": target.host,
        "hostaddr": address,
        "port": target.port,
        "dbname": target.database or target.user or "postgres",
        "user": target.user or "postgres",
        "sslmode": mode,
        "passfile": os.devnull,
        "connect_timeout": max(2, math.ceil(spec.timeout_seconds)),
        "application_name": "statuschecker",
        "options": "-c default_transaction_read_only=on"
        f" -c statement_timeout={math.ceil(spec.timeout_seconds * 1000)}",
    }
    if target.password is not None:
        parameters["password"] = target.password
    if mode.startswith("verify-"):
        parameters["sslrootcert"] = spec.limits.ca_bundle or "system"
    return parameters


def _connect_failure(exc: psycopg.OperationalError, url: str) -> str:
    """A failed connection in words, from libpq's message (it gives no code for these)."""
    message = str(exc)
    if missing := _MISSING_DATABASE.search(message):
        return f"database {missing[1]!r} does not exist"
    if _AUTHENTICATION.search(message):
        return "authentication failed"
    if "Connection refused" in message:
        return "connection refused"
    if "timeout expired" in message:
        return "timeout (connect)"
    cause = exc.__cause__
    if isinstance(cause, OSError):
        return describe_error(cause, url)
    return f"connection failed: {_first_line(exc).rpartition('failed: ')[2]}"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`query` and `expected_value`; the URL may carry `sslmode` and nothing else."""
    for name, value in parse_qsl(urlsplit(url.strip()).query, keep_blank_values=True):
        if name != "sslmode":
            raise ValueError(f"url: a postgresql:// URL takes only sslmode, not {name!r}")
        if value not in SSL_MODES:
            raise ValueError(f"url: sslmode must be one of {', '.join(SSL_MODES)}")
    return database.options(url, raw, query_words="one SQL statement")
