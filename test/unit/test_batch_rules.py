"""The rules of a batch registration, without a database: which items repeat a name, how the
per-account limit is told, and which kind of fault a refused batch is answered as."""

from __future__ import annotations

import pytest

from statuschecker.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    ItemsRejected,
    NotFound,
)
from statuschecker.services.registration import batch_refusal, named_twice, over_limit, repeated


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param([], {}, id="none"),
        pytest.param(["a", "b", "c"], {}, id="all different"),
        pytest.param(["a", "b", "a"], {2: 0}, id="one repeat"),
        pytest.param(["a", "a", "a"], {1: 0, 2: 0}, id="each repeat names the first"),
        pytest.param(["a", "b", "b", "a"], {2: 1, 3: 0}, id="two names"),
        pytest.param(["Web", "web", "web "], {}, id="names compare exactly, as stored"),
    ],
)
def test_repeated(names: list[str], expected: dict[int, int]) -> None:
    assert repeated(names) == expected


def test_named_twice_is_a_conflict_naming_the_first() -> None:
    error = named_twice("web", 3)
    assert isinstance(error, Conflict)
    assert error.detail == "item 3 of the batch is named 'web' too; names are unique per account"


@pytest.mark.parametrize(
    ("limit", "have", "adding", "expected"),
    [
        pytest.param(10, 10, 1, "an account may have at most 10 services; delete one first"),
        pytest.param(
            10,
            8,
            5,
            "an account may have at most 10 services: it has 8, and 5 more would make 13; "
            "register at most 2",
        ),
        pytest.param(
            10,
            12,
            2,
            "an account may have at most 10 services: it has 12, and 2 more would make 14; "
            "register at most 0",
            id="already over a lowered limit",
        ),
    ],
)
def test_over_limit(limit: int, have: int, adding: int, expected: str) -> None:
    assert over_limit(limit, have, adding) == expected


def test_a_refusal_counts_the_items_and_quotes_the_first() -> None:
    refused: dict[int, DomainError] = {7: Conflict("second"), 2: InvalidInput("first")}
    assert batch_refusal(refused, 10) == (
        "2 of the 10 services cannot be registered, so none was; item 2: first"
    )


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        pytest.param([Conflict], Conflict, id="clashes only"),
        pytest.param([Forbidden, Conflict], Forbidden, id="a policy before a clash"),
        pytest.param([Conflict, InvalidInput, Forbidden], InvalidInput, id="invalid first"),
        pytest.param([NotFound, Conflict], NotFound, id="not found before a clash"),
    ],
)
def test_a_refused_batch_is_answered_as_its_most_basic_fault(
    kinds: list[type[DomainError]], expected: type[DomainError]
) -> None:
    error = ItemsRejected("refused", [(("services", i), kind("x")) for i, kind in enumerate(kinds)])
    assert error.kind is expected


def test_the_items_of_a_refusal_are_in_list_and_index_order() -> None:
    items: list[tuple[tuple[str, int], DomainError]] = [
        (("services", 5), Conflict("b")),
        (("maintenances", 0), Conflict("c")),
        (("services", 1), InvalidInput("a")),
    ]
    error = ItemsRejected("refused", items)
    assert [ref for ref, _ in error.items] == [
        ("maintenances", 0), ("services", 1), ("services", 5)
    ]  # fmt: skip
