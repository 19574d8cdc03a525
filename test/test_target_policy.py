"""The private-target policy (STATUSCHECKER_ALLOW_PRIVATE_TARGETS=false): which addresses are
forbidden, the check at registration (`verify_url`), and the check at connect time by every
check kind and by webhook deliveries, against real servers on 127.0.0.1 that must see no
connection. No DNS query leaves the machine: names come from /etc/hosts (localhost), the
`unresolvable` fixture, or a patched getaddrinfo."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from dnslib import DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer
from icmplib import ICMPRequest, ICMPv4Socket
from outbox import add_alert, add_delivery, add_service, delivery
from peers import TIMEOUT, Peer, Zone, serving_tls
from receivers import Receiver
from sqlalchemy import Engine
from targets import Target, free_port

from statuschecker.checks import dns, icmp, run_check
from statuschecker.model import CheckLimits, CheckResult, CheckSpec
from statuschecker.net import policy as netpolicy
from statuschecker.notify import DeliveryError, webhook
from statuschecker.notify.outbox import Notifier, webhook_client
from statuschecker.system.config import Settings

REFUSED = CheckLimits(allow_private_targets=False)
LOOPBACK = "refused by target policy: 127.0.0.1 is a loopback address"
NOT_ALLOWED = (
    "this server does not allow private targets (STATUSCHECKER_ALLOW_PRIVATE_TARGETS=false)"
)
needs_icmp = pytest.mark.skipif(icmp.icmp_mode() is None, reason="ICMP is not permitted here")


# -- which addresses are forbidden -----------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("127.1.2.3", "127.1.2.3 is a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("10.1.2.3", "10.1.2.3 is a private address"),
        ("172.16.0.1", "172.16.0.1 is a private address"),
        ("172.31.255.254", "172.31.255.254 is a private address"),
        ("192.168.1.1", "192.168.1.1 is a private address"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("fe80::1", "fe80::1 is a link-local address"),
        ("fc00::1", "fc00::1 is a private address"),
        ("fd12:3456::1", "fd12:3456::1 is a private address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("::", ":: is an unspecified address"),
        ("0.1.2.3", "0.1.2.3 is a private address"),  # "this network", 0.0.0.0/8
        ("100.64.0.1", "100.64.0.1 is a non-global address"),  # carrier-grade NAT
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("ff02::1", "ff02::1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is a reserved address"),
        ("255.255.255.255", "255.255.255.255 is a reserved address"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1 is an IPv4-mapped loopback address"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1 is an IPv4-mapped private address"),
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254 is an IPv4-mapped link-local address"),
        ("2002:7f00:1::", "2002:7f00:1:: is a 6to4 loopback address"),
        ("64:ff9b::a00:1", "64:ff9b::a00:1 is a NAT64 private address"),
    ],
)
def test_forbidden_addresses_are_named_with_their_kind(ip: str, reason: str) -> None:
    assert netpolicy.forbidden_reason(ip) == reason


@pytest.mark.parametrize(
    "ip", ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1", "64:ff9b::101:101"]
)
def test_global_addresses_are_allowed(ip: str) -> None:
    assert netpolicy.forbidden_reason(ip) is None


# -- at registration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        (
            "http://localhost:8080/x",
            {},
            "target localhost resolves to 127.0.0.1, a loopback address",
        ),
        ("https://127.0.0.1/", {}, "target 127.0.0.1 is a loopback address"),
        ("http://[::1]:9/", {}, "target ::1 is a loopback address"),
        (
            "http://[::ffff:127.0.0.1]/",
            {},
            "target ::ffff:127.0.0.1 is an IPv4-mapped loopback address",
        ),
        ("tcp://10.0.0.5:5432", {}, "target 10.0.0.5 is a private address"),
        ("tcp://localhost:22", {}, "target localhost resolves to 127.0.0.1, a loopback address"),
        ("tls://169.254.169.254", {}, "target 169.254.169.254 is a link-local address"),
        ("tls://[fe80::1]:443", {}, "target fe80::1 is a link-local address"),
        ("icmp://0.0.0.0", {}, "target 0.0.0.0 is an unspecified address"),
        ("icmp://localhost", {}, "target localhost resolves to 127.0.0.1, a loopback address"),
        ("ICMP://100.64.0.1", {}, "target 100.64.0.1 is a non-global address"),
        (
            "dns://example.com",
            {"resolver": "127.0.0.1:5353"},
            "resolver 127.0.0.1 is a loopback address",
        ),
        (
            "dns://example.com",
            {"resolver": "[fc00::53]:53"},
            "resolver fc00::53 is a private address",
        ),
        (
            "dns://example.com",
            {"resolver": "192.168.0.1"},
            "resolver 192.168.0.1 is a private address",
        ),
    ],
)
def test_verify_url_refuses_what_would_contact_a_forbidden_address(
    url: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        netpolicy.verify_url(url, options)
    assert str(refused.value) == f"{message}; {NOT_ALLOWED}"


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("http://1.1.1.1/", {}),
        ("https://[2606:4700:4700::1111]:8443/x", {}),
        ("tcp://8.8.8.8:53", {}),
        ("tls://1.1.1.1", {}),
        ("icmp://1.1.1.1", {}),
        ("dns://localhost", {}),  # the name is only asked about, the operator's resolver asked
        ("dns://example.com", {"resolver": "1.1.1.1"}),
        ("dns://example.com", {"resolver": "[2606:4700:4700::1111]:53"}),
    ],
)
def test_verify_url_allows_global_targets(url: str, options: dict[str, Any]) -> None:
    netpolicy.verify_url(url, options)


def test_a_name_that_does_not_resolve_is_not_refused(unresolvable: str) -> None:
    netpolicy.verify_url(f"https://{unresolvable}/health")


def test_a_name_resolving_to_any_forbidden_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resolve_to(monkeypatch, "mixed.example.com", "1.1.1.1", "10.0.0.7")
    with pytest.raises(
        ValueError, match=r"^target mixed\.example\.com resolves to 10\.0\.0\.7, a private"
    ):
        netpolicy.verify_url("http://mixed.example.com/")


def test_a_slow_lookup_is_given_up_in_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        released.wait(5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]

    monkeypatch.setattr(netpolicy, "RESOLVE_SECONDS", 0.2)
    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.perf_counter()
    try:
        netpolicy.verify_url("http://slow.example.com/")  # not refused: the check verifies it
    finally:
        released.set()
    assert time.perf_counter() - started < 1.0


# -- at connect time -------------------------------------------------------------------------


@contextlib.contextmanager
def backlog() -> Iterator[socket.socket]:
    """A socket listening on 127.0.0.1 that never accepts: the kernel completes every
    connection to it and queues it, where `connections` finds it."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        listener.setblocking(False)
        yield listener


def connections(listener: socket.socket) -> int:
    """How many connections were made to a `backlog` listener since the last call."""
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def check(url: str, limits: CheckLimits = REFUSED, **options: Any) -> CheckResult:
    """The result of `run_check` for `url` with `limits` and `options`."""
    return asyncio.run(run_check(CheckSpec(url, TIMEOUT, limits, options)))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/", LOOPBACK),
        ("http://localhost:{port}/health", LOOPBACK),
        ("https://localhost:{port}/", LOOPBACK),
        ("http://[::ffff:127.0.0.1]:{port}/",
         "refused by target policy: ::ffff:127.0.0.1 is an IPv4-mapped loopback address"),
        ("tcp://127.0.0.1:{port}", LOOPBACK),
        ("tcp://localhost:{port}", LOOPBACK),
        ("tcp://[::ffff:127.0.0.1]:{port}",
         "refused by target policy: ::ffff:127.0.0.1 is an IPv4-mapped loopback address"),
        ("tls://127.0.0.1:{port}", LOOPBACK),
        ("tls://localhost:{port}", LOOPBACK),
    ],
)  # fmt: skip
def test_connecting_checks_refuse_forbidden_addresses_without_connecting(
    url: str, reason: str
) -> None:
    """`verify_url` is never called here: the check alone refuses, names resolved included."""
    with backlog() as listener:
        result = check(url.format(port=listener.getsockname()[1]))
        assert (result.up, result.error) == (False, reason)
        assert connections(listener) == 0


def test_the_backlog_listener_sees_a_connection_the_policy_allows() -> None:
    """The control for the test above: an allowed check does reach the listener."""
    with backlog() as listener:
        result = check(f"tcp://localhost:{listener.getsockname()[1]}", CheckLimits())
        assert result.up, result
        assert connections(listener) == 1


def test_http_target_gets_no_request_when_refused_and_is_up_when_allowed() -> None:
    with Target() as target:
        refused = check(target.url)
        assert (refused.up, refused.error, target.hits) == (False, LOOPBACK, 0)
        allowed = check(target.url.replace("127.0.0.1", "localhost"), CheckLimits())
        assert (allowed.up, allowed.status_code, target.hits) == (True, 200, 1)


def test_https_target_gets_no_request_when_refused(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_bundle = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_bundle)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    with Target(tls=context) as target:
        url = target.url.replace("127.0.0.1", "localhost")
        refused = check(url, CheckLimits(ca_bundle=ca_bundle, allow_private_targets=False))
        assert (refused.up, refused.error, target.hits) == (False, LOOPBACK, 0)
        allowed = check(url, CheckLimits(ca_bundle=ca_bundle))
        assert (allowed.up, allowed.status_code, target.hits) == (True, 200, 1)


def test_every_redirect_hop_is_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first hop (127.0.0.1, let through for this test) redirects to 127.0.0.2: refused."""
    forbidden = netpolicy.forbidden_reason
    monkeypatch.setattr(
        netpolicy, "forbidden_reason", lambda ip: None if ip == "127.0.0.1" else forbidden(ip)
    )
    elsewhere = f"http://127.0.0.2:{free_port()}/internal"
    with Target("redirect", location=elsewhere) as target:
        refused = check(target.url)
        assert refused.error == "refused by target policy: 127.0.0.2 is a loopback address"
        assert target.hits == 1
        assert check(target.url, CheckLimits()).error == "connection refused"  # the control


def test_a_name_rebound_to_loopback_after_registration_is_refused_when_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name resolved to a global address when it was registered and to
    127.0.0.1 when it is checked."""
    with Target() as target:
        url = f"http://rebind.example.com:{target.port}/"
        resolve_to(monkeypatch, "rebind.example.com", "1.1.1.1")
        netpolicy.verify_url(url)  # registration lets it through
        resolve_to(monkeypatch, "rebind.example.com", "127.0.0.1")
        for checked in (url, f"tcp://rebind.example.com:{target.port}"):
            result = check(checked)
            assert (result.up, result.error) == (False, LOOPBACK), checked
        assert target.hits == 0
        assert check(url, CheckLimits()).up  # the name does lead to the target


def test_a_name_resolving_to_a_forbidden_address_among_others_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """tcp and tls connect to the addresses found, in turn: all of them are verified first."""
    with backlog() as listener:
        port = listener.getsockname()[1]
        resolve_to(monkeypatch, "mixed.example.com", "127.0.0.1", "10.0.0.7")
        for url in (f"tcp://mixed.example.com:{port}", f"tls://mixed.example.com:{port}"):
            assert check(url).error == LOOPBACK
        assert connections(listener) == 0


def test_tls_peer_gets_no_connection_when_refused() -> None:
    ca = trustme.CA()
    accepted: list[bool] = []
    serve = serving_tls(ca.issue_cert("127.0.0.1"))

    def counting(conn: socket.socket, stop: threading.Event) -> None:
        accepted.append(True)
        serve(conn, stop)

    with Peer(counting) as peer:
        result = check(peer.url("tls"))
        time.sleep(0.2)  # time for the peer to accept a connection had one been made
        assert (result.up, result.error, accepted) == (False, LOOPBACK, [])


class CountingZone(Zone):
    """A zone that counts the queries it answers."""

    def __init__(self, zone: str) -> None:
        super().__init__(zone)
        self.queries = 0

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        self.queries += 1
        return super().resolve(request, handler)


def test_dns_resolver_option_is_refused_without_a_query() -> None:
    zone = CountingZone("up.example.test. 60 IN A 192.0.2.1\n")
    server = DNSServer(zone, address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _: None))
    server.start_thread()
    try:
        url = "dns://up.example.test"
        options = dns.options(url, {"resolver": f"127.0.0.1:{server.server.server_address[1]}"})
        refused = check(url, REFUSED, **options)
        assert (refused.up, refused.error, zone.queries) == (False, LOOPBACK, 0)
        allowed = check(url, CheckLimits(), **options)
        assert (allowed.up, zone.queries) == (True, 1)
    finally:
        server.stop()
        server.server.server_close()


@needs_icmp
@pytest.mark.parametrize("url", ["icmp://127.0.0.1", "icmp://localhost"])
def test_icmp_sends_no_echo_request_when_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[ICMPRequest] = []
    real_send = ICMPv4Socket.send

    def send(sock: ICMPv4Socket, request: ICMPRequest) -> None:
        sent.append(request)
        real_send(sock, request)

    monkeypatch.setattr(ICMPv4Socket, "send", send)
    options = icmp.options(url, {"packet_count": 1})
    refused = check(url, REFUSED, **options)
    assert (refused.up, refused.error, sent) == (False, LOOPBACK, [])
    allowed = check(url, CheckLimits(), **options)
    assert allowed.up and len(sent) == 1


def test_with_private_targets_allowed_the_policy_is_never_consulted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default costs nothing: no address is judged, no guarded transport is made."""

    def consulted(*args: Any) -> None:
        raise AssertionError("the policy was consulted")

    monkeypatch.setattr(netpolicy, "forbidden_reason", consulted)
    monkeypatch.setattr(netpolicy.GuardedBackend, "__init__", consulted)
    with Target() as target, backlog() as listener:
        assert check(target.url.replace("127.0.0.1", "localhost"), CheckLimits()).up
        assert check(f"tcp://localhost:{listener.getsockname()[1]}", CheckLimits()).up


# -- webhooks --------------------------------------------------------------------------------


def post(url: str, allow_private_targets: bool) -> None:
    """Deliver a minimal alert to `url` with the notifier's client."""

    async def deliver() -> None:
        async with webhook_client(allow_private_targets) as client:
            await webhook.send(
                client, url, None, {"alert": {"kind": "down"}}, TIMEOUT, "alert.down"
            )

    asyncio.run(deliver())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_webhook_to_a_forbidden_address_is_refused_without_a_request(host: str) -> None:
    with Receiver() as receiver:
        url = f"http://{host}:{receiver.port}/hook"
        with pytest.raises(DeliveryError) as refused:
            post(url, allow_private_targets=False)
        assert refused.value.reason == LOOPBACK
        assert receiver.requests == []
        post(url, allow_private_targets=True)
        assert len(receiver.requests) == 1


def test_webhook_to_a_name_that_does_not_resolve_is_a_dns_failure(unresolvable: str) -> None:
    with pytest.raises(DeliveryError) as failed:
        post(f"https://{unresolvable}/hook", allow_private_targets=False)
    assert failed.value.reason == f"DNS failure: {unresolvable}"


def test_notifier_records_the_refusal_as_a_failed_attempt(db: Engine, settings: Settings) -> None:
    alert_id = add_alert(db, add_service(db))
    with Receiver() as receiver:
        delivery_id = add_delivery(db, alert_id, f"{receiver.url}/hook")
        guarded = settings.model_copy(update={"allow_private_targets": False})
        assert asyncio.run(Notifier(db, guarded).run_once()) == 1
        assert receiver.requests == []
    row = delivery(db, delivery_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, LOOPBACK)


# -- helpers ---------------------------------------------------------------------------------


def resolve_to(monkeypatch: pytest.MonkeyPatch, name: str, *addresses: str) -> None:
    """Make `name` resolve to `addresses` (IPv4), without a query; other names as before."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def guarded_api(make_runtime: Any, account: Any) -> Iterator[Any]:
    """An API client (as `account`) of a server that does not allow private targets."""
    from web.app import create_app

    app = create_app(make_runtime(allow_private_targets=False), validate_responses=True)
    with app.test_client(headers=account.headers) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "extra", "reason"),
    [
        ("http://127.0.0.1:8080/", {}, "127.0.0.1 is a loopback address"),
        ("http://localhost/", {}, "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", {}, "link-local"),
        ("tcp://10.1.2.3:5432", {}, "10.1.2.3 is a private address"),
        (
            "http://1.1.1.1/",
            {"alert_policy": {"webhooks": [{"url": "http://127.0.0.1/"}]}},
            "loopback",
        ),
        ("https://1.1.1.1/", {"alert_policy": {"apprise_urls": ["json://1.1.1.1/"]}}, "apprise"),
    ],
)
def test_registration_refuses_private_targets_when_they_are_not_allowed(
    guarded_api: Any, url: str, extra: dict, reason: str
) -> None:
    refused = guarded_api.post("/v1/services", json={"name": "x", "url": url, **extra})
    assert refused.status_code == 403, refused.text
    assert reason in refused.json()["detail"]
    assert guarded_api.get("/v1/services").json()["data"] == []


def test_a_change_to_a_private_target_is_refused_too(guarded_api: Any) -> None:
    made = guarded_api.post("/v1/services", json={"name": "x", "url": "https://1.1.1.1/"})
    assert made.status_code == 201, made.text
    path = f"/v1/services/{made.json()['id']}"
    refused = guarded_api.patch(path, json={"url": "http://localhost:9999/"})
    assert refused.status_code == 403 and "loopback" in refused.json()["detail"]
    assert guarded_api.get(path).json()["url"] == "https://1.1.1.1/"


def test_private_targets_are_welcome_by_default(client: Any) -> None:
    made = client.post("/v1/services", json={"name": "x", "url": "http://localhost:9999/"})
    assert made.status_code == 201, made.text
