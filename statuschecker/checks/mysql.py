"""MySQL check (MariaDB too): connect to `mysql://[user[:password]@]host[:port][/database]`
(port 3306), authenticate, and run a query in a read-only session.

The `query` option (default `SELECT 1`) runs as one statement (multi-statements are off) after
`SET SESSION TRANSACTION READ ONLY`, so a health check never changes data or schema; only the
first row of its answer is read, and a server asking for a local file (LOAD DATA LOCAL) gets
none. With `expected_value`, the first column of that row must equal it (see
`checks.database`). Without a user in the URL, aiomysql logs in as the poller's OS user, as the
mysql client does.

`?ssl-mode=` takes the mysql client's modes (MySQL Shell's URI parameter): DISABLED, PREFERRED
(the default: TLS when the server offers it, unverified), REQUIRED (TLS, unverified),
VERIFY_CA (the certificate verified against certifi's CAs and the CA bundle,
`STATUSCHECKER_CA_BUNDLE`) and VERIFY_IDENTITY (that, and the URL's host).

A failing target is a down result whose `error` names the reason: "authentication failed",
"database 'x' does not exist", "query failed: Cannot execute statement in a READ ONLY
transaction", "expected '1', got '0'", "refused: Too many connections", "TLS not offered",
"TLS error: certificate verify failed: ...", "protocol error: not a MySQL greeting",
"connection refused", "timeout (auth)", "DNS failure: host", "refused by target policy: ...".
Phases: dns, connect (TCP), auth (the server's greeting, TLS and authentication) and query;
`ttfb_ms` runs from the start until the query's answer.

The connection is made as the tcp check makes one (resolution, the target policy, the source
address) and handed to aiomysql, whose `connect()` opens a socket of its own: `_Connection`
runs aiomysql's connection steps over the check's socket instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from statuschecker.checks import database
from statuschecker.model import CheckResult, CheckSpec

DEFAULT_PORT = 3306
SSL_MODES = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
OPTION_NAMES = database.OPTION_NAMES
NOT_MYSQL = "protocol error: not a MySQL greeting"


async def check(spec: CheckSpec) -> CheckResult:
    """The check, in `mysql_probe`: its client libraries (aiomysql and PyMySQL, about 11 MB)
    are imported at the first MySQL check, so a process that checks none never holds them."""
    from statuschecker.checks import mysql_probe

    return await mysql_probe.check(spec)


def options(url: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """`query` and `expected_value`; the URL's path is at most one database name, and its
    query string holds `ssl-mode` and nothing else."""
    given = database.options(url, raw, query_words="an SQL statement")
    if "/" in urlsplit(url.strip()).path.lstrip("/"):  # as written: %2F names one database
        raise ValueError("url: a mysql:// URL's path is one database name")
    for name, value in parse_qsl(urlsplit(url.strip()).query, keep_blank_values=True):
        if name != "ssl-mode":
            raise ValueError(f"url: a mysql:// URL takes only ssl-mode, not {name!r}")
        if value.upper() not in SSL_MODES:
            raise ValueError(f"url: ssl-mode must be one of {', '.join(SSL_MODES)}")
    return given
