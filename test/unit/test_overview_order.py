"""The dense view's order: by each column, up or down, rows without the figure last either
way, ties by name then id."""

from __future__ import annotations

import pytest

from statuschecker.services.overview import Figures, Sort, ordered


def row(id: int, name: str, **figures: object) -> Figures:
    given: dict = {"group": None, "status": "up", "response_time_ms": None, "uptime_24h": None,
                   "uptime_30d": None, **figures}  # fmt: skip
    return Figures(id=id, name=name, kind="http", public=False, tags=(), last_checked_at=None,
                   **given)  # fmt: skip


ROWS = [
    row(1, "beta", uptime_24h=99.0, status="down", group="b", response_time_ms=5.0),
    row(2, "Alpha", uptime_24h=100.0, status="up", group="a", response_time_ms=50.0),
    row(3, "gamma", status="paused"),
    row(4, "alpha", uptime_24h=99.0, status="pending", group="a", response_time_ms=5.0),
]


@pytest.mark.parametrize(
    ("sort", "descending", "ids"),
    [
        ("name", False, [2, 4, 1, 3]),  # case apart, then by id
        ("name", True, [3, 1, 2, 4]),  # a tie keeps its order going down too
        ("uptime_24h", False, [4, 1, 2, 3]),  # 99 (alpha, beta), 100, none last
        ("uptime_24h", True, [2, 4, 1, 3]),  # none last going down too
        ("status", False, [1, 4, 3, 2]),  # down, pending, paused, up
        ("status", True, [2, 3, 4, 1]),
        ("group", False, [2, 4, 1, 3]),
        ("response_time", True, [2, 4, 1, 3]),
        ("uptime_30d", False, [2, 4, 1, 3]),  # nobody has one: by name
    ],
)
def test_rows_are_ordered(sort: Sort, descending: bool, ids: list[int]) -> None:
    assert [f.id for f in ordered(ROWS, sort, descending)] == ids
