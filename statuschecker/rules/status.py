"""The one status a service shows, from what the rules keep about it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statuschecker.model import EventKind, Status


def status_of(
    *,
    paused: bool,
    confirmed: EventKind | None,
    failing_unconfirmed: bool,
    in_maintenance: bool,
    degraded: bool,
    failing_somewhere: bool = False,
) -> Status:
    """In order of precedence:

    1. `paused`: not checked at all;
    2. `maintenance`: its newest check fell in a maintenance window;
    3. `down`: a failure confirmed (an open downtime);
    4. `pending`: failing, not confirmed yet;
    5. `unknown`: no state confirmed yet (never checked, or a first success not confirmed);
    6. `degraded`: up, but slower than its alert policy allows, or confirmed down from some
       of its locations, fewer than its quorum (`failing_somewhere`);
    7. `up`.
    """
    if paused:
        return "paused"
    if in_maintenance:
        return "maintenance"
    if confirmed == "downtime":
        return "down"
    if failing_unconfirmed:
        return "pending"
    if confirmed is None:
        return "unknown"
    return "degraded" if degraded or failing_somewhere else "up"
