"""The notifier against a real PostgreSQL outbox and real local receivers: signed webhooks,
apprise, retries with backoff, giving up, timeouts, leases and redaction."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from outbox import RAISED_AT, add_alert, add_delivery, add_service, delivery
from receivers import Receiver
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs
from targets import closed_port_url
from waiting import wait_until

from statuschecker.notify import apprise_channel, webhook
from statuschecker.notify.outbox import Notifier
from statuschecker.redaction import redact
from statuschecker.store import deliveries
from statuschecker.system.config import Settings


def notifier(db: Engine, settings: Settings, **overrides: Any) -> Notifier:
    fast = {"notify_retry_base_seconds": 0.05, "notify_timeout_seconds": 2.0, **overrides}
    return Notifier(db, settings.model_copy(update=fast))


def run_once(notifier: Notifier) -> int:
    return asyncio.run(notifier.run_once())


# -- webhooks -------------------------------------------------------------------------------


def test_webhook_is_delivered_signed_over_the_exact_body(db: Engine, settings: Settings) -> None:
    service_id = add_service(db)
    alert_id = add_alert(db, service_id)
    with Receiver() as receiver:
        delivery_id = add_delivery(db, alert_id, f"{receiver.url}/hooks/a?x=1", secret="s3cret")
        assert run_once(notifier(db, settings)) == 1
        [request] = receiver.requests

    assert (request.method, request.path) == ("POST", "/hooks/a?x=1")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "statuschecker"
    assert request.headers["x-statuschecker-event"] == "alert.down"
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-statuschecker-signature"] == expected
    assert webhook.signature("s3cret", request.body) == expected
    assert b'": ' not in request.body and b", " not in request.body  # compact

    body = request.json()
    assert body["alert"] == {
        "id": alert_id,
        "kind": "down",
        "rule": "availability",
        "message": "Service api is down. availability=50.0%",
        "availability_percent": 50.0,
        "window_seconds": 120,
        "time": "2024-05-01T12:00:00Z",
        "downtime_seconds": None,
    }
    assert body["service"] == {"id": service_id, "name": "api", "url": "http://127.0.0.1:1/health"}
    sent_at = datetime.fromisoformat(body["sent_at"])
    assert body["sent_at"].endswith("Z") and abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)

    row = delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_error, row.lease_expires_at) == (
        "delivered",
        1,
        None,
        None,
    )
    assert row.delivered_at is not None


def test_webhook_without_secret_is_not_signed(db: Engine, settings: Settings) -> None:
    alert_id = add_alert(db, add_service(db), "recovered", downtime_seconds=75.5)
    with Receiver() as receiver:
        add_delivery(db, alert_id, receiver.url)
        assert run_once(notifier(db, settings)) == 1
        [request] = receiver.requests
    assert "x-statuschecker-signature" not in request.headers
    assert request.headers["x-statuschecker-event"] == "alert.recovered"
    assert request.json()["alert"]["downtime_seconds"] == 75.5


def test_failed_attempts_are_retried_after_growing_pauses(db: Engine, settings: Settings) -> None:
    """Retries come when due (base 0.1 s, then 0.2 s), not at the next poll (5 s)."""
    alert_id = add_alert(db, add_service(db))
    with Receiver(fail_first=2) as receiver:
        delivery_id = add_delivery(db, alert_id, receiver.url)
        sender = notifier(db, settings, notify_retry_base_seconds=0.1, notify_poll_seconds=5)
        sender.start()
        try:
            wait_until(lambda: delivery(db, delivery_id).status == "delivered", timeout=5)
        finally:
            sender.stop(timeout=5)
        arrivals = [request.received_at for request in receiver.requests]

    row = delivery(db, delivery_id)
    assert (row.attempts, row.last_error) == (3, None)
    assert len(arrivals) == 3
    first, second = arrivals[1] - arrivals[0], arrivals[2] - arrivals[1]
    assert 0.09 <= first < second < 2.0
    assert second >= 0.19


def test_a_delivery_that_keeps_failing_is_given_up(db: Engine, settings: Settings) -> None:
    alert_id = add_alert(db, add_service(db))
    with Receiver(status=500) as receiver, capture_logs() as events:
        delivery_id = add_delivery(db, alert_id, f"{receiver.url}/hook/tok123")
        sender = notifier(db, settings, notify_max_attempts=3, notify_retry_base_seconds=0.02)
        sender.start()
        try:
            wait_until(lambda: delivery(db, delivery_id).status == "failed", timeout=5)
            time.sleep(0.2)  # no attempt after giving up
        finally:
            sender.stop(timeout=5)
        attempts = len(receiver.requests)

    row = delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_error, attempts) == ("failed", 3, "status 500", 3)
    failed = [e for e in events if e["event"] == "notify.attempt_failed"]
    gave_up = [e for e in events if e["event"] == "notify.gave_up"]
    assert [e["attempts"] for e in failed] == [1, 2, 3]
    assert [e["retry_in_seconds"] for e in failed] == [0.02, 0.04, None]
    assert all(e["log_level"] == "warning" for e in failed)
    assert len(gave_up) == 1 and gave_up[0]["log_level"] == "error"
    assert gave_up[0]["delivery_id"] == delivery_id and gave_up[0]["alert_id"] == alert_id
    assert gave_up[0]["reason"] == "status 500"
    assert gave_up[0]["target"] == f"http://127.0.0.1:{receiver.port}"
    assert "tok123" not in repr(events)


def test_a_hanging_receiver_times_out_without_holding_up_the_round(
    db: Engine, settings: Settings
) -> None:
    alert_id = add_alert(db, add_service(db))
    with Receiver(hang=True) as hanging, Receiver() as healthy:
        stuck = add_delivery(db, alert_id, hanging.url)
        fine = add_delivery(db, alert_id, healthy.url)
        started = time.monotonic()
        assert run_once(notifier(db, settings, notify_timeout_seconds=0.5)) == 2
        elapsed = time.monotonic() - started
        [request] = healthy.requests

    assert 0.5 <= elapsed < 1.5
    assert request.received_at - started < 0.4  # sent alongside, not after the timeout
    assert delivery(db, fine).status == "delivered"
    row = delivery(db, stuck)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("timeout")
    assert row.lease_expires_at is None


def test_an_unreachable_webhook_fails_with_a_precise_reason(db: Engine, settings: Settings) -> None:
    delivery_id = add_delivery(db, add_alert(db, add_service(db)), closed_port_url())
    assert run_once(notifier(db, settings)) == 1
    row = delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "connection refused")


# -- apprise ---------------------------------------------------------------------------------


def test_apprise_json_url_reaches_the_receiver(db: Engine, settings: Settings) -> None:
    alert_id = add_alert(db, add_service(db))
    with Receiver() as receiver:
        target = f"json://127.0.0.1:{receiver.port}/apprise/hook"
        delivery_id = add_delivery(db, alert_id, target, channel="apprise")
        assert run_once(notifier(db, settings)) == 1
        [request] = receiver.requests

    assert (request.method, request.path) == ("POST", "/apprise/hook")
    body = request.json()
    assert body["title"] == "statuschecker: api is down"
    assert body["message"] == "Service api is down. availability=50.0%"
    assert body["type"] == "failure"
    assert delivery(db, delivery_id).status == "delivered"


def test_apprise_failures_carry_apprise_reason(db: Engine, settings: Settings) -> None:
    alert_id = add_alert(db, add_service(db))
    with Receiver(status=500) as receiver:
        refused = add_delivery(db, alert_id, f"json://127.0.0.1:{receiver.port}/", "apprise")
        invalid = add_delivery(db, alert_id, "nosuchscheme://host/token", "apprise")
        assert run_once(notifier(db, settings)) == 2
    assert "error=500" in delivery(db, refused).last_error
    assert delivery(db, invalid).last_error == "invalid apprise URL"


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("json://127.0.0.1:8080/hook", True),
        ("ntfys://ntfy.sh/topic", True),
        ("mailto://user:pass@example.com", True),
        ("nosuchscheme://host", False),
        ("https://example.com/hook", False),
        ("not a url", False),
    ],
)
def test_apprise_urls_are_validated(url: str, valid: bool) -> None:
    assert apprise_channel.valid_apprise_url(url) is valid


# -- the outbox ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "target", "shown"),
    [
        ("webhook", "https://user:pw@hooks.example.com:8443/p/tok?key=abc#f", "https://hooks.example.com:8443"),
        ("webhook", "http://[::1]:8080/x", "http://[::1]:8080"),
        ("webhook", "http://intranet/hook/tok", "http://intranet"),
        ("apprise", "json://user:pw@notify.example.org/secret/path?token=x", "json://notify.example.org"),
        ("apprise", "tgram://123456789:AAbbCC/-1001", "tgram://"),
        ("apprise", "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://"),
        ("apprise", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "slack://"),
        ("apprise", "ntfy://localhost:8008/topic", "ntfy://localhost:8008"),
        ("apprise", "json://10.0.0.7/hook", "json://10.0.0.7"),
    ],
)  # fmt: skip
def test_targets_are_redacted_to_scheme_host_and_port(
    channel: str, target: str, shown: str
) -> None:
    assert redact(channel, target) == shown


def test_for_alerts_shows_state_without_secrets(db: Engine, settings: Settings) -> None:
    service_id = add_service(db)
    first, second, quiet = (add_alert(db, service_id) for _ in range(3))
    hook = add_delivery(
        db, first, "https://u:pw@hooks.example.com/p/tok?key=abc", secret="hmac-secret"
    )
    chat = add_delivery(db, first, "tgram://123456789:AAbbCC/-1001", channel="apprise")
    done = add_delivery(
        db,
        second,
        "http://127.0.0.1:9/x",
        status="delivered",
        attempts=2,
        delivered_at=RAISED_AT,
    )
    with db.connect() as conn:
        views = deliveries.for_alerts(conn, [first, second, quiet])

    assert [v.id for v in views[first]] == [hook, chat]
    assert [v.target for v in views[first]] == ["https://hooks.example.com", "tgram://"]
    assert views[first][0].status == "pending" and views[first][0].next_attempt_at is not None
    [shown] = views[second]
    assert (shown.id, shown.status, shown.attempts, shown.delivered_at) == (
        done,
        "delivered",
        2,
        RAISED_AT,
    )
    assert shown.next_attempt_at is None
    assert views[quiet] == []
    text = repr(views)
    assert not any(s in text for s in ("pw", "tok", "abc", "AAbbCC", "1001", "hmac-secret"))


def test_only_due_pending_unleased_deliveries_are_claimed(db: Engine) -> None:
    alert_id = add_alert(db, add_service(db))
    due = add_delivery(db, alert_id, "http://127.0.0.1:9/due", secret="hmac-key")
    later = datetime.now(UTC) + timedelta(hours=1)
    add_delivery(db, alert_id, "http://127.0.0.1:9/later", next_attempt_at=later)
    add_delivery(db, alert_id, "http://127.0.0.1:9/done", status="delivered")
    add_delivery(db, alert_id, "http://127.0.0.1:9/gone", status="failed")
    add_delivery(db, alert_id, "http://127.0.0.1:9/held", lease_expires_at=later)
    with db.begin() as conn:
        [claimed] = deliveries.claim_due(conn, 10, 30)
        assert deliveries.claim_due(conn, 10, 30) == []  # now leased
    assert (claimed.id, claimed.alert.id, claimed.secret) == (due, alert_id, "hmac-key")
    assert "hmac-key" not in repr(claimed)
    assert delivery(db, due).lease_expires_at is not None


def test_two_claimers_never_get_the_same_delivery(db: Engine) -> None:
    alert_id = add_alert(db, add_service(db))
    ids = [add_delivery(db, alert_id, f"http://127.0.0.1:9/{i}") for i in range(6)]
    with db.connect() as one, db.connect() as two:
        with one.begin():
            first = deliveries.claim_due(one, 4, 30)
            with two.begin():  # while the first claim is not yet committed
                second = deliveries.claim_due(two, 4, 30)
        assert [d.id for d in first] == ids[:4]  # oldest first
        assert [d.id for d in second] == ids[4:]
    with db.begin() as conn:
        assert deliveries.claim_due(conn, 10, 30) == []


def test_claimers_on_many_threads_share_the_work(db: Engine) -> None:
    alert_id = add_alert(db, add_service(db))
    ids = [add_delivery(db, alert_id, f"http://127.0.0.1:9/{i}") for i in range(40)]
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_until_empty() -> None:
        for _ in range(100):
            with db.begin() as conn:
                got = deliveries.claim_due(conn, 3, 30)
            if not got:
                return
            with lock:
                claimed.extend(d.id for d in got)

    workers = [threading.Thread(target=claim_until_empty) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert sorted(claimed) == ids


def test_a_lapsed_lease_is_claimed_again(db: Engine) -> None:
    """A notifier that died mid-send loses its deliveries when the lease ends."""
    delivery_id = add_delivery(db, add_alert(db, add_service(db)), "http://127.0.0.1:9/")
    with db.begin() as conn:
        assert [d.id for d in deliveries.claim_due(conn, 10, 0.05)] == [delivery_id]
    time.sleep(0.1)
    with db.begin() as conn:
        assert [d.id for d in deliveries.claim_due(conn, 10, 30)] == [delivery_id]


# -- the thread ------------------------------------------------------------------------------


def test_notifier_thread_delivers_on_wake_and_stops(db: Engine, settings: Settings) -> None:
    alert_id = add_alert(db, add_service(db))
    sender = notifier(db, settings, notify_poll_seconds=60)
    assert not sender.alive()
    with Receiver() as receiver:
        sender.start()
        try:
            assert sender.alive()
            time.sleep(0.2)  # the first round is over; the loop waits for the next poll
            delivery_id = add_delivery(db, alert_id, receiver.url)
            time.sleep(0.3)
            assert delivery(db, delivery_id).status == "pending"  # no poll yet
            sender.wake()
            wait_until(lambda: delivery(db, delivery_id).status == "delivered", timeout=3)
            assert len(receiver.requests) == 1
        finally:
            started = time.monotonic()
            sender.stop(timeout=5)
    assert time.monotonic() - started < 2
    assert not sender.alive()


def test_notifier_survives_database_errors(database_url: str, settings: Settings) -> None:
    missing = make_url(database_url).set(database="statuschecker_no_such_database")
    engine = create_engine(missing)
    sender = Notifier(engine, settings.model_copy(update={"notify_poll_seconds": 0.05}))
    try:
        with capture_logs() as events:
            sender.start()
            wait_until(lambda: sum(e["event"] == "notifier.database_failed" for e in events) >= 3)
            assert sender.alive()
            sender.stop(timeout=5)
        assert not sender.alive()
    finally:
        engine.dispose()
