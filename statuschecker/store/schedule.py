"""Work sharing between pollers: claiming due services under a lease, and letting go."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, text

from statuschecker.model import Assignment, CheckLimits, CheckSpec
from statuschecker.store.arrays import column

# 1. Pick up to :limit services that are due and not leased (or whose lease has run out),
#    oldest due first, skipping rows another poller is claiming at this very moment.
# 2. Lease them to :owner for their timeout plus a grace period, so a poller that dies
#    loses them for at most that long.
# 3. Move next_check_at to the first slot after now: the schedule keeps its phase (no drift)
#    and slots missed while nobody polled are skipped, not queued up.
# 4. Return the slot being served (due_at) so the poller can measure its lateness.
# 5. Say, in every row (one with no service when none was claimed), how long until the next
#    service falls due: the earliest of those not due yet (in the statement's snapshot, which
#    does not see this claim) and of the claimed ones' next slots.
# A heartbeat is due when the pollers should look whether it is late; the recorder then sets
# its next look itself (statuschecker.polling.heartbeat_inputs).
_CLAIM = text(
    """
    WITH due AS (
        SELECT id FROM services
        WHERE NOT paused AND locations = '{}'
          AND next_check_at <= now()
          AND (lease_expires_at IS NULL OR lease_expires_at < now())
        ORDER BY next_check_at
        LIMIT :limit
        FOR NO KEY UPDATE SKIP LOCKED
    ), slot AS (
        SELECT s.id,
               s.next_check_at + make_interval(secs => s.interval_seconds * floor(
                   extract(epoch FROM now() - s.next_check_at) / s.interval_seconds
               )) AS due_at
        FROM services s JOIN due USING (id)
    ), claimed AS (
        UPDATE services s
        SET lease_owner = :owner,
            lease_expires_at = now() + make_interval(secs => s.timeout_seconds + :grace),
            next_check_at = slot.due_at + make_interval(secs => s.interval_seconds)
        FROM slot
        WHERE s.id = slot.id
        RETURNING s.id, s.name, s.kind, s.url, s.interval_seconds, s.timeout_seconds,
                  s.check_options, slot.due_at, s.next_check_at
    ), ahead AS (
        SELECT min(next_check_at) AS next_at FROM services
        WHERE NOT paused AND locations = '{}' AND next_check_at > now()
    )
    SELECT extract(epoch FROM least(
               ahead.next_at, (SELECT min(next_check_at) FROM claimed)
           ) - now()) AS seconds_ahead,
           claimed.*
    FROM ahead LEFT JOIN claimed ON true
    """
)

# The same for the named locations of services checked from several (service_locations): the
# slots of :location, each with its own schedule and lease, for the services not paused.
_CLAIM_SLOTS = text(
    """
    WITH due AS (
        SELECT sl.service_id FROM service_locations sl JOIN services s ON s.id = sl.service_id
        WHERE sl.location = :location AND NOT s.paused
          AND sl.next_check_at <= now()
          AND (sl.lease_expires_at IS NULL OR sl.lease_expires_at < now())
        ORDER BY sl.next_check_at
        LIMIT :limit
        FOR NO KEY UPDATE OF sl SKIP LOCKED
    ), slot AS (
        SELECT sl.service_id,
               sl.next_check_at + make_interval(secs => s.interval_seconds * floor(
                   extract(epoch FROM now() - sl.next_check_at) / s.interval_seconds
               )) AS due_at
        FROM service_locations sl JOIN due USING (service_id) JOIN services s
             ON s.id = sl.service_id
        WHERE sl.location = :location
    ), claimed AS (
        UPDATE service_locations sl
        SET lease_owner = :owner,
            lease_expires_at = now() + make_interval(secs => s.timeout_seconds + :grace),
            next_check_at = slot.due_at + make_interval(secs => s.interval_seconds)
        FROM slot, services s
        WHERE sl.service_id = slot.service_id AND sl.location = :location
          AND s.id = sl.service_id
        RETURNING s.id, s.name, s.kind, s.url, s.interval_seconds, s.timeout_seconds,
                  s.check_options, slot.due_at, sl.next_check_at
    ), ahead AS (
        SELECT min(sl.next_check_at) AS next_at
        FROM service_locations sl JOIN services s ON s.id = sl.service_id
        WHERE sl.location = :location AND NOT s.paused AND sl.next_check_at > now()
    )
    SELECT extract(epoch FROM least(
               ahead.next_at, (SELECT min(next_check_at) FROM claimed)
           ) - now()) AS seconds_ahead,
           claimed.*
    FROM ahead LEFT JOIN claimed ON true
    """
)

_HAS_SLOTS = text("SELECT EXISTS (SELECT 1 FROM service_locations WHERE location = :location)")

_RELEASE = text(
    """
    UPDATE services SET lease_owner = NULL, lease_expires_at = NULL
    WHERE id = ANY(:ids) AND lease_owner = :owner
    """
)


def claim_due(
    conn: Connection, owner: str, limit: int, grace_seconds: float, limits: CheckLimits
) -> tuple[list[Assignment], float | None]:
    """Lease up to `limit` due services to `owner` and advance their schedule, in one
    statement; also say how long until the next service falls due (None when nothing is
    scheduled ahead)."""
    rows = conn.execute(_CLAIM, {"owner": owner, "limit": limit, "grace": grace_seconds}).all()
    return _assignments(rows, limits)


def claim_slots(
    conn: Connection,
    owner: str,
    location: str,
    limit: int,
    grace_seconds: float,
    limits: CheckLimits,
) -> tuple[list[Assignment], float | None]:
    """`claim_due` for the slots `location` holds of services checked from named locations."""
    params = {"owner": owner, "location": location, "limit": limit, "grace": grace_seconds}
    return _assignments(conn.execute(_CLAIM_SLOTS, params).all(), limits)


def has_slots(conn: Connection, location: str) -> bool:
    """Whether any service names `location` among those it is checked from."""
    return bool(conn.execute(_HAS_SLOTS, {"location": location}).scalar())


def _assignments(rows: Sequence[Row], limits: CheckLimits) -> tuple[list[Assignment], float | None]:
    """The services a claim's rows lease, and the seconds until the next falls due."""
    claimed = [
        Assignment(
            service_id=row.id,
            name=row.name,
            spec=CheckSpec(
                url=row.url,
                timeout_seconds=row.timeout_seconds,
                limits=limits,
                options=row.check_options,
            ),
            due_at=row.due_at,
            interval_seconds=row.interval_seconds,
            kind=row.kind,
        )
        for row in rows
        if row.id is not None
    ]
    ahead = rows[0].seconds_ahead
    return claimed, float(ahead) if ahead is not None else None


def release(conn: Connection, owner: str, service_ids: Iterable[int]) -> None:
    """End `owner`'s leases on these services (others' leases are left alone)."""
    conn.execute(_RELEASE, {"ids": list(service_ids), "owner": owner})


_RETRY = text(
    """
    UPDATE services AS s SET next_check_at = least(s.next_check_at, d.at)
    FROM unnest(CAST(:id AS bigint[]), CAST(:at AS timestamptz[])) AS d(id, at)
    WHERE s.id = d.id
    """
)


def retry(conn: Connection, due: Mapping[int, datetime]) -> None:
    """Make each service due again by the time given, unless it is due sooner already."""
    if due:
        ids = sorted(due)
        conn.execute(_RETRY, {"id": column(ids), "at": column(due[i] for i in ids)})
