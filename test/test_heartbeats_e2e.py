"""Heartbeats end to end, as an operator runs them: real `statuschecker api` and `statuschecker
poller` processes on the test database, pinged over HTTP on 127.0.0.1, alerting a real webhook
receiver. A burst of pings through two API processes is stored whole, once; silence is found by
the pollers alone, once however many there are, and still once when the poller holding the
lease is SIGKILLed; `statuschecker wrap` reports to the real server and never fails the job; a
ping one API process commits after a newer one another took does not move the deadline back."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from heartbeat_processes import (
    Api,
    Connection,
    get,
    ping_key,
    poller_started,
    register,
    rows,
    sign_up,
    start_api,
    start_poller,
    wait_api,
    worker_pid,
    wrap,
)
from heartbeat_processes import per_service as counted
from receivers import Receiver
from roles import Role, started_roles
from sqlalchemy import Engine, text
from waiting import wait_until

INTERVAL, GRACE = 2, 1
LATE_SECONDS = INTERVAL + GRACE  # a heartbeat pinged at t is late at t + 3 s
# A late heartbeat's failure alone in the 1 s window is 0 % available: down (confirmed at once,
# as heartbeats are). A success next to a failure in it is 50 %: recovered.
EAGER = {"window_seconds": 1, "min_checks": 1, "availability_threshold_percent": 49}
HEARTBEATS = 20
SILENT = 5  # of them stop pinging after the burst
BURST = 2000
CONCURRENCY = 50
KEEP_ALIVE_SECONDS = 0.5  # how often the heartbeats that are not silent are pinged
OUT_OF_ORDER = 0.2  # seconds two API processes may commit a key's pings out of order in a burst
LATE_REASON = re.compile(r"no ping for (\d+)s \(due at (\S+)\)")
TICKS_PER_SERVICE = "SELECT service_id, count(*) FROM service_ticks GROUP BY service_id"


@pytest.fixture
def start_role(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Role]]:
    """Starts `statuschecker` roles on the test database; kills whatever is left of them at
    the end, also when the test fails."""
    with started_roles(database_url, tmp_path) as start:
        yield start


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


# -- pinging -------------------------------------------------------------------------------------


@dataclass
class Sent:
    """What pings got: the 200 `OK` answers by (key, kind: start or success), and a line for
    every other answer or failed request."""

    ok: Counter[tuple[str, str]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, key: str, kind: str, status: int, text: str) -> None:
        with self.lock:
            if (status, text) == (200, "OK"):
                self.ok[key, kind] += 1
            else:
                self.failures.append(f"{kind}: {status} {text[:200]}")

    def failed(self, kind: str, error: Exception) -> None:
        with self.lock:
            self.failures.append(f"{kind}: {error!r}")

    def by_key(self, *kinds: str) -> Counter[str]:
        """200 answers per key, of `kinds` (all kinds if none given)."""
        with self.lock:
            found: Counter[str] = Counter()
            for (key, kind), count in self.ok.items():
                if not kinds or kind in kinds:
                    found[key] += count
            return found


@dataclass(frozen=True)
class Request:
    """One ping to send: to the API process on `port`, method, path, body; its key and kind."""

    port: int
    method: str
    path: str
    body: bytes
    key: str
    kind: str


def burst_plan(apis: Sequence[Api], keys: Sequence[str], count: int) -> list[Request]:
    """`count` pings spread over every key and API process: in turn a plain GET success, a
    start with a run id, and a POST of exit status 0 with the run's log (a success)."""
    plan = []
    for n in range(count):
        key = keys[n % len(keys)]
        rounds = n // len(keys)
        port = apis[rounds % len(apis)].port
        step = (rounds // len(apis)) % 3
        if step == 0:
            plan.append(Request(port, "GET", f"/ping/{key}", b"", key, "success"))
        elif step == 1:
            path = f"/ping/{key}/start?rid=r{rounds}"
            plan.append(Request(port, "POST", path, b"", key, "start"))
        else:
            path = f"/ping/{key}/0?rid=r{rounds - 1}"
            body = f"run {rounds} done\n".encode()
            plan.append(Request(port, "POST", path, body, key, "success"))
    return plan


async def _send_all(plan: Sequence[Request], concurrency: int, sent: Sent) -> None:
    pending = iter(plan)  # shared by the workers: each request is taken once

    async def worker() -> None:
        connections: dict[int, Connection] = {}
        try:
            for ping in pending:
                connection = connections.setdefault(ping.port, Connection(ping.port))
                try:
                    status, body = await connection.request(ping.method, ping.path, ping.body)
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    sent.failed(ping.kind, exc)
                    continue
                sent.answered(ping.key, ping.kind, status, body.decode("utf-8", "replace"))
        finally:
            for connection in connections.values():
                await connection.close()

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 60)


def send_burst(plan: Sequence[Request], concurrency: int) -> Sent:
    """Send `plan` over `concurrency` keep-alive connections to each API process at once;
    what the pings got."""
    sent = Sent()
    asyncio.run(_send_all(plan, concurrency, sent))
    return sent


class KeepAlive(threading.Thread):
    """Pings its keys every KEEP_ALIVE_SECONDS, through the API processes in turn, until
    stopped; what the pings got in `sent` (all successes)."""

    def __init__(self, apis: Sequence[Api], keys: Sequence[str]) -> None:
        super().__init__(name="keep-alive", daemon=True)
        self.sent = Sent()
        self._apis = list(apis)
        self._keys = list(keys)
        self._keys_lock = threading.Lock()
        self._stopping = threading.Event()

    def add(self, keys: Sequence[str]) -> None:
        """Ping these keys too from the next round on."""
        with self._keys_lock:
            self._keys += keys

    def run(self) -> None:
        turn = 0
        with httpx.Client(timeout=5) as client:
            while not self._stopping.is_set():
                with self._keys_lock:
                    keys = list(self._keys)
                for key in keys:
                    api = self._apis[turn % len(self._apis)]
                    turn += 1
                    try:
                        answer = client.get(api.ping_url(key))
                        self.sent.answered(key, "success", answer.status_code, answer.text)
                    except httpx.HTTPError as exc:
                        self.sent.failed("success", exc)
                self._stopping.wait(KEEP_ALIVE_SECONDS)

    def stop(self) -> None:
        """Stop after the round under way (bounded)."""
        self._stopping.set()
        self.join(timeout=30)
        assert not self.is_alive(), "the keep-alive pinger did not stop"


# -- what the database and the receiver hold -----------------------------------------------------


def alert_counts(db: Engine) -> Counter[tuple[int, str]]:
    """Alerts raised by (service id, kind)."""
    found = rows(db, "SELECT service_id, kind, count(*) FROM alerts GROUP BY service_id, kind")
    return Counter({(int(sid), str(kind)): int(n) for sid, kind, n in found})


def delivered(receiver: Receiver) -> list[tuple[str, int]]:
    """(kind, service id) of every alert the receiver got, sorted."""
    return sorted((r.json()["alert"]["kind"], r.json()["service"]["id"]) for r in receiver.requests)


def late_ticks(db: Engine, service_id: int) -> list[Any]:
    """The service's failing ticks that say it is late (checked_at, error), oldest first."""
    return rows(
        db,
        "SELECT checked_at, error FROM service_ticks WHERE service_id = :id AND NOT up "
        "AND error LIKE 'no ping%' ORDER BY checked_at",
        id=service_id,
    )


def last_ping_at(db: Engine, service_id: int) -> datetime:
    """When the service's newest ping that finished a run (not a start) was received: the
    next one is due an interval after it."""
    ((at,),) = rows(
        db,
        "SELECT max(received_at) FROM pings WHERE service_id = :id AND kind <> 'start'",
        id=service_id,
    )
    assert at is not None
    return at


def downtimes(db: Engine, service_id: int) -> list[Any]:
    """The service's downtime periods (date_started, date_ended, reason), oldest first."""
    return rows(
        db,
        "SELECT date_started, date_ended, reason FROM service_events "
        "WHERE service_id = :id AND event = 'downtime' ORDER BY date_started",
        id=service_id,
    )


def raised_in_logs(roles: Sequence[Role], kind: str) -> Counter[int]:
    """How many `kind` alerts each service got, by the `alert.raised` lines of `roles`."""
    return Counter(
        int(e["service_id"])
        for role in roles
        for e in role.events("alert.raised")
        if e["kind"] == kind
    )


def taken_over_state(db: Engine, service_id: int, poller: Role) -> str:
    """What a heartbeat that was not taken over looks like: its lease and schedule, ticks,
    alerts, and what the poller that should have taken it over logged."""
    (service,) = rows(
        db,
        "SELECT lease_owner, lease_expires_at, next_check_at, heartbeat_due_at, now() AS now "
        "FROM services WHERE id = :id",
        id=service_id,
    )
    notable = [e for e in poller.logs() if e.get("level") not in ("debug", "info")]
    return (
        f"not taken over: {service._asdict()}, late ticks {late_ticks(db, service_id)}, "
        f"alerts {dict(alert_counts(db))}, poller warnings and errors {notable[-10:]}"
    )


def assert_late_reason(
    reason: str, pinged: datetime, checked_at: datetime, slack: float = 0.0
) -> None:
    """`no ping for Ns (due at T)`: N the silence since the ping `pinged` up to the check, T
    the ping plus the interval (to the second); either may be `slack` seconds off."""
    matched = LATE_REASON.fullmatch(reason)
    assert matched is not None, reason
    silence = (checked_at - pinged).total_seconds()
    assert round(silence - slack) <= int(matched[1]) <= round(silence + slack), reason
    due = pinged + timedelta(seconds=INTERVAL)
    shown = datetime.fromisoformat(matched[2])
    assert (due - timedelta(seconds=1 + slack)) < shown <= due + timedelta(seconds=slack), reason


# -- the tests -----------------------------------------------------------------------------------


def test_two_apis_and_two_pollers_store_every_ping_once_and_alert_once(
    db: Engine, start_role: Callable[..., Role], receiver: Receiver
) -> None:
    hooks = {"STATUSCHECKER_WEBHOOK_URLS": receiver.url}
    apis = [start_api(start_role, **hooks) for _ in range(2)]
    pollers = [start_poller(start_role, **hooks) for _ in range(2)]
    for api in apis:
        wait_api(api)
    for poller in pollers:
        poller_started(poller)
    auth = sign_up(apis[0].url)
    services = [
        register(apis[0].url, auth, f"job-{n}", interval=INTERVAL, grace=GRACE, alert_policy=EAGER)
        for n in range(HEARTBEATS)
    ]
    ids = [s["id"] for s in services]
    keys = [ping_key(s) for s in services]
    service_of = dict(zip(keys, ids, strict=True))
    silent, kept = ids[:SILENT], ids[SILENT:]

    # 1. The burst: every 200 is one stored ping, and every success one tick.
    started = time.monotonic()
    burst = send_burst(burst_plan(apis, keys, BURST), CONCURRENCY)
    burst_seconds = time.monotonic() - started
    burst_ended = rows(db, "SELECT max(received_at) FROM pings")[0][0]
    keep_alive = KeepAlive(apis, keys[SILENT:])
    keep_alive.start()
    try:
        assert burst.failures == []
        assert sum(burst.ok.values()) == BURST
        stored = counted(db, "SELECT service_id, count(*) FROM pings GROUP BY service_id")
        assert stored == {service_of[k]: n for k, n in burst.by_key().items()}
        # Answered once stored; a burst's pings are judged behind, by the pollers.
        successes = {service_of[k]: n for k, n in burst.by_key("success").items()}
        of_burst = (
            "SELECT service_id, count(*) FROM service_ticks WHERE checked_at <= :ended "
            "GROUP BY service_id"
        )
        wait_until(lambda: counted(db, of_burst, ended=burst_ended) == successes, timeout=10)
        assert burst_seconds < 30

        # 2. The silent ones go down once each, found by one poller or the other.
        pinged = {sid: last_ping_at(db, sid) for sid in silent}
        wait_until(
            lambda: sum(alert_counts(db)[sid, "down"] for sid in silent) >= SILENT, timeout=15
        )
        receiver.wait_for(SILENT, timeout=10)
        time.sleep(3 * INTERVAL)  # three more deadlines missed: still one alert each
        assert alert_counts(db) == Counter({(sid, "down"): 1 for sid in silent})
        assert delivered(receiver) == sorted(("down", sid) for sid in silent)
        assert raised_in_logs(pollers, "down") == Counter(silent)  # one poller raised each
        for sid in silent:
            late = late_ticks(db, sid)
            assert len(late) >= 3, late  # the pollers go on looking at every deadline...
            gaps = [
                (b.checked_at - a.checked_at).total_seconds() for a, b in itertools.pairwise(late)
            ]
            assert all(gap > INTERVAL - 0.5 for gap in gaps), gaps  # ...once per deadline
            first = late[0].checked_at
            # Each API process commits its own batches: the last two pings of a key, taken by
            # both, may be committed out of order, and an older ping then sets the deadline
            # (the bug the last test pins down). Here they are milliseconds apart: allowed.
            silence = (first - pinged[sid]).total_seconds()
            assert LATE_SECONDS - OUT_OF_ORDER <= silence < LATE_SECONDS + 1.5
            ((began, ended, reason),) = downtimes(db, sid)
            assert (began, ended) == (first, None)
            assert_late_reason(reason, pinged[sid], first, slack=OUT_OF_ORDER)
        for sid in kept:
            assert late_ticks(db, sid) == []
            assert downtimes(db, sid) == []

        # 3. Pinged again: one recovery each, raised by the API process that took the ping.
        recovery = Sent()
        with httpx.Client(timeout=10) as client:
            for n, key in enumerate(keys[:SILENT]):
                answer = client.get(apis[n % 2].ping_url(key))
                recovery.answered(key, "success", answer.status_code, answer.text)
        keep_alive.add(keys[:SILENT])
        assert recovery.failures == []
        wait_until(
            lambda: sum(alert_counts(db)[sid, "recovered"] for sid in silent) >= SILENT,
            timeout=15,
        )
        receiver.wait_for(2 * SILENT, timeout=10)
        time.sleep(2 * INTERVAL)
    finally:
        keep_alive.stop()

    assert keep_alive.sent.failures == []
    expected = Counter({(sid, kind): 1 for sid in silent for kind in ("down", "recovered")})
    assert alert_counts(db) == expected
    assert delivered(receiver) == sorted((kind, sid) for sid, kind in expected)
    # A recovery ping is judged by the API that took it, or by a poller when it came in a busy
    # batch: either way, once.
    assert raised_in_logs([*(api.role for api in apis), *pollers], "recovered") == Counter(silent)
    assert rows(db, "SELECT status, count(*) FROM alert_deliveries GROUP BY status") == [
        ("delivered", 2 * SILENT)
    ]
    listed = get(apis[1].url, auth, "/services?limit=100")["data"]
    assert {s["id"]: s["status"] for s in listed} == {sid: "up" for sid in ids}

    # Every ping answered 200 was stored once; ticks are its successes and the late looks.
    answered = burst.by_key() + recovery.by_key() + keep_alive.sent.by_key()
    successes = burst.by_key("success") + recovery.by_key() + keep_alive.sent.by_key()
    stored = counted(db, "SELECT service_id, count(*) FROM pings GROUP BY service_id")
    assert stored == {service_of[k]: n for k, n in answered.items()}
    looks = counted(
        db,
        "SELECT service_id, count(*) FROM service_ticks WHERE error LIKE 'no ping%' "
        "GROUP BY service_id",
    )
    assert set(looks) == set(silent)
    all_ticks = {service_of[k]: n + looks.get(service_of[k], 0) for k, n in successes.items()}
    wait_until(lambda: counted(db, TICKS_PER_SERVICE) == all_ticks, timeout=10)

    for role in [*(api.role for api in apis), *pollers]:
        assert role.stop() == 0


def test_the_wrapper_reports_each_run_to_the_real_server_and_never_fails_the_job(
    db: Engine, start_role: Callable[..., Role], tmp_path: Path
) -> None:
    api = start_api(start_role)
    wait_api(api)
    auth = sign_up(api.url)
    service = register(api.url, auth, "nightly-backup", interval=3600, grace=3600)
    sid, url = service["id"], service["ping_url"]
    assert url == api.ping_url(ping_key(service))  # the address the request came to

    failed = wrap(url, "sh", "-c", "echo hello; exit 3")
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, b"hello\n", b"")
    end, start = get(api.url, auth, f"/services/{sid}/pings?limit=10")["data"]  # newest first
    assert (start["kind"], start["exit_status"], start["body"]) == ("start", None, None)
    assert (end["kind"], end["exit_status"], end["body"]) == ("fail", 3, "hello\n")
    assert start["rid"] == end["rid"] and len(end["rid"]) == 36  # the wrapper's uuid
    assert start["duration_ms"] is None
    assert end["duration_ms"] is not None and 0 <= end["duration_ms"] < 10_000
    assert end["user_agent"].startswith("python-httpx/")
    down = get(api.url, auth, f"/services/{sid}")
    assert down["status"] == "down"
    assert down["latest_event"]["event"] == "downtime"
    assert down["latest_event"]["reason"] == "exit status 3"
    (tick,) = get(api.url, auth, f"/services/{sid}/ticks?limit=10")["data"]
    assert (tick["up"], tick["error"]) == (False, "exit status 3")
    assert tick["response_time_ms"] == pytest.approx(end["duration_ms"])

    succeeded = wrap(url, "sh", "-c", "echo fine")
    assert (succeeded.returncode, succeeded.stdout, succeeded.stderr) == (0, b"fine\n", b"")
    pings = get(api.url, auth, f"/services/{sid}/pings?limit=10")["data"]
    assert [(p["kind"], p["exit_status"]) for p in pings] == [
        ("success", 0),
        ("start", None),
        ("fail", 3),
        ("start", None),
    ]
    assert pings[0]["rid"] == pings[1]["rid"] != end["rid"]  # a new run id for each run
    assert pings[0]["body"] == "fine\n" and pings[0]["duration_ms"] is not None
    up = get(api.url, auth, f"/services/{sid}")
    assert up["status"] == "up"
    assert up["heartbeat"]["last_ping_at"] == pings[0]["received_at"]

    assert api.role.stop() == 0  # the monitor is gone: its port refuses connections
    marker = tmp_path / "ran"
    started = time.monotonic()
    unreported = wrap(
        url,
        "sh",
        "-c",
        f"touch {marker}; echo still here; exit 4",
        options=("--retries", "1", "--timeout", "1"),
    )
    elapsed = time.monotonic() - started
    assert unreported.returncode == 4
    assert marker.exists()
    assert unreported.stdout == b"still here\n"
    assert unreported.stderr.decode().splitlines() == [
        "statuschecker wrap: could not reach the monitor: "
        "start ping: connection refused (2 attempts), "
        "exit status ping: connection refused (2 attempts) "
        f"({api.url}/ping/…); the job ran anyway"
    ]
    assert ping_key(service) not in unreported.stderr.decode()
    assert elapsed < 6  # two pings, each tried twice 0.5 s apart, refused at once


def test_lateness_is_found_by_pollers_alone_once_even_when_the_lease_holder_is_killed(
    db: Engine, start_role: Callable[..., Role], receiver: Receiver
) -> None:
    hooks = {"STATUSCHECKER_WEBHOOK_URLS": receiver.url}
    api = start_api(start_role, **hooks)
    # Its batches are written every 10 s: it holds what it claims that long, to be killed.
    doomed = start_poller(start_role, STATUSCHECKER_RECORDER_FLUSH_SECONDS="10", **hooks)
    wait_api(api)
    assert httpx.get(f"{api.url}/v1/health", timeout=5).json()["poller"] == "disabled"
    doomed_owner = poller_started(doomed)["owner"]
    auth = sign_up(api.url)

    def heartbeat(name: str) -> tuple[int, str]:
        service = register(api.url, auth, name, interval=INTERVAL, grace=GRACE, alert_policy=EAGER)
        return service["id"], ping_key(service)

    def ping(key: str) -> datetime:
        answer = httpx.get(api.ping_url(key), timeout=10)
        assert (answer.status_code, answer.text) == (200, "OK")
        return last_ping_at(db, service_of[key])

    service_of: dict[str, int] = {}

    # 1. The poller holding a late heartbeat's lease is SIGKILLed before it records it.
    orphan, orphan_key = heartbeat("orphaned")
    service_of[orphan_key] = orphan
    orphan_pinged = ping(orphan_key)

    def lease() -> tuple[str, datetime] | None:
        ((owner, expires),) = rows(
            db, "SELECT lease_owner, lease_expires_at FROM services WHERE id = :id", id=orphan
        )
        return (owner, expires) if owner else None

    owner, lease_expires = wait_until(lease, timeout=LATE_SECONDS + 5, every=0.005)
    assert owner == doomed_owner
    worker = worker_pid(doomed)
    metrics_dir = psutil.Process(worker).environ().get("PROMETHEUS_MULTIPROC_DIR")
    os.kill(worker, signal.SIGSTOP)  # frozen at once: it records nothing more
    try:
        os.kill(doomed.process.pid, signal.SIGKILL)  # the supervisor, so it starts no other
        doomed.process.wait(timeout=10)
    finally:
        os.kill(worker, signal.SIGKILL)
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(worker).wait(timeout=10)
    if metrics_dir:  # what the supervisor would have removed on its way out
        shutil.rmtree(metrics_dir, ignore_errors=True)
    assert lease() == (doomed_owner, lease_expires)  # killed mid-way: claimed, not recorded
    assert late_ticks(db, orphan) == []

    heir = start_poller(start_role, **hooks)
    assert poller_started(heir)["owner"] != doomed_owner
    try:
        wait_until(
            lambda: heir.alive() and alert_counts(db)[orphan, "down"] == 1,
            timeout=LATE_SECONDS + 20,
        )
    except AssertionError as failed:
        raise AssertionError(taken_over_state(db, orphan, heir)) from failed
    first_late = late_ticks(db, orphan)[0]
    assert first_late.checked_at >= lease_expires  # taken over once the lease ran out
    assert_late_reason(first_late.error, orphan_pinged, first_late.checked_at)
    assert raised_in_logs([heir], "down") == Counter([orphan])

    # 2. A heartbeat pinged now goes down 3 s after its ping, found by the poller alone.
    watched, watched_key = heartbeat("watched")
    service_of[watched_key] = watched
    pinged_at = time.monotonic()
    pinged = ping(watched_key)
    time.sleep(LATE_SECONDS - 0.5)
    assert get(api.url, auth, f"/services/{watched}")["status"] == "up"  # not late yet
    shown = wait_until(
        lambda: (s := get(api.url, auth, f"/services/{watched}"))["status"] == "down" and s,
        timeout=5,
        every=0.05,
    )
    assert time.monotonic() - pinged_at < LATE_SECONDS + 1.5
    ((began, ended, reason),) = downtimes(db, watched)
    assert ended is None
    assert LATE_SECONDS <= (began - pinged).total_seconds() < LATE_SECONDS + 1
    assert_late_reason(reason, pinged, began)
    assert shown["latest_event"]["reason"] == reason
    receiver.wait_for(2, timeout=10)
    time.sleep(2 * INTERVAL)  # two more deadlines missed by both: still one alert each
    assert alert_counts(db) == Counter({(orphan, "down"): 1, (watched, "down"): 1})
    assert delivered(receiver) == sorted([("down", orphan), ("down", watched)])
    assert len(late_ticks(db, watched)) >= 2 and len(late_ticks(db, orphan)) >= 3

    # 3. The next ping brings it back: one recovery.
    ping(watched_key)
    wait_until(lambda: alert_counts(db)[watched, "recovered"] == 1, timeout=10)
    receiver.wait_for(3, timeout=10)
    assert get(api.url, auth, f"/services/{watched}")["status"] == "up"
    assert delivered(receiver) == sorted(
        [("down", orphan), ("down", watched), ("recovered", watched)]
    )

    for role in (api.role, heir):
        assert role.stop() == 0


HELD_SECONDS = 1.5  # how long one API process's ping waits behind a locked batch


def test_a_ping_committed_after_a_newer_one_does_not_move_the_deadline_back(
    db: Engine, start_role: Callable[..., Role]
) -> None:
    # Each API process commits its batches as its transactions end: a ping one process took
    # while its batch waited on a lock is committed after a newer ping the other one took. The
    # newer ping still says when the next one is due.
    apis = [start_api(start_role) for _ in range(2)]
    poller = start_poller(start_role)
    for api in apis:
        wait_api(api)
    poller_started(poller)
    auth = sign_up(apis[0].url)
    held, watched = (
        register(apis[0].url, auth, name, interval=INTERVAL, grace=GRACE, alert_policy=EAGER)
        for name in ("held", "watched")
    )
    for service in (held, watched):
        first = httpx.get(apis[1].ping_url(ping_key(service)), timeout=10)
        assert (first.status_code, first.text) == (200, "OK")

    with ThreadPoolExecutor(2) as pool, db.connect() as lock:
        lock.execute(text("SELECT id FROM services WHERE id = :id FOR UPDATE"), {"id": held["id"]})
        # API 0's batch of `held`'s ping waits on the lock; `watched`'s ping waits behind it.
        blocked = pool.submit(httpx.get, apis[0].ping_url(ping_key(held)), timeout=30)
        wait_until(
            lambda: rows(
                db,
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )[0][0],
            timeout=10,
        )
        older = pool.submit(httpx.get, apis[0].ping_url(ping_key(watched)), timeout=30)
        time.sleep(HELD_SECONDS)
        newer = httpx.get(apis[1].ping_url(ping_key(watched)), timeout=10)  # not held up
        answered_at = time.monotonic()
        assert (newer.status_code, newer.text) == (200, "OK")
        assert not older.done()
        lock.rollback()
        for answer in (blocked.result(timeout=30), older.result(timeout=30)):
            assert (answer.status_code, answer.text) == (200, "OK")

    # Committed in this order: the first ping, the newer one, then the older one.
    _, newer_at, older_at = (
        r.received_at
        for r in rows(
            db,
            "SELECT received_at FROM pings WHERE service_id = :id ORDER BY id",
            id=watched["id"],
        )
    )
    assert (newer_at - older_at).total_seconds() > HELD_SECONDS - 0.5

    time.sleep(max(0.0, answered_at + LATE_SECONDS - 0.4 - time.monotonic()))
    shown = get(apis[1].url, auth, f"/services/{watched['id']}")
    heard = shown["heartbeat"]
    assert {
        "status": shown["status"],
        "last_ping_at": datetime.fromisoformat(heard["last_ping_at"]),
        "due_at": datetime.fromisoformat(heard["due_at"]),
        "late ticks": late_ticks(db, watched["id"]),
    } == {
        "status": "up",  # not late before 3 s after its newest ping
        "last_ping_at": newer_at,
        "due_at": newer_at + timedelta(seconds=INTERVAL),
        "late ticks": [],
    }

    for role in [*(api.role for api in apis), poller]:
        assert role.stop() == 0
