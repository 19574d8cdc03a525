"""The security handler the spec names for `bearerAuth`: who a bearer token stands for."""

from __future__ import annotations

from typing import Any

from connexion.lifecycle import ConnexionRequest
from starlette.concurrency import run_in_threadpool

from statuschecker.errors import Forbidden
from statuschecker.runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def bearer_info(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """Authenticate `token` (Unauthorized when it is not valid) and refuse writes with a
    read-only token; the caller goes into the request's context as `token_info`."""
    runtime: Runtime = request.scope["state"]["runtime"]
    accounts = runtime.accounts
    caller = accounts.fresh_caller(token)
    if caller is None:  # not found valid lately: the database is asked, off the event loop
        caller = await run_in_threadpool(accounts.authenticate, token)
    if caller.read_only and request.method not in SAFE_METHODS:
        raise Forbidden("this API token is read-only")
    return {"sub": str(caller.user_id), "caller": caller}
