"""Alert notifications: what is sent, and the error a channel raises when sending fails.

One module per channel (`webhook`, `apprise_channel`); each sends one alert to one receiver
and raises `DeliveryError` with a short reason when that does not work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from statuschecker.model import Delivery
from statuschecker.timefmt import rfc3339


class DeliveryError(Exception):
    """A delivery attempt failed; `reason` says why in a few words ("status 500")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def payload(delivery: Delivery) -> dict[str, Any]:
    """The JSON document a webhook receives for the delivery's alert."""
    alert = delivery.alert
    return {
        "alert": {
            "id": alert.id,
            "kind": alert.kind,
            "rule": alert.rule,
            "message": alert.message,
            "availability_percent": alert.availability_percent,
            "window_seconds": alert.window_seconds,
            "time": rfc3339(alert.raised_at),
            "downtime_seconds": alert.downtime_seconds,
        },
        "service": {
            "id": alert.service_id,
            "name": alert.service_name,
            "url": delivery.service_url,
        },
        "sent_at": rfc3339(datetime.now(UTC)),
    }


# What each kind of alert says happened, after the service's name.
_HAPPENED = {
    "down": "is down",
    "recovered": "recovered",
    "degraded": "is slow (degraded)",
    "flapping": "is flapping",
    "stable": "is stable again",
}


def title(delivery: Delivery) -> str:
    """The one-line title of a notification: `statuschecker: <name> is down`, `... recovered`,
    `... is fast again` (the end of a degraded spell), `... is flapping`, `... is stable
    again`."""
    alert = delivery.alert
    happened = _HAPPENED[alert.kind]
    if alert.kind == "recovered" and alert.rule == "response_time":
        happened = "is fast again"
    return f"statuschecker: {alert.service_name} {happened}"
