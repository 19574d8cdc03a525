"""Dependencies between services: which failing parent explains a failure, and which chains of
`depends_on` would loop."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statuschecker.model import EventKind


def failing(confirmed: EventKind | None, failing_unconfirmed: bool, in_maintenance: bool) -> bool:
    """Whether a parent explains its dependants' failures: confirmed down, failing but not
    confirmed yet (it fails first, whichever is confirmed first), or in maintenance."""
    return confirmed == "downtime" or failing_unconfirmed or in_maintenance


def cause(parents: Sequence[int], failing: Collection[int]) -> int | None:
    """The first of `parents` (in the order the service names them) that is failing, or None."""
    return next((parent for parent in parents if parent in failing), None)


def cycle(
    service_id: int, parents: Sequence[int], graph: Mapping[int, Sequence[int]]
) -> list[int] | None:
    """A loop that `service_id` depending on `parents` would close, as the ids along it from
    `service_id` back to itself, or None. `graph` gives the stored parents of the other
    services (service id -> the ids it depends on).

    A depth-first walk from each parent: reaching `service_id` again is a loop; every service
    is visited once, so the walk ends however the graph is shaped.
    """
    seen: set[int] = set()
    stack: list[tuple[int, list[int]]] = [(p, [service_id, p]) for p in reversed(parents)]
    while stack:
        node, path = stack.pop()
        if node == service_id:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((p, [*path, p]) for p in reversed(graph.get(node, ())))
    return None
