"""A written incident as JSON, one shape for the API's answers and the subscribers' payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from statuschecker.model import Reported
from statuschecker.timefmt import rfc3339


def incident_fields(
    incident: Reported, services: list[tuple[int, str]] | None = None
) -> dict[str, Any]:
    """A written incident as the API and the subscribers see it (naming `services`, its own
    when not given), its updates newest first."""

    def time(value: datetime | None) -> str | None:
        return None if value is None else rfc3339(value)

    return {
        "id": incident.id,
        "title": incident.title,
        "impact": incident.impact,
        "status": incident.status,
        "services": [
            {"id": i, "name": name}
            for i, name in (services if services is not None else incident.services)
        ],
        "started_at": time(incident.started_at),
        "resolved_at": time(incident.resolved_at),
        "updated_at": time(incident.updated_at),
        "updates": [
            {"id": u.id, "status": u.status, "message": u.message, "created_at": time(u.created_at)}
            for u in incident.updates
        ],
    }
