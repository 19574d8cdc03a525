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

import shlex
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from statuschecker.checks import database
from statuschecker.model import CheckResult, CheckSpec

DEFAULT_PORT = 6379
MAX_DATABASE = 1_000_000
OPTION_NAMES = database.OPTION_NAMES


async def check(spec: CheckSpec) -> CheckResult:
    """The check, in `redis_probe`: its client library (redis-py, about 11 MB) is imported at
    the first Redis check, so a process that checks none never holds it."""
    from statuschecker.checks import redis_probe

    return await redis_probe.check(spec)


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
