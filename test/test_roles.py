"""The roles as an operator runs them: `statuschecker api` and `statuschecker poller` as real
processes on the test database, and the per-service series that stay single however many
processes record."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from accounts import ALL, PASSWORD, UNOWNED
from prometheus_client import generate_latest
from roles import STOP_SECONDS, Role, scrape, started_roles, wait_healthy
from sqlalchemy import Engine, func, select, text
from targets import Target, free_port
from waiting import wait_until

from statuschecker.runtime import Runtime
from statuschecker.store.tables import service_ticks, services


@pytest.fixture
def start_role(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Role]]:
    """Starts `statuschecker` roles on the test database; kills whatever is left of them at
    the end."""
    with started_roles(database_url, tmp_path) as start:
        yield start


@pytest.fixture
def target() -> Iterator[Target]:
    with Target("up") as running:
        yield running


def tick_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(service_ticks)).scalar_one()


def checks_total(samples: dict[tuple[str, tuple], float]) -> float:
    return sum(
        value for (name, labels), value in samples.items() if name == "statuschecker_checks_total"
    )


def pids_of(role: Role, event: str) -> list[int]:
    return [entry["pid"] for entry in role.events(event)]


def gone(pid: int) -> bool:
    """Whether `pid` no longer runs."""
    try:
        psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    return False


def test_api_serves_without_polling(
    db: Engine, start_role: Callable[..., Role], target: Target
) -> None:
    port = free_port()
    api = start_role("api", STATUSCHECKER_PORT=str(port), STATUSCHECKER_SIGNUP_POLICY="first-only")
    base = wait_healthy(api, port).removesuffix("/v1")
    auth = sign_up(base)
    created = httpx.post(
        f"{base}/v1/services",
        json={"name": "unpolled", "url": target.url, "interval_seconds": 1},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    time.sleep(3)  # three intervals: a poller would have checked it by now
    assert target.hits == 0 and tick_count(db) == 0
    assert (
        httpx.get(f"{base}/v1/services/{created.json()['id']}", headers=auth).json()["status"]
        == "unknown"
    )
    assert httpx.get(f"{base}/v1/health").json()["poller"] == "disabled"
    names = {name for name, _ in scrape(f"{base}/metrics")}
    assert "statuschecker_service_checks_total" in names  # the per-service series, from the DB
    assert "statuschecker_checks_total" not in names  # no work of its own to count
    assert api.stop() == 0
    assert not api.events("poller.started")


def sign_up(base: str) -> dict[str, str]:
    """Sign up and log in through the API; the Authorization header."""
    credentials = {"email": "roles@example.com", "password": PASSWORD}
    assert httpx.post(f"{base}/v1/users", json=credentials).status_code == 201
    token = httpx.post(f"{base}/v1/auth/token", json=credentials).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def register(runtime: Runtime, url: str, count: int) -> list[int]:
    """`count` services on `url` checked every second."""
    return [runtime.services.register(UNOWNED, f"svc-{i}", url, 1, 0.5).id for i in range(count)]


def lease_owner_pids(engine: Engine, seconds: float) -> set[int]:
    """The pids in the lease owners seen on the services over `seconds` (owner: host:pid:x)."""
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            owners = conn.execute(
                select(services.c.lease_owner).where(services.c.lease_owner.is_not(None))
            ).scalars()
            seen.update(int(owner.split(":")[1]) for owner in owners)
        time.sleep(0.02)
    return seen


def pause_all(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE services SET paused = true"))


def test_poller_processes_share_the_work_and_sum_their_metrics(
    make_runtime: Callable[..., Runtime], start_role: Callable[..., Role], target: Target
) -> None:
    runtime = make_runtime()
    register(runtime, target.url, 30)
    metrics_port = free_port()
    poller = start_role("poller", "--processes", "2", "--metrics-port", str(metrics_port))
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    wait_until(lambda: poller.alive() and len(pids_of(poller, "poller.process_started")) == 2)
    children = pids_of(poller, "poller.process_started")
    wait_until(lambda: poller.alive() and tick_count(runtime.engine) >= 60, timeout=30)

    owners: set[int] = set()

    def both_claimed() -> bool:
        owners.update(lease_owner_pids(runtime.engine, 0.5))
        return owners >= set(children)

    wait_until(both_claimed)
    assert owners == set(children)  # both workers claim, nobody else does

    pause_all(runtime.engine)
    time.sleep(1.5)  # the last claimed checks end and are written

    def settled() -> float:
        samples = scrape(metrics_url)
        pending = samples[("statuschecker_poller_pending_results", ())]
        written = tick_count(runtime.engine)
        return pending == 0 and written == checks_total(samples) and written

    written = wait_until(settled)
    samples = scrape(metrics_url)
    assert samples[("statuschecker_recorder_rows_written_total", ())] == written
    assert samples[("statuschecker_recorder_batches_total", ())] >= 2
    assert samples[("statuschecker_poller_processes", ())] == 2
    assert not any(name.startswith("statuschecker_service_") for name, _ in samples)

    started = time.monotonic()
    assert poller.stop() == 0
    assert time.monotonic() - started < STOP_SECONDS
    assert all(gone(pid) for pid in children)
    assert len(poller.events("poller.stopped")) == 2  # each worker's poller stopped cleanly
    assert [e["exitcode"] for e in poller.events("poller.process_stopped")] == [0, 0]
    assert not poller.events("poller.process_died")


def test_a_killed_poller_process_is_replaced(
    make_runtime: Callable[..., Runtime], start_role: Callable[..., Role], target: Target
) -> None:
    runtime = make_runtime()
    register(runtime, target.url, 10)
    metrics_port = free_port()
    poller = start_role("poller", "--processes", "2", "--metrics-port", str(metrics_port))
    wait_until(lambda: poller.alive() and len(pids_of(poller, "poller.process_started")) == 2)
    wait_until(lambda: poller.alive() and tick_count(runtime.engine) >= 10, timeout=30)
    victim, survivor = pids_of(poller, "poller.process_started")

    os.kill(victim, signal.SIGKILL)
    (died,) = wait_until(lambda: poller.alive() and poller.events("poller.process_died"))
    assert died["pid"] == victim and died["exitcode"] == -signal.SIGKILL
    replacement = wait_until(
        lambda: poller.alive() and pids_of(poller, "poller.process_started")[2:], timeout=15
    )[0]
    before = tick_count(runtime.engine)
    wait_until(lambda: tick_count(runtime.engine) >= before + 40, timeout=15)  # still checking
    owners: set[int] = set()

    def replacement_claimed() -> bool:
        owners.update(lease_owner_pids(runtime.engine, 0.5))
        return replacement in owners

    wait_until(replacement_claimed)
    assert victim not in owners
    samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    assert samples[("statuschecker_poller_process_restarts_total", ())] == 1
    assert samples[("statuschecker_poller_processes", ())] == 2

    assert poller.stop() == 0
    assert all(gone(pid) for pid in (victim, survivor, replacement))


def test_one_series_per_service_however_many_processes_record(
    make_runtime: Callable[..., Runtime], target: Target
) -> None:
    # A sign-up policy other than open: the per-service series are served without a token.
    first = make_runtime(with_poller=True, signup_policy="first-only")
    second = make_runtime(with_poller=True, signup_policy="first-only")
    ids = register(first, target.url, 10)
    first.start()
    second.start()
    wait_until(
        lambda: all(
            second.registry.get_sample_value("statuschecker_service_up", labels(first, i))
            is not None
            for i in ids
        ),
        timeout=15,
    )
    wait_until(lambda: all(checks_of(r) > 0 for r in (first, second)))  # both took a share
    first.poller.stop()  # type: ignore[union-attr]
    second.poller.stop()  # type: ignore[union-attr]

    for runtime in (first, second):
        exposed = generate_latest(runtime.registry).decode()
        for service_id in ids:
            up = re.findall(
                rf'^statuschecker_service_up{{service_id="{service_id}",', exposed, re.M
            )
            assert len(up) == 1, exposed
        # the per-service counters agree with what both processes counted between them
        per_service = sum(
            sample(runtime, "statuschecker_service_checks_total", {**labels(first, i), "result": r})
            for i in ids
            for r in ("up", "down")
        )
        assert per_service == checks_of(first) + checks_of(second)

    deleted, kept = labels(first, ids[0]), labels(first, ids[1])
    first.services.delete(ids[0], ALL)
    for runtime in (first, second):
        assert runtime.registry.get_sample_value("statuschecker_service_up", deleted) is None
        assert runtime.registry.get_sample_value("statuschecker_service_up", kept) is not None


def labels(runtime: Runtime, service_id: int) -> dict[str, str]:
    name = runtime.services.get(service_id, ALL).name
    return {"service_id": str(service_id), "service_name": name}


def sample(runtime: Runtime, name: str, labels: dict[str, str]) -> float:
    """A sample `runtime` must have: a missing one fails here, not in a sum with None."""
    value = runtime.registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def checks_of(runtime: Runtime) -> float:
    """The checks one runtime recorded, up and down, by its own work metrics."""
    return sum(
        runtime.registry.get_sample_value(
            "statuschecker_checks_total", {"result": result, "location": "default"}
        )
        or 0
        for result in ("up", "down")
    )
