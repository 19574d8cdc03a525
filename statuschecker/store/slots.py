"""The slots of the services checked from named locations (service_locations): one per service
and location, kept as the services' `locations` say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, text

from statuschecker.store.arrays import column

# Drop the slots of locations no longer named; add those newly named, due at once.
_SYNC = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:service_id AS bigint[]), CAST(:location AS text[]))
            AS w(service_id, location)
    ), dropped AS (
        DELETE FROM service_locations sl
        WHERE sl.service_id = ANY(CAST(:ids AS bigint[]))
          AND (sl.service_id, sl.location) NOT IN (SELECT service_id, location FROM wanted)
    )
    INSERT INTO service_locations (service_id, location)
    SELECT service_id, location FROM wanted
    ON CONFLICT (service_id, location) DO NOTHING
    """
)


def sync(conn: Connection, named: Mapping[int, Sequence[str]]) -> None:
    """Make each service's slots those of the locations named for it (none for an empty list:
    it is then checked from anywhere, on its own schedule)."""
    pairs = [(sid, location) for sid, locations in named.items() for location in locations]
    conn.execute(
        _SYNC,
        {
            "ids": column(named),
            "service_id": column(sid for sid, _ in pairs),
            "location": column(location for _, location in pairs),
        },
    )
