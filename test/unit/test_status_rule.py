"""The one status a service shows: the precedence of `status_of` over every combination of
what the rules keep."""

from __future__ import annotations

from itertools import product

import pytest

from statuschecker.model import STATUSES, EventKind, Status
from statuschecker.rules.status import status_of

CONFIRMED: tuple[EventKind | None, ...] = (None, "uptime", "downtime")


@pytest.mark.parametrize(
    ("paused", "confirmed", "failing_unconfirmed", "in_maintenance", "degraded", "expected"),
    [
        pytest.param(False, "uptime", False, False, False, "up", id="up"),
        pytest.param(False, "uptime", False, False, True, "degraded", id="up but slow"),
        pytest.param(False, None, False, False, False, "unknown", id="never confirmed"),
        pytest.param(False, None, False, False, True, "unknown", id="unknown over degraded"),
        pytest.param(False, "uptime", True, False, False, "pending", id="failing, unconfirmed"),
        pytest.param(False, None, True, False, False, "pending", id="pending over unknown"),
        pytest.param(False, "uptime", True, False, True, "pending", id="pending over degraded"),
        pytest.param(False, "downtime", False, False, False, "down", id="confirmed down"),
        pytest.param(False, "downtime", True, False, False, "down", id="down over pending"),
        pytest.param(False, "downtime", False, False, True, "down", id="down over degraded"),
        pytest.param(False, "uptime", False, True, False, "maintenance", id="in maintenance"),
        pytest.param(
            False, "downtime", False, True, False, "maintenance", id="maintenance over down"
        ),
        pytest.param(
            False, "uptime", True, True, False, "maintenance", id="maintenance over pending"
        ),
        pytest.param(False, None, False, True, False, "maintenance", id="maintenance over unknown"),
        pytest.param(
            False, "uptime", False, True, True, "maintenance", id="maintenance over degraded"
        ),
        pytest.param(True, "uptime", False, False, False, "paused", id="paused"),
        pytest.param(True, None, False, False, False, "paused", id="paused, never checked"),
        pytest.param(True, "downtime", False, False, False, "paused", id="paused over down"),
        pytest.param(True, "uptime", False, True, False, "paused", id="paused over maintenance"),
        pytest.param(True, "downtime", True, True, True, "paused", id="paused over everything"),
    ],
)
def test_precedence(
    paused: bool,
    confirmed: EventKind | None,
    failing_unconfirmed: bool,
    in_maintenance: bool,
    degraded: bool,
    expected: Status,
) -> None:
    status = status_of(
        paused=paused,
        confirmed=confirmed,
        failing_unconfirmed=failing_unconfirmed,
        in_maintenance=in_maintenance,
        degraded=degraded,
    )
    assert status == expected


@pytest.mark.parametrize(
    ("confirmed", "failing_unconfirmed", "expected"),
    [
        ("uptime", False, "degraded"),  # up by quorum, down from some locations
        ("downtime", False, "down"),
        ("uptime", True, "pending"),
        (None, False, "unknown"),
    ],
)
def test_a_service_failing_from_some_of_its_locations_is_degraded_while_up(
    confirmed: EventKind | None, failing_unconfirmed: bool, expected: Status
) -> None:
    status = status_of(
        paused=False,
        confirmed=confirmed,
        failing_unconfirmed=failing_unconfirmed,
        in_maintenance=False,
        degraded=False,
        failing_somewhere=True,
    )
    assert status == expected


def expected_status(
    paused: bool,
    confirmed: EventKind | None,
    failing_unconfirmed: bool,
    in_maintenance: bool,
    degraded: bool,
) -> Status:
    """The precedence as a table of (status, condition), the first true condition winning."""
    ladder: list[tuple[Status, bool]] = [
        ("paused", paused),
        ("maintenance", in_maintenance),
        ("down", confirmed == "downtime"),
        ("pending", failing_unconfirmed),
        ("unknown", confirmed is None),
        ("degraded", degraded),
        ("up", True),
    ]
    return next(status for status, holds in ladder if holds)


ALL = list(product((False, True), CONFIRMED, (False, True), (False, True), (False, True)))


@pytest.mark.parametrize(
    ("paused", "confirmed", "failing_unconfirmed", "in_maintenance", "degraded"),
    [
        pytest.param(
            *combination,
            id=(
                f"paused={combination[0]}-confirmed={combination[1]}-"
                f"failing={combination[2]}-maintenance={combination[3]}-degraded={combination[4]}"
            ),
        )
        for combination in ALL
    ],
)
def test_every_combination(
    paused: bool,
    confirmed: EventKind | None,
    failing_unconfirmed: bool,
    in_maintenance: bool,
    degraded: bool,
) -> None:
    status = status_of(
        paused=paused,
        confirmed=confirmed,
        failing_unconfirmed=failing_unconfirmed,
        in_maintenance=in_maintenance,
        degraded=degraded,
    )
    assert status in STATUSES
    assert status == expected_status(
        paused, confirmed, failing_unconfirmed, in_maintenance, degraded
    )


def test_every_status_is_reachable() -> None:
    seen = {
        status_of(paused=p, confirmed=c, failing_unconfirmed=f, in_maintenance=m, degraded=d)
        for p, c, f, m, d in ALL
    }
    assert len(ALL) == 48
    assert seen == set(STATUSES)
