"""Change announcements between processes: NOTIFY on commit, a listener per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from accounts import ALL, Account
from sqlalchemy import Engine, text
from waiting import wait_until

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.runtime import Runtime
from statuschecker.system.changes import MAX_PAYLOAD, ChangeListener, _payloads, announce

DOWN = CheckResult(up=False, error="connection refused")


class Heard:
    """What a listener handed on."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.resets = 0
        self.lock = threading.Lock()

    def change(self, ids: list[int]) -> None:
        with self.lock:
            self.ids.extend(ids)

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
def heard(database_url: str) -> Iterator[Heard]:
    heard = Heard()
    listener = ChangeListener(database_url, heard.change, heard.reset)
    listener.start()
    try:
        assert listener.listening.wait(10), "the listener did not connect"
        yield heard
    finally:
        listener.stop()


def test_committed_changes_are_heard_and_rolled_back_ones_are_not(
    heard: Heard, engine: Engine
) -> None:
    assert heard.resets == 1
    with engine.connect() as conn, conn.begin() as transaction:
        announce(conn, [7, 8])
        transaction.rollback()
    with engine.begin() as conn:
        announce(conn, [3, 1, 3])
    wait_until(lambda: heard.ids == [1, 3], timeout=1.0)


def test_many_ids_are_split_into_payloads_postgresql_accepts(heard: Heard, engine: Engine) -> None:
    ids = list(range(1_000_000, 1_003_000))
    payloads = _payloads(ids)
    assert len(payloads) > 1 and all(len(p) < MAX_PAYLOAD for p in payloads)
    with engine.begin() as conn:
        announce(conn, ids)
    wait_until(lambda: sorted(heard.ids) == ids, timeout=2.0)


def test_a_lost_connection_is_remade_and_the_cache_reset(heard: Heard, engine: Engine) -> None:
    with engine.begin() as conn:
        killed = (
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN statuschecker_services%' AND pid <> pg_backend_pid()"
                )
            )
            .scalars()
            .all()
        )
    assert killed == [True]
    wait_until(lambda: heard.resets == 2, timeout=5.0)
    with engine.begin() as conn:
        announce(conn, [42])
    wait_until(lambda: heard.ids == [42], timeout=1.0)


def test_a_change_recorded_by_a_poller_shows_in_another_api_process_within_a_second(
    make_runtime: Callable[..., Runtime], account: Account
) -> None:
    # Its recorder stands for another process; one failure confirms down there.
    poller_side = make_runtime(with_poller=True, confirm_down_after=1)
    api_side = make_runtime(listen=True)
    api_side.start()
    assert api_side.listener is not None and api_side.listener.listening.wait(10)
    service = api_side.services.register(account.caller, "shop", "http://a.test/")
    seen = api_side.services.get(service.id, ALL)  # now cached by the API process
    assert seen.status == "unknown"
    recorder = poller_side.poller._recorder  # type: ignore[union-attr]
    recorder.record([CheckOutcome(service.id, datetime.now(UTC), DOWN)], "elsewhere")
    started = time.monotonic()
    wait_until(lambda: api_side.services.get(service.id, ALL).status == "down", timeout=1.0)
    assert time.monotonic() - started < 1.0
    poller_side.services.update(service.id, {"name": "renamed"}, ALL)
    wait_until(lambda: api_side.services.get(service.id, ALL).name == "renamed", timeout=1.0)
