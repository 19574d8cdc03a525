"""The slots of the services checked from named locations (service_locations): one per service
and location, kept as the services' `locations` say."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from statuschecker.model import LocationState
from statuschecker.rules.periods import Run
from statuschecker.rules.quorum import Verdict
from statuschecker.store.arrays import column, floats


@dataclass(frozen=True, slots=True)
class Slot:
    """One location's slot of a service: what its checks there say, and the run of outcomes
    not confirmed there yet."""

    service_id: int
    state: LocationState
    run: Run | None


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


_STATES = text(
    """
    SELECT service_id, location, run_kind, run_count, run_started_at, run_reason, confirmed,
           confirmed_at, last_checked_at, last_up, last_error, last_response_time_ms
    FROM service_locations WHERE service_id = ANY(CAST(:ids AS bigint[]))
    ORDER BY service_id, location
    """
)

_WRITE = text(
    """
    UPDATE service_locations AS sl SET
        run_kind = d.run_kind, run_count = d.run_count, run_started_at = d.run_started_at,
        run_reason = d.run_reason, confirmed = d.confirmed, confirmed_at = d.confirmed_at,
        last_checked_at = d.last_checked_at, last_up = d.last_up, last_error = d.last_error,
        last_response_time_ms = d.last_response_time_ms
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:location AS text[]),
                CAST(:run_kind AS text[]), CAST(:run_count AS integer[]),
                CAST(:run_started_at AS timestamptz[]), CAST(:run_reason AS text[]),
                CAST(:confirmed AS text[]), CAST(:confirmed_at AS timestamptz[]),
                CAST(:last_checked_at AS timestamptz[]), CAST(:last_up AS boolean[]),
                CAST(:last_error AS text[]), CAST(:last_response_time_ms AS float8[]))
         AS d(service_id, location, run_kind, run_count, run_started_at, run_reason, confirmed,
              confirmed_at, last_checked_at, last_up, last_error, last_response_time_ms)
    WHERE sl.service_id = d.service_id AND sl.location = d.location
    """
)

_VERDICTS = text(
    """
    UPDATE services AS s SET failing_locations = d.failing, stale_locations = d.stale
    FROM (SELECT id, CAST(string_to_array(failing, ' ') AS varchar[]) AS failing,
                 CAST(string_to_array(stale, ' ') AS varchar[]) AS stale
          FROM unnest(CAST(:id AS bigint[]), CAST(:failing AS text[]), CAST(:stale AS text[]))
               AS u(id, failing, stale)) AS d
    WHERE s.id = d.id AND (s.failing_locations, s.stale_locations) <> (d.failing, d.stale)
    """
)


def states(conn: Connection, service_ids: Iterable[int]) -> dict[int, dict[str, Slot]]:
    """Every slot of these services (those of their rows the recorder has locked), by
    service and then location, in location order."""
    found: dict[int, dict[str, Slot]] = {}
    for row in conn.execute(_STATES, {"ids": column(sorted(service_ids))}):
        run = Run(row.run_kind, row.run_count, row.run_started_at, row.run_reason)
        state = LocationState(
            row.location,
            row.confirmed,
            row.confirmed_at,
            row.last_checked_at,
            row.last_up,
            row.last_error,
            row.last_response_time_ms,
        )
        found.setdefault(row.service_id, {})[row.location] = Slot(
            row.service_id, state, run if row.run_kind else None
        )
    return found


def write(conn: Connection, changed: Sequence[Slot]) -> None:
    """Store what the rules keep of these slots: the run, the confirmed state, the newest
    result."""
    if not changed:
        return
    runs = [slot.run for slot in changed]
    states = [slot.state for slot in changed]
    conn.execute(
        _WRITE,
        {
            "service_id": column(slot.service_id for slot in changed),
            "location": column(s.location for s in states),
            "run_kind": column(r.kind if r else None for r in runs),
            "run_count": column(r.count if r else 0 for r in runs),
            "run_started_at": column(r.started if r else None for r in runs),
            "run_reason": column(r.reason if r else None for r in runs),
            "confirmed": column(s.confirmed for s in states),
            "confirmed_at": column(s.confirmed_at for s in states),
            "last_checked_at": column(s.last_checked_at for s in states),
            "last_up": column(s.last_up for s in states),
            "last_error": column(s.last_error for s in states),
            "last_response_time_ms": floats(s.last_response_time_ms for s in states),
        },
    )


def write_verdicts(conn: Connection, verdicts: Mapping[int, Verdict]) -> None:
    """Store, of each service's last verdict, the live locations it was confirmed down at and
    the stale ones that counted for neither side."""
    if verdicts:
        ids = sorted(verdicts)
        conn.execute(
            _VERDICTS,
            {
                "id": column(ids),
                "failing": column(" ".join(verdicts[i].failing) for i in ids),
                "stale": column(" ".join(verdicts[i].stale) for i in ids),
            },
        )


_RETRY = text(
    """
    UPDATE service_locations AS sl SET next_check_at = least(sl.next_check_at, d.at)
    FROM unnest(CAST(:service_id AS bigint[]), CAST(:location AS text[]),
                CAST(:at AS timestamptz[])) AS d(service_id, location, at)
    WHERE sl.service_id = d.service_id AND sl.location = d.location
    """
)


def retry(conn: Connection, due: Mapping[tuple[int, str], datetime]) -> None:
    """Make each slot due again by the time given, unless it is due sooner already."""
    if due:
        keys = sorted(due)
        conn.execute(
            _RETRY,
            {
                "service_id": column(sid for sid, _ in keys),
                "location": column(location for _, location in keys),
                "at": column(due[key] for key in keys),
            },
        )


_CONFIRMED = text(
    """
    SELECT s.id, s.name, sl.location, sl.confirmed
    FROM service_locations sl JOIN services s ON s.id = sl.service_id
    WHERE sl.confirmed IS NOT NULL
    ORDER BY s.id, sl.location
    """
)


def confirmed(conn: Connection) -> list[tuple[int, str, str, str]]:
    """Every slot with a confirmed state: service id and name, location, state."""
    return [(row.id, row.name, row.location, row.confirmed) for row in conn.execute(_CONFIRMED)]
