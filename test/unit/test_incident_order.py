"""The status pages' order of incidents, written and automatic together: newest started first,
at the same start the written one first, then the higher id; a page's cursor goes on past its
last item. Table-driven, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuschecker.model import Reported
from statuschecker.services.incidents import key, merged
from statuschecker.store import cursor

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


def incident(source: str, ident: int, minutes: int) -> Reported:
    start = T0 + timedelta(minutes=minutes)
    return Reported(
        source="written" if source == "w" else "automatic",
        id=ident,
        title=f"{source}{ident}",
        impact=None,
        status=None,
        started_at=start,
        resolved_at=None,
        updated_at=start,
        services=(),
    )


@pytest.mark.parametrize(
    ("given", "limit", "shown", "more"),
    [
        ([("a", 1, 0), ("w", 1, 5)], 10, ["w1", "a1"], False),
        ([("a", 7, 5), ("w", 2, 5)], 10, ["w2", "a7"], False),  # same start: written first
        ([("a", 3, 5), ("a", 9, 5)], 10, ["a9", "a3"], False),  # then the higher id
        ([("w", 1, 1), ("w", 2, 2), ("a", 1, 3)], 2, ["a1", "w2"], True),
        ([], 5, [], False),
    ],
)
def test_newest_started_first_written_first_at_a_tie(
    given: list[tuple[str, int, int]], limit: int, shown: list[str], more: bool
) -> None:
    page = merged([incident(*item) for item in given], limit)
    assert [i.title for i in page.items] == shown
    assert (page.next_cursor is not None) == more


def test_the_cursor_holds_the_last_items_key() -> None:
    items = [incident("w", 4, 10), incident("a", 8, 10), incident("a", 2, 0)]
    page = merged(items, 2)
    assert page.next_cursor is not None
    assert cursor.decode(page.next_cursor, datetime, int, int) == key(items[1])
