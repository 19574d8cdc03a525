"""The dependency rules, without a database: which parent is failing, which one explains a
failure, and which `depends_on` chains would loop."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise

import pytest

from statuschecker.model import EventKind
from statuschecker.rules.dependencies import cause, cycle, failing


@pytest.mark.parametrize(
    ("confirmed", "failing_unconfirmed", "in_maintenance", "expected"),
    [
        pytest.param(None, False, False, False, id="never confirmed, not failing"),
        pytest.param("uptime", False, False, False, id="up"),
        pytest.param("downtime", False, False, True, id="confirmed down"),
        pytest.param("uptime", True, False, True, id="failing, not confirmed yet"),
        pytest.param(None, True, False, True, id="new service failing, not confirmed yet"),
        pytest.param("uptime", False, True, True, id="in maintenance"),
        pytest.param(None, False, True, True, id="in maintenance, never confirmed"),
        pytest.param("downtime", True, True, True, id="everything at once"),
    ],
)
def test_failing(
    confirmed: EventKind | None, failing_unconfirmed: bool, in_maintenance: bool, expected: bool
) -> None:
    assert failing(confirmed, failing_unconfirmed, in_maintenance) is expected


@pytest.mark.parametrize(
    ("parents", "failing_ids", "expected"),
    [
        pytest.param([], set(), None, id="no parents"),
        pytest.param([], {1, 2}, None, id="no parents, others failing"),
        pytest.param([4, 5], set(), None, id="no parent failing"),
        pytest.param([4, 5], {9}, None, id="only an unrelated service failing"),
        pytest.param([4, 5], {5}, 5, id="one parent failing"),
        pytest.param([4, 5], {4, 5}, 4, id="both failing: the first named"),
        pytest.param([5, 4], {4, 5}, 5, id="both failing, named the other way: the first named"),
        pytest.param([7, 3, 5], {5, 3}, 3, id="order named, not numeric order"),
    ],
)
def test_cause(parents: list[int], failing_ids: set[int], expected: int | None) -> None:
    assert cause(parents, failing_ids) == expected


def test_cause_accepts_any_collection() -> None:
    assert cause((4, 5), frozenset({5})) == 5
    assert cause([4, 5], [5, 4]) == 4


class Bounded(Mapping[int, Sequence[int]]):
    """A graph that fails the test, rather than hang it, when a walk looks up its services
    more often than a walk visiting each once could."""

    def __init__(self, graph: dict[int, list[int]]) -> None:
        self.graph = graph
        self.lookups = 0

    def __getitem__(self, key: int) -> Sequence[int]:
        self.lookups += 1
        assert self.lookups <= 10 * (len(self.graph) + 1), "the walk does not end"
        return self.graph[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self.graph)

    def __len__(self) -> int:
        return len(self.graph)


@pytest.mark.parametrize(
    ("service_id", "parents", "graph", "expected"),
    [
        pytest.param(1, [], {}, None, id="no parents"),
        pytest.param(1, [2], {}, None, id="a parent without parents"),
        pytest.param(1, [1], {}, [1, 1], id="depends on itself"),
        pytest.param(1, [2], {2: [1]}, [1, 2, 1], id="direct loop"),
        pytest.param(1, [2], {2: [3], 3: [4], 4: [5], 5: [1]}, [1, 2, 3, 4, 5, 1], id="long loop"),
        pytest.param(
            1,
            [2, 3],
            {2: [4], 3: [4], 4: [5], 5: []},
            None,
            id="diamond without loop",
        ),
        pytest.param(
            1,
            [2, 3],
            {2: [4], 3: [4], 4: [1]},
            [1, 2, 4, 1],
            id="diamond closing a loop: found through the first parent",
        ),
        pytest.param(
            1,
            [3, 2],
            {2: [4], 3: [5], 4: [1], 5: []},
            [1, 2, 4, 1],
            id="the loop through the second parent",
        ),
        pytest.param(9, [2], {2: [3], 3: []}, None, id="a new service, not in the graph"),
        pytest.param(9, [2], {2: [3], 3: [9]}, [9, 2, 3, 9], id="a new service, named as a parent"),
        pytest.param(
            1,
            [2],
            {2: [3], 3: [4], 4: [2]},
            None,
            id="an unrelated loop among the parents ends the walk",
        ),
        pytest.param(
            1,
            [2],
            {2: [3, 2], 3: [3, 4], 4: [2, 3]},
            None,
            id="self loops and cross loops among the parents end the walk",
        ),
        pytest.param(
            1,
            [2],
            {1: [5], 2: [3], 5: [1], 3: []},
            None,
            id="its old parents, looping, do not count",
        ),
        pytest.param(
            1,
            [2],
            {1: [2], 2: [3], 3: []},
            None,
            id="keeping the same parent is no loop",
        ),
    ],
)
def test_cycle(
    service_id: int,
    parents: list[int],
    graph: dict[int, list[int]],
    expected: list[int] | None,
) -> None:
    assert cycle(service_id, parents, Bounded(graph)) == expected


def test_cycle_in_a_large_dense_graph_ends() -> None:
    # Every service depends on every other: a walk revisiting would take forever.
    size = 200
    graph = {n: [m for m in range(2, size) if m != n] for n in range(2, size)}
    bounded = Bounded(graph)
    assert cycle(1, [2, 3], bounded) is None
    assert bounded.lookups <= len(graph)


def test_cycle_path_runs_along_the_graph() -> None:
    graph = {2: [3, 6], 3: [4], 4: [], 6: [7], 7: [8, 1], 8: []}
    path = cycle(1, [2], graph)
    assert path == [1, 2, 6, 7, 1]
    parents = {1: [2], **graph}
    for child, parent in pairwise(path):
        assert parent in parents[child]
