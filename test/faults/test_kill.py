"""A poller killed with SIGKILL in the middle of a batch.

Requirement: after restart (or by another poller) no tick is duplicated, no service has two
open events, every metric equals its ticks, and the services are checked again within one
lease period.

The process that records is the poller's worker (`statuschecker poller` supervises workers;
each worker checks and writes its own batches). The test catches a worker with its batch
transaction open: it watches pg_stat_activity for a recorder statement, freezes the worker
(SIGSTOP), makes sure its transaction is still open and waiting for the frozen client, and only
then kills it, so the kill always lands mid-batch. Two ways back are tried: the supervisor
replaces its worker, or the whole poller (supervisor and worker, as a machine crash or the OOM
killer would) dies and another poller is started.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from accounts import UNOWNED
from invariants import assert_consistent
from roles import Role, scrape, started_roles
from sqlalchemy import Connection, Engine, Row, text
from targets import Target, free_port
from waiting import wait_until

from statuschecker.runtime import Runtime

KIND_HTTP = (("kind", "http"),)  # the labels of the checks' samples on /metrics
SERVICES = 300  # at a 1 s interval: about 300 results in each batch
TIMEOUT_SECONDS = 0.5
LEASE_GRACE_SECONDS = 2.0  # what Role sets
LEASE_SECONDS = TIMEOUT_SECONDS + LEASE_GRACE_SECONDS
FLUSH_SECONDS = 1.0  # one big batch a second
CATCH_SECONDS = 90  # to catch a batch in flight, at most
SETTLE_SECONDS = 0.2  # after SIGSTOP, for whatever the worker had already sent to be served

# A statement of the recorder's transaction (recorder.record -> store.results / rollups / ...),
# as pg_stat_activity shows the last one a backend ran. The claim and the pruning are not it.
RECORDER_STATEMENT = re.compile(
    r"service_ticks|service_metrics|service_rollup|service_events|ORDER BY id FOR UPDATE"
)
_BACKENDS = text(
    """
    SELECT pid, state, xact_start, query FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = 'statuschecker'
      AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')
    """
)


@pytest.fixture
def start_role(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Role]]:
    """Starts `statuschecker` roles on the test database; kills whatever is left of them."""
    with started_roles(database_url, tmp_path) as start:
        yield start


@dataclass(frozen=True)
class Caught:
    """A worker frozen with its batch transaction open, and what it had done by then."""

    backend_pid: int
    state: str
    query: str
    checks_done: int  # checks the worker finished (its check-duration histogram's count)
    ticks_committed: int  # ticks in the database (all from this worker) at that moment


@pytest.mark.parametrize("way_back", ["worker-replaced", "poller-restarted"])
def test_poller_killed_mid_batch(
    make_runtime: Callable[..., Runtime],
    start_role: Callable[..., Role],
    fault_report: Callable[..., None],
    way_back: str,
) -> None:
    runtime = make_runtime()
    engine = runtime.engine
    with Target("up") as target:
        ids = [
            runtime.services.register(UNOWNED, f"kill-{i}", target.url, 1, TIMEOUT_SECONDS).id
            for i in range(SERVICES)
        ]
        settings = {
            "STATUSCHECKER_RECORDER_FLUSH_SECONDS": str(FLUSH_SECONDS),
            "STATUSCHECKER_RECORDER_BATCH_SIZE": "10000",
            "STATUSCHECKER_POLLER_CONCURRENCY": "1000",
        }
        metrics_port = free_port()
        poller = start_role(
            "poller", "--processes", "1", "--metrics-port", str(metrics_port), **settings
        )
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        (started,) = wait_until(
            lambda: poller.alive() and poller.events("poller.started"), timeout=60, every=0.2
        )
        (worker_pid,) = [e["pid"] for e in poller.events("poller.process_started")]
        dead_owner = started["owner"]
        assert f":{worker_pid}:" in dead_owner  # the lease owner names the worker
        # Two batches written: the worker is past its start-up work (pruning included).
        wait_until(lambda: poller.alive() and batches(metrics_url) >= 2, timeout=60, every=0.2)

        caught = catch_mid_batch(engine, worker_pid, metrics_url)
        if way_back == "poller-restarted":
            # The supervisor, then its worker; what the supervisor would have removed on its
            # way out (the workers' metrics files, named in their environment) is removed here.
            metrics_dir = psutil.Process(worker_pid).environ()["PROMETHEUS_MULTIPROC_DIR"]
            os.kill(poller.process.pid, signal.SIGKILL)
            poller.process.wait(timeout=10)
        os.kill(worker_pid, signal.SIGKILL)
        if way_back == "poller-restarted":
            shutil.rmtree(metrics_dir, ignore_errors=True)
        killed_at = datetime.now(UTC)
        wait_until(lambda: not backend_alive(engine, caught.backend_pid), timeout=30)
        with engine.connect() as conn:
            assert tick_count(conn) == caught.ticks_committed  # the open batch was rolled back
            leases_orphaned, leases_expire = conn.execute(
                text(
                    "SELECT count(*), max(lease_expires_at) FROM services "
                    "WHERE lease_owner = :owner"
                ),
                {"owner": dead_owner},
            ).one()
        assert leases_orphaned > 0  # the batch in flight still held its services' leases

        if way_back == "poller-restarted":
            poller = start_role(
                "poller", "--processes", "1", "--metrics-port", str(free_port()), **settings
            )
            new_started = wait_until(
                lambda: poller.alive() and poller.events("poller.started"), timeout=60, every=0.2
            )[0]
        else:
            died = wait_until(lambda: poller.alive() and poller.events("poller.process_died"))
            assert died[0]["pid"] == worker_pid and died[0]["exitcode"] == -signal.SIGKILL
            new_started = wait_until(
                lambda: poller.alive() and poller.events("poller.started")[1:],
                timeout=60,
                every=0.2,
            )[0]
        assert new_started["owner"] != dead_owner
        back_at = datetime.fromisoformat(new_started["timestamp"])

        # Every service is checked again, and written, after the kill.
        wait_until(
            lambda: poller.alive() and services_checked_since(engine, killed_at) == SERVICES,
            timeout=60,
            every=0.2,
        )
        time.sleep(2 * FLUSH_SECONDS)  # a few more rounds on top
        assert poller.stop() == 0  # SIGTERM: the last batch is written

    assert_consistent(engine)  # no tick twice, one open event each, metrics and rollups agree
    with engine.connect() as conn:
        open_events = conn.execute(
            text("SELECT count(*) FROM service_events WHERE date_ended IS NULL")
        ).scalar_one()
        first_back = dict(
            conn.execute(
                text(
                    "SELECT service_id, min(checked_at) FROM service_ticks "
                    "WHERE checked_at > :killed GROUP BY service_id"
                ),
                {"killed": killed_at},
            )
            .tuples()
            .all()
        )
        leases_left = conn.execute(
            text("SELECT count(*) FROM services WHERE lease_owner IS NOT NULL")
        ).scalar_one()
        ticks_after = tick_count(conn)

    assert open_events == SERVICES
    assert sorted(first_back) == sorted(ids)
    # Within one lease period of the poller being back (the dead worker's leases ran out by
    # then or sooner: they were taken before the kill and last one lease period).
    assert leases_expire <= killed_at + timedelta(seconds=LEASE_SECONDS)
    late = {
        service_id: (at - back_at).total_seconds()
        for service_id, at in first_back.items()
        if at > back_at + timedelta(seconds=LEASE_SECONDS)
    }
    assert late == {}, f"checked again more than {LEASE_SECONDS}s after the poller was back"
    assert leases_left == 0  # the second poller stopped cleanly
    recovered = max(first_back.values())
    fault_report(
        f"poller SIGKILLed mid-batch ({way_back})",
        caught_in=caught.state,
        results_lost=caught.checks_done - caught.ticks_committed,
        leases_orphaned=leases_orphaned,
        duplicated=0,
        seconds_to_recover=(recovered - killed_at).total_seconds(),
        seconds_poller_back=(back_at - killed_at).total_seconds(),
        seconds_recovered_after_back=(recovered - back_at).total_seconds(),
        ticks_before=caught.ticks_committed,
        ticks_after=ticks_after,
    )


def catch_mid_batch(engine: Engine, worker_pid: int, metrics_url: str) -> Caught:
    """Freeze the worker while its recorder transaction is open and waits on it; what it had
    done by then. Tries again (SIGCONT) when the freeze came too late, within CATCH_SECONDS.

    1. Watch the worker's backends for the last statement of an open transaction being one of
       the recorder's.
    2. SIGSTOP the worker; wait SETTLE_SECONDS so whatever it had already sent (a COMMIT, say)
       is served.
    3. Still the same transaction, idle in it (waiting for the frozen client) or running a
       statement that is not its COMMIT? Then the batch is caught in flight: nothing it wrote
       can commit any more. Otherwise SIGCONT and go back to 1.
    """
    deadline = time.monotonic() + CATCH_SECONDS
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            seen = [
                row for row in conn.execute(_BACKENDS).all() if RECORDER_STATEMENT.search(row.query)
            ]
            if not seen:
                time.sleep(0.003)
                continue
            os.kill(worker_pid, signal.SIGSTOP)
            try:
                time.sleep(SETTLE_SECONDS)
                for backend in seen:
                    state = still_in_batch(conn, backend)
                    if state is not None:
                        samples = scrape(metrics_url)
                        return Caught(
                            backend_pid=backend.pid,
                            state=state,
                            query=backend.query,
                            checks_done=int(
                                samples[("statuschecker_check_duration_seconds_count", KIND_HTTP)]
                            ),
                            ticks_committed=tick_count(conn),
                        )
            except BaseException:
                os.kill(worker_pid, signal.SIGCONT)
                raise
            os.kill(worker_pid, signal.SIGCONT)
    raise AssertionError(f"no batch caught in flight within {CATCH_SECONDS}s")


def still_in_batch(conn: Connection, backend: Row) -> str | None:
    """The backend's state when it is still in the transaction seen and that transaction
    cannot commit without its (frozen) client: idle in it, or running one of its statements
    other than COMMIT; else None."""
    now = conn.execute(
        text("SELECT state, xact_start, query FROM pg_stat_activity WHERE pid = :pid"),
        {"pid": backend.pid},
    ).one_or_none()
    if now is None or now.xact_start != backend.xact_start:
        return None
    committing = now.query.lstrip().upper().startswith("COMMIT")
    if now.state == "idle in transaction" or (now.state == "active" and not committing):
        return str(now.state)
    return None


def batches(metrics_url: str) -> float:
    """Batches the poller's workers have written, by its /metrics."""
    return scrape(metrics_url).get(("statuschecker_recorder_batches_total", ()), 0.0)


def backend_alive(engine: Engine, pid: int) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar_one()
        )


def tick_count(conn: Connection) -> int:
    return conn.execute(text("SELECT count(*) FROM service_ticks")).scalar_one()


def services_checked_since(engine: Engine, moment: datetime) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(DISTINCT service_id) FROM service_ticks WHERE checked_at > :m"),
            {"m": moment},
        ).scalar_one()
