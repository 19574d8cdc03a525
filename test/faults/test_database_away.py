"""The database goes away while the poller runs and the API serves: checks go on, results are
buffered (up to a bound, beyond which the oldest are dropped and counted) and written in order
without duplicates when it returns; meanwhile the API answers from its cache where it can,
503 where it cannot, and /v1/health says what is going on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from accounts import Account, password_hash
from invariants import assert_consistent
from sqlalchemy import Engine, text
from targets import Target
from waiting import wait_until

from statuschecker.accounts import credentials
from statuschecker.runtime import Runtime
from statuschecker.store import accounts as account_store
from statuschecker.store.engine import migrate
from statuschecker.system.config import Settings
from statuschecker.system.embedded_db import EmbeddedPostgres
from web.app import create_app

INTERVAL = 1  # seconds between checks of every service


@pytest.fixture
def own_postgres(pg_dir: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the test's own, which it may stop and start."""
    server = EmbeddedPostgres(pg_dir)
    migrate(server.start())
    yield server
    server.stop()


@pytest.fixture
def target() -> Iterator[Target]:
    with Target() as running:
        yield running


class Setup:
    """A `statuschecker run`-like runtime (poller and API in one process) on the test's own
    database, with `count` services checked every second against `target`, and an account
    whose token the API has seen."""

    def __init__(
        self,
        make_runtime: Callable[..., Runtime],
        serve: Callable[[Any], str],
        settings: Settings,
        postgres: EmbeddedPostgres,
        target: Target,
        count: int,
        **overrides: object,
    ) -> None:
        self.runtime = make_runtime(
            with_poller=True, listen=True, database_url=postgres.url, **overrides
        )
        self.engine = self.runtime.engine
        self.account = _account(self.engine, settings)
        self.ids = [
            self.runtime.services.register(
                self.account.caller, f"svc-{i}", target.url, INTERVAL, 0.5
            ).id
            for i in range(count)
        ]
        self.api = httpx.Client(  # serving starts the runtime
            base_url=serve(create_app(self.runtime)) + "/v1",
            headers=self.account.headers,
            timeout=10,
        )
        wait_until(lambda: min(self.tick_counts().values(), default=0) >= 2, timeout=20)
        for service_id in self.ids:  # the token is now known, every service cached
            assert self.api.get(f"/services/{service_id}").status_code == 200

    @property
    def poller(self) -> Any:
        assert self.runtime.poller is not None
        return self.runtime.poller

    def tick_counts(self) -> dict[int, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT service_id, count(*) FROM service_ticks GROUP BY service_id")
            )
            return {row[0]: row[1] for row in rows}

    def ticks_between(self, since: float, until: float) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM service_ticks "
                    "WHERE checked_at >= to_timestamp(:since) AND checked_at < to_timestamp(:until)"
                ),
                {"since": since, "until": until},
            ).scalar_one()

    def checks_made(self) -> int:
        """Checks the poller has finished, whatever became of their results."""
        count = self.runtime.registry.get_sample_value(
            "statuschecker_check_duration_seconds_count", {"kind": "http"}
        )
        return int(count or 0)

    def recovered(self) -> bool:
        health = self.api.get("/health")
        return health.status_code == 200 and health.json()["buffered_results"] == 0

    def stop_polling(self) -> None:
        """Stop the poller (it writes what it holds), so that counts are final."""
        self.poller.stop(timeout=30)


def _account(engine: Engine, settings: Settings) -> Account:
    with engine.begin() as conn:
        user = account_store.create_user(conn, "ops@example.com", password_hash(), is_admin=False)
    key = credentials.signing_key(settings)
    return Account(user, credentials.issue_access_token(user.id, key, 3600))


def test_thirty_seconds_without_the_database_lose_nothing(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    settings: Settings,
    own_postgres: EmbeddedPostgres,
    target: Target,
    fault_report: Callable[..., None],
) -> None:
    away_seconds = 30.0
    setup = Setup(make_runtime, serve, settings, own_postgres, target, count=10)
    api = setup.api

    key = credentials.signing_key(settings)
    unseen = {
        "Authorization": f"Bearer {credentials.issue_access_token(setup.account.user.id, key, 60)}"
    }
    own_postgres.stop()
    stopped = time.time()
    # A token the API has not seen cannot be checked without the database.
    assert api.get(f"/services/{setup.ids[0]}", headers=unseen).status_code == 503
    samples: list[dict[str, Any]] = []
    went_down = False  # the target, halfway through
    while time.time() - stopped < away_seconds:
        one = api.get(f"/services/{setup.ids[0]}")
        listing = api.get("/services")
        health = api.get("/health")
        samples.append(
            {"one": one.status_code, "list": listing, "health": health, "at": time.time()}
        )
        if not went_down and time.time() - stopped > away_seconds / 2:
            target.set_mode("down")  # a state change the database learns of afterwards
            went_down = True
        time.sleep(1)
    own_postgres.start()
    restarted = time.time()
    buffered_peak = max(s["health"].json().get("buffered_results", 0) for s in samples)
    wait_until(setup.recovered, timeout=60, every=0.1)
    recovery_seconds = time.time() - restarted
    setup.stop_polling()

    # The API answered from its cache, refused what needs the database, and said why.
    assert {s["one"] for s in samples} == {200}
    assert {s["list"].status_code for s in samples} == {503}
    assert {s["list"].headers["content-type"] for s in samples} == {"application/problem+json"}
    late = [s for s in samples if s["at"] - stopped > 3]  # the poller has noticed by then
    for sample in late:
        health = sample["health"]
        assert health.status_code == 503
        assert health.json()["database"].startswith("unavailable")
        assert "checking on its own schedule" in health.json()["poller"]
    assert (
        late[-1]["health"].json()["buffered_results"] > late[0]["health"].json()["buffered_results"]
    )

    # Every check made was written once, in order, and the checks went on meanwhile.
    ticks = sum(setup.tick_counts().values())
    assert ticks == setup.checks_made()
    assert setup.poller.buffer.dropped == 0
    assert_consistent(setup.engine)
    away_ticks = setup.ticks_between(stopped + 1, restarted - 1)
    expected_away = len(setup.ids) * (restarted - stopped - 2) / INTERVAL
    assert away_ticks >= 0.8 * expected_away
    with setup.engine.connect() as conn:
        downs = conn.execute(
            text(
                "SELECT count(DISTINCT service_id) FROM service_events WHERE event = 'downtime' "
                "AND date_started BETWEEN to_timestamp(:since) AND to_timestamp(:until)"
            ),
            {"since": stopped, "until": restarted},
        ).scalar_one()
    assert downs == len(setup.ids)  # the state change seen while away became events
    fault_report(
        "database away 30 s",
        services=len(setup.ids),
        checks_while_away=away_ticks,
        buffered_peak=buffered_peak,
        written_after_return=ticks,
        dropped=setup.poller.buffer.dropped,
        duplicated=0,
        recovery_seconds=round(recovery_seconds, 2),
    )


def test_beyond_its_bound_the_buffer_drops_the_oldest_and_counts_them(
    make_runtime: Callable[..., Runtime],
    serve: Callable[[Any], str],
    settings: Settings,
    own_postgres: EmbeddedPostgres,
    target: Target,
    fault_report: Callable[..., None],
) -> None:
    bound, count, away_seconds = 15, 5, 8.0
    setup = Setup(
        make_runtime,
        serve,
        settings,
        own_postgres,
        target,
        count=count,
        recorder_buffer_max_results=bound,
    )
    own_postgres.stop()
    stopped = time.time()
    time.sleep(away_seconds)
    own_postgres.start()
    restarted = time.time()
    wait_until(setup.recovered, timeout=60, every=0.1)
    recovery_seconds = time.time() - restarted
    setup.stop_polling()

    dropped = setup.poller.buffer.dropped
    ticks = sum(setup.tick_counts().values())
    assert dropped > 0
    assert ticks + dropped == setup.checks_made()  # each check written or counted as dropped
    counted = setup.runtime.registry.get_sample_value("statuschecker_poller_dropped_results_total")
    assert counted == dropped
    # What was kept is the newest: nothing from the outage's first seconds survived.
    newest_span = bound / count * INTERVAL + 2
    assert setup.ticks_between(stopped + 1, restarted - newest_span) == 0
    assert 0 < setup.ticks_between(restarted - newest_span, restarted) <= bound + count
    assert_consistent(setup.engine)
    fault_report(
        "database away 8 s, buffer bound 15",
        services=count,
        dropped=dropped,
        written=ticks,
        duplicated=0,
        recovery_seconds=round(recovery_seconds, 2),
    )
