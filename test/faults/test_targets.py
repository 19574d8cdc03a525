"""Targets that misbehave, checked by a real poller alongside healthy services.

One runtime polls 20 healthy services (1 s interval) for a baseline window; then every kind of
misbehaving target is registered at once: one that accepts and never answers, one that answers
one byte per second, one that resets mid-response, one that sends a gigabyte, one that
redirects forever, an expired and a self-signed certificate (over https:// and tls://), peers
speaking something else than HTTP, and a name that does not resolve. Over a second window the
test checks that each is recorded down with its precise reason, that no check outlived its
timeout by more than a margin, that the process's memory stayed bounded while the gigabyte
was offered, and that the healthy services kept their schedule (lag p99 against the baseline).

Schedule lag is exact from the ticks: the schedule keeps each service's phase, so a check's
slot is `phase + k * interval` and its lag is `checked_at - slot`; a slot due in a window with
no tick is a missed check (as scripts/bench/poller.py measures it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import ssl
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import trustme
from accounts import UNOWNED
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from figures import quantile
from peers import Peer, answering
from sqlalchemy import Engine, select, update
from targets import Target

from statuschecker import checks
from statuschecker.model import CheckResult, CheckSpec
from statuschecker.runtime import Runtime
from statuschecker.store.tables import service_ticks, services

HEALTHY = 20
HEALTHY_INTERVAL = 1  # seconds
BAD_INTERVAL = 3
BAD_TIMEOUT = 2.0
# What a check may take beyond its timeout: run_check's deadline margin (0.25 s), cancelling
# and closing sockets, and a loaded 2-core machine. The figures show what it really took.
OVERRUN_MARGIN = 1.0
WARMUP_SECONDS = 2.0
BASELINE_SECONDS = 8.0
FAULT_SECONDS = 12.0
SETTLE_SECONDS = 2.0  # the poller runs on after a window so that late checks are counted
GIGABYTE = 1024**3
MAX_BODY_BYTES = 1024 * 1024
RSS_GROWTH_LIMIT = 64 * 1024 * 1024  # a gigabyte held, or even a tenth of one, is far beyond
RSS_EVERY_SECONDS = 0.05
# Lag p99 with the bad services may exceed the baseline by this much before it counts as more
# than noise; a poller stalled behind a bad check would be late by seconds.
LAG_NOISE_SECONDS = 0.4
# Missed slots and healthy checks found down, as a share of the slots due: a hiccup of the
# machine may cost one slot per service; a poller held up by bad checks would cost many.
MISSED_SHARE_LIMIT = 0.02

REDIS_ERROR = b"-ERR unknown command 'GET', with args beginning with: '/'\r\n"
BINARY = bytes(range(256))


@dataclass
class Bad:
    """A misbehaving service and the error its every tick must carry."""

    name: str
    url: str
    error: str
    options: dict[str, Any] = field(default_factory=dict)
    status_code: int | None = None


@dataclass
class Window:
    """The healthy services' schedule over one window."""

    lags: list[float]
    slots: int
    missed: int
    down: int

    @property
    def p50(self) -> float:
        """Median lag, seconds."""
        return quantile(self.lags, 0.50)

    @property
    def p99(self) -> float:
        """99th percentile of the lag, seconds."""
        return quantile(self.lags, 0.99)


# -- certificates -------------------------------------------------------------------------------


def server_context(cert_pem: bytes, key_pem: bytes, tmp_path: Path, name: str) -> ssl.SSLContext:
    """A TLS server context serving the certificate and key given (written under tmp_path)."""
    cert_file, key_file = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def self_signed(host: str = "127.0.0.1") -> tuple[bytes, bytes]:
    """A certificate for `host` signed by its own key, valid for a year: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass
class Certificates:
    """A CA the runtime trusts (`ca_bundle`), an expired certificate it issued, and a
    self-signed one nobody trusts."""

    ca_bundle: str
    expired: ssl.SSLContext
    self_signed: ssl.SSLContext


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """Server contexts with an expired (trusted CA) and a self-signed certificate."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    expired = ca.issue_cert("127.0.0.1", not_after=datetime.now(UTC) - timedelta(days=2))
    return Certificates(
        ca_bundle=str(bundle),
        expired=server_context(
            expired.cert_chain_pems[0].bytes(),
            expired.private_key_pem.bytes(),
            tmp_path,
            "expired",
        ),
        self_signed=server_context(*self_signed(), tmp_path, "self-signed"),
    )


# -- measuring ----------------------------------------------------------------------------------


@pytest.fixture
def check_seconds(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """How long each check took, by URL, however it ended (the check table's http and tls
    entries are wrapped; run_check looks them up at each call)."""
    took: dict[str, list[float]] = defaultdict(list)

    def timed(check: checks.Check) -> checks.Check:
        async def run(spec: CheckSpec) -> CheckResult:
            started = time.perf_counter()
            try:
                return await check(spec)
            finally:
                took[spec.url].append(time.perf_counter() - started)

        return run

    for name in ("http", "tls"):
        kind = checks.KINDS[name]
        monkeypatch.setitem(checks.KINDS, name, replace(kind, check=timed(kind.check)))
    return took


class RssSampler:
    """The process's resident set size, sampled on a thread until stopped."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []  # (time.monotonic(), bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._process = psutil.Process()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(RSS_EVERY_SECONDS):  # ends with the block
            self.samples.append((time.monotonic(), self._process.memory_info().rss))

    def peak(self, since: float, until: float) -> int:
        """The highest sample taken between two `time.monotonic()` readings."""
        return max(rss for at, rss in self.samples if since <= at < until)


def ticks(engine: Engine, service_ids: list[int]) -> list[Any]:
    """The ticks of these services, in time order."""
    t = service_ticks.c
    query = select(service_ticks).where(t.service_id.in_(service_ids)).order_by(t.checked_at)
    with engine.connect() as conn:
        return list(conn.execute(query))


def window(
    rows: list[Any], phases: dict[int, datetime], interval: int, t0: datetime, t1: datetime
) -> Window:
    """Lag, due slots and missed checks of the services in `phases` over [t0, t1): each tick
    serves slot k = floor((checked_at - phase) / interval)."""
    step = timedelta(seconds=interval)
    seen: dict[int, set[int]] = defaultdict(set)
    lags: list[float] = []
    down = 0
    for row in rows:
        phase = phases[row.service_id]
        k = (row.checked_at - phase) // step
        slot = phase + k * step
        if t0 <= slot < t1:
            seen[row.service_id].add(k)
            lags.append((row.checked_at - slot).total_seconds())
            down += not row.up
    slots = missed = 0
    for service_id, phase in phases.items():
        due = range(math.ceil((t0 - phase) / step), math.ceil((t1 - phase) / step))
        slots += len(due)
        missed += sum(1 for k in due if k not in seen[service_id])
    return Window(lags, slots, missed, down)


# -- the test -----------------------------------------------------------------------------------


def test_misbehaving_targets_are_down_with_precise_reasons_and_healthy_ones_keep_time(
    make_runtime: Callable[..., Runtime],
    certificates: Certificates,
    unresolvable: str,
    check_seconds: dict[str, list[float]],
    fault_report: Callable[..., None],
) -> None:
    runtime = make_runtime(
        with_poller=True,
        ca_bundle=certificates.ca_bundle,
        http_max_body_bytes=MAX_BODY_BYTES,
    )
    engine = runtime.engine
    with contextlib.ExitStack() as stack:
        healthy_target = stack.enter_context(Target("up"))
        phases = register_healthy(runtime, healthy_target.url)
        rss = stack.enter_context(RssSampler())
        runtime.start()

        base_t0 = datetime.now(UTC) + timedelta(seconds=WARMUP_SECONDS)
        base_t1 = base_t0 + timedelta(seconds=BASELINE_SECONDS)
        sleep_until(base_t1)
        base_rss_until = time.monotonic()
        base_rss = rss.peak(base_rss_until - BASELINE_SECONDS, base_rss_until)

        gigabyte = stack.enter_context(Target("big", big_bytes=GIGABYTE))
        bad = misbehaving(stack, certificates, unresolvable, gigabyte)
        bad_ids = {
            runtime.services.register(
                UNOWNED, item.name, item.url, BAD_INTERVAL, BAD_TIMEOUT, **item.options
            ).id: item
            for item in bad
        }
        # The one case the design counts as up: a body nobody looks at is cut at
        # max_body_bytes unread, so a gigabyte costs what a megabyte does.
        unread_id = runtime.services.register(
            UNOWNED, "gigabyte-unread", gigabyte.url, BAD_INTERVAL, BAD_TIMEOUT
        ).id

        fault_rss_since = time.monotonic()
        fault_t0 = datetime.now(UTC)
        fault_t1 = fault_t0 + timedelta(seconds=FAULT_SECONDS)
        sleep_until(fault_t1)
        fault_rss = rss.peak(fault_rss_since, time.monotonic())
        sleep_until(fault_t1 + timedelta(seconds=SETTLE_SECONDS))
        assert runtime.poller is not None
        runtime.poller.stop()

    healthy_rows = ticks(engine, list(phases))
    baseline = window(healthy_rows, phases, HEALTHY_INTERVAL, base_t0, base_t1)
    faulty = window(healthy_rows, phases, HEALTHY_INTERVAL, fault_t0, fault_t1)
    bad_rows = ticks(engine, [*bad_ids, unread_id])
    by_service: dict[int, list[Any]] = defaultdict(list)
    for row in bad_rows:
        by_service[row.service_id].append(row)

    # Each misbehaving target: every tick down with its reason, within its timeout + margin.
    failures = []
    for service_id, item in bad_ids.items():
        rows = by_service[service_id]
        took = check_seconds[item.url]
        errors = sorted({str(row.error) for row in rows})
        fault_report(
            f"target {item.name}",
            reason=" | ".join(errors),
            checks=len(rows),
            down=sum(not row.up for row in rows),
            took_max_s=max(took, default=float("nan")),
            timeout_s=BAD_TIMEOUT,
        )
        if len(rows) < 2 or errors != [item.error] or any(row.up for row in rows):
            failures.append(f"{item.name}: {len(rows)} ticks, errors {errors}, want {item.error!r}")
        elif any(row.status_code != item.status_code for row in rows):
            failures.append(f"{item.name}: status {[row.status_code for row in rows]}")
        elif max(took) > BAD_TIMEOUT + OVERRUN_MARGIN:
            failures.append(f"{item.name}: a check took {max(took):.2f} s")
    assert not failures, failures

    unread = by_service[unread_id]
    served = len(check_seconds[gigabyte.url])  # both gigabyte services' checks
    fault_report(
        "target gigabyte (memory)",
        rss_before_mb=base_rss / 2**20,
        rss_peak_growth_mb=(fault_rss - base_rss) / 2**20,
        sent_per_check_mb=gigabyte.sent_bytes / max(served, 1) / 2**20,
        unread_checks=len(unread),
        unread_up=sum(row.up for row in unread),
        unread_response_max_ms=max((row.response_time_ms or 0.0) for row in unread),
    )
    assert fault_rss - base_rss < RSS_GROWTH_LIMIT, (base_rss, fault_rss)
    assert gigabyte.sent_bytes < served * 64 * MAX_BODY_BYTES, gigabyte.sent_bytes  # cut off
    assert unread and all(row.up and row.status_code == 200 for row in unread), unread
    assert max(check_seconds[gigabyte.url]) < BAD_TIMEOUT, check_seconds[gigabyte.url]

    # The healthy services kept their schedule.
    fault_report(
        "targets: healthy services alongside",
        lag_p50_baseline_ms=baseline.p50 * 1000,
        lag_p99_baseline_ms=baseline.p99 * 1000,
        lag_p50_faulty_ms=faulty.p50 * 1000,
        lag_p99_faulty_ms=faulty.p99 * 1000,
        slots_baseline=baseline.slots,
        missed_baseline=baseline.missed,
        slots_faulty=faulty.slots,
        missed_faulty=faulty.missed,
        down_baseline=baseline.down,
        down_faulty=faulty.down,
    )
    assert faulty.p99 <= baseline.p99 + LAG_NOISE_SECONDS, (baseline.p99, faulty.p99)
    for name, figures in (("baseline", baseline), ("faulty", faulty)):
        assert figures.missed <= MISSED_SHARE_LIMIT * figures.slots, (name, figures.missed)
        assert figures.down <= MISSED_SHARE_LIMIT * figures.slots, (name, figures.down)


def register_healthy(runtime: Runtime, url: str) -> dict[int, datetime]:
    """Register the healthy services, first checks spread over one interval from half a second
    on (the poller has not started); return each one's phase."""
    ids = [
        runtime.services.register(UNOWNED, f"healthy-{i:02d}", url, HEALTHY_INTERVAL, 1.0).id
        for i in range(HEALTHY)
    ]
    start = datetime.now(UTC) + timedelta(seconds=0.5)
    phases = {
        service_id: start + timedelta(seconds=HEALTHY_INTERVAL * i / HEALTHY)
        for i, service_id in enumerate(ids)
    }
    with runtime.engine.begin() as conn:
        for service_id, phase in phases.items():
            conn.execute(
                update(services).where(services.c.id == service_id).values(next_check_at=phase)
            )
    return phases


def misbehaving(
    stack: contextlib.ExitStack,
    certificates: Certificates,
    unresolvable: str,
    gigabyte: Target,
) -> list[Bad]:
    """Start every misbehaving target (closed with `stack`); the services to register."""

    def target(mode: str, **kwargs: Any) -> Target:
        return stack.enter_context(Target(mode, **kwargs))

    def peer(reply: bytes, hold: bool = True) -> Peer:
        return stack.enter_context(Peer(answering(reply, hold=hold)))

    deadline = f"timeout (deadline {BAD_TIMEOUT:g}s)"
    expired = target("up", tls=certificates.expired)
    self_signed = target("up", tls=certificates.self_signed)
    verify_failed = "TLS error: certificate verify failed:"
    tls_url = "tls://127.0.0.1:{}".format
    return [
        Bad("never-answers", target("hang").url, deadline),
        Bad("byte-per-second", target("trickle", trickle_seconds=1.0).url, deadline),
        Bad(
            "reset-mid-response",
            target("reset-midway").url,
            "connection reset while reading the body",
            status_code=200,
        ),
        Bad(
            "gigabyte",
            gigabyte.url,
            f"body does not contain 'ok' in its first {MAX_BODY_BYTES} bytes (max_body_bytes)",
            {"body_contains": "ok"},
            status_code=200,
        ),
        Bad("redirects-forever", target("redirect-loop").url, "too many redirects"),
        Bad("expired-https", expired.url, f"{verify_failed} certificate has expired"),
        Bad("expired-tls", tls_url(expired.port), "certificate expired"),
        Bad("self-signed-https", self_signed.url, f"{verify_failed} self-signed certificate"),
        Bad(
            "self-signed-tls", tls_url(self_signed.port), f"{verify_failed} self-signed certificate"
        ),
        Bad(
            "garbage-line",
            peer(REDIS_ERROR).url("http") + "/",
            "not an HTTP response: \"-ERR unknown command 'GET', with args be\"...",
        ),
        Bad(
            "garbage-binary",
            peer(BINARY, hold=False).url("http") + "/",
            f"not an HTTP response: {BINARY[:10].decode('latin-1')!r}",  # up to the first \n
        ),
        Bad("unresolvable", f"http://{unresolvable}/", f"DNS failure: {unresolvable}"),
    ]


def sleep_until(moment: datetime) -> None:
    """Sleep until the wall clock reaches `moment`."""
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
