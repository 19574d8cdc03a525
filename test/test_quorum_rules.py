"""The quorum rule, table-driven: from each location's confirmed state and liveness to the
service's state, the failing locations and the stale ones."""

from __future__ import annotations

import pytest

from statuschecker.model import EventKind
from statuschecker.rules.quorum import Vote, majority, verdict

UP: EventKind = "uptime"
DOWN: EventKind = "downtime"


def votes(spec: str) -> list[Vote]:
    """`"a:up b:down c:down/stale d:-"`: each location's confirmed state, `/stale` when it is
    not live, `-` when it has confirmed nothing yet."""
    found = []
    for part in spec.split():
        location, _, said = part.partition(":")
        state, _, stale = said.partition("/")
        confirmed: EventKind | None = {"up": UP, "down": DOWN, "-": None}[state]
        found.append(Vote(location, confirmed, live=stale != "stale"))
    return found


@pytest.mark.parametrize(
    ("spec", "quorum", "state", "failing", "stale", "degraded"),
    [
        ("a:up b:up c:up", None, UP, (), (), False),
        ("a:up b:up c:down", None, UP, ("c",), (), True),  # one of three: a routing problem
        ("a:up b:down c:down", None, DOWN, ("b", "c"), (), False),
        ("a:down b:down c:down", None, DOWN, ("a", "b", "c"), (), False),
        # a stale location counts for neither side: the quorum follows the live ones
        ("a:up b:down c:down/stale", None, UP, ("b",), ("c",), True),
        ("a:down/stale b:down c:up/stale", None, DOWN, ("b",), ("a", "c"), False),
        ("a:up/stale b:up/stale", None, None, (), ("a", "b"), False),
        # the service's own quorum
        ("a:up b:up c:down", 1, DOWN, ("c",), (), False),
        ("a:up b:down c:down", 3, UP, ("b", "c"), (), True),
        ("a:down b:down", 3, UP, ("a", "b"), (), True),  # more than live: never down
        # nothing confirmed yet
        ("a:- b:- c:-", None, None, (), (), False),
        ("a:- b:- c:up", None, UP, (), (), False),
        ("a:- b:down c:-", None, UP, ("b",), (), True),
        ("a:down b:-", None, UP, ("a",), (), True),  # two live: both must say down
        ("a:down", None, DOWN, ("a",), (), False),  # one location: as without locations
        ("", None, None, (), (), False),
        ("c:down b:down a:up", None, DOWN, ("b", "c"), (), False),  # names in order
    ],
)
def test_the_verdict_of_a_service_checked_from_several_locations(
    spec: str,
    quorum: int | None,
    state: str | None,
    failing: tuple[str, ...],
    stale: tuple[str, ...],
    degraded: bool,
) -> None:
    found = verdict(votes(spec), quorum)
    assert (found.state, found.failing, found.stale, found.degraded) == (
        state, failing, stale, degraded
    )  # fmt: skip


@pytest.mark.parametrize(("live", "needed"), [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_the_default_quorum_is_a_majority_of_the_live_locations(live: int, needed: int) -> None:
    assert majority(live) == needed
    assert verdict([Vote(str(n), UP, True) for n in range(live)]).quorum == needed
