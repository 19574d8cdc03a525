"""Handler of /health."""

from __future__ import annotations

from connexion.lifecycle import ConnexionResponse
from connexion.problem import problem

from web import serialize
from web.context import services


def get_health() -> tuple | ConnexionResponse:
    """GET /health: 200 when the database answers and the poller's loop is alive, else 503;
    either way with the number of results the poller holds unwritten, when there is one."""
    health = services().health()
    checks: dict[str, str | int] = {"database": health.database, "poller": health.poller}
    if health.buffered_results is not None:
        checks["buffered_results"] = health.buffered_results
    if health.ok:
        return serialize.respond({"status": "ok", **checks})
    reasons = "; ".join(
        f"{k}: {v}"
        for k, v in checks.items()
        if k != "buffered_results" and v not in ("ok", "disabled")
    )
    return problem(503, "Service Unavailable", f"unhealthy: {reasons}", ext=checks)
