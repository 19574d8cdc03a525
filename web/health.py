"""Handler of /health."""

from __future__ import annotations

from connexion.lifecycle import ConnexionResponse
from connexion.problem import problem

from web import serialize
from web.context import services


def get_health() -> tuple | ConnexionResponse:
    """GET /health: 200 when the database answers and the poller's loop is alive, else 503."""
    health = services().health()
    checks = {"database": health.database, "poller": health.poller}
    if health.ok:
        return serialize.respond({"status": "ok", **checks})
    reasons = "; ".join(f"{k}: {v}" for k, v in checks.items() if v not in ("ok", "disabled"))
    return problem(503, "Service Unavailable", f"unhealthy: {reasons}", ext=checks)
