"""Plain dataclasses of the domain: what is checked, what a check found, what was derived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from statuschecker.redaction import redact
from statuschecker.rules.heartbeats import HeartbeatSchedule, PingKind, late_at
from statuschecker.rules.status import status_of

Status = Literal["up", "down", "pending", "degraded", "maintenance", "unknown", "paused"]
STATUSES: tuple[Status, ...] = (
    "up",
    "down",
    "pending",
    "degraded",
    "maintenance",
    "unknown",
    "paused",
)
EventKind = Literal["uptime", "downtime"]
AlertKind = Literal["down", "recovered", "degraded", "flapping", "stable"]
HEARTBEAT = "heartbeat"  # the kind of a service that reports in by itself
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CheckLimits:
    """Bounds every check obeys, whatever the target does."""

    max_body_bytes: int = 1_048_576
    max_redirects: int = 10
    user_agent: str = "statuschecker"
    ca_bundle: str | None = None  # CAs trusted besides certifi's, for internal services
    # False: loopback, private, link-local and unspecified addresses are refused at connect time.
    allow_private_targets: bool = True
    # The local address checks connect from (None: the system's choice), for targets of its
    # family (IPv4 or IPv6); those of the other family connect as if none were set.
    source_address: str | None = None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What one check needs to know: the target, its deadline, the engine's limits, and the
    options of its kind (validated at registration by the kind's `options()`)."""

    url: str
    timeout_seconds: float
    limits: CheckLimits = field(default_factory=CheckLimits)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found. A failing target is a result with a reason, never an exception.

    `response_time_ms` is the whole check; `dns_ms`, `connect_ms`, `tls_ms` and `ttfb_ms` are
    its phases where the kind has them (TTFB counts from the start, like the total);
    `cert_expires_at` is the server certificate's end of validity (tls, https);
    `packet_loss_percent` is for icmp; `steps`, for a journey, is each step run as JSON text
    (a list of {name, up, status_code, response_time_ms, error})."""

    up: bool
    response_time_ms: float | None = None
    ttfb_ms: float | None = None
    status_code: int | None = None
    error: str | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    cert_expires_at: datetime | None = None
    packet_loss_percent: float | None = None
    steps: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A service claimed by a poller for one scheduled slot."""

    service_id: int
    name: str
    spec: CheckSpec
    due_at: datetime
    interval_seconds: int
    kind: str = "http"


DEFAULT_LOCATION = "default"
"""Where a poller checks from unless told otherwise, and where a ping is received."""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """A result tied to the service and moment it belongs to, ready for the recorder; the
    recorder marks those that fall in a maintenance window of their service.

    A `silence` outcome is a heartbeat the pollers found due: the recorder decides under the
    service's lock whether it is late (and stores the failure) or pinged meanwhile (and drops
    it)."""

    service_id: int
    checked_at: datetime
    result: CheckResult
    in_maintenance: bool = False
    silence: bool = False
    location: str = DEFAULT_LOCATION  # where the check was made from


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping as it arrived at `/ping/{key}[/start|/fail|/{exit_status}]`."""

    key: str = field(repr=False)
    kind: PingKind
    received_at: datetime
    rid: str = ""
    exit_status: int | None = None
    body: str | None = None
    source: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class PingRecord:
    """A stored ping, as a heartbeat's ping log shows it."""

    id: int
    received_at: datetime
    kind: PingKind
    exit_status: int | None
    rid: str | None
    duration_ms: float | None
    body: str | None
    source: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class Confirmation:
    """How many consecutive failed (successful) checks confirm down (up), and how soon a
    failure not confirmed yet is checked again."""

    down_after: int = 2
    up_after: int = 1
    retry_interval_seconds: int = 20

    def merged(
        self, down_after: int | None, up_after: int | None, retry_interval_seconds: int | None
    ) -> Confirmation:
        """These defaults with the values a service sets (None keeps the default)."""
        return Confirmation(
            down_after if down_after is not None else self.down_after,
            up_after if up_after is not None else self.up_after,
            retry_interval_seconds
            if retry_interval_seconds is not None
            else self.retry_interval_seconds,
        )

    def for_kind(self, kind: str) -> Confirmation:
        """The defaults for a service of `kind`: one late or failed run confirms a heartbeat
        down, since its grace has been waited already."""
        return replace(self, down_after=1) if kind == HEARTBEAT else self


@dataclass(frozen=True, slots=True)
class Event:
    """A state period: `uptime` or `downtime`, open while `date_ended` is None."""

    id: int
    service_id: int
    event: EventKind
    date_started: datetime
    date_ended: datetime | None
    reason: str | None = None  # for downtime: the error of the check that began it
    caused_by: int | None = None  # for downtime: the failing service it depends on


@dataclass(frozen=True, slots=True)
class Metric:
    """Running totals of one service's checks."""

    tick_count: int = 0
    up_count: int = 0
    down_count: int = 0
    uptime_percent: float | None = None
    average_response_time_ms: float | None = None
    max_response_time_ms: float | None = None
    last_checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """One stored check result."""

    id: int
    service_id: int
    checked_at: datetime
    result: CheckResult
    in_maintenance: bool = False  # it fell in a maintenance window of its service
    location: str = DEFAULT_LOCATION  # where the check was made from


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that receives alerts as signed JSON."""

    url: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """When a service's alerts are raised and where they go besides the global receivers."""

    window_seconds: int = 120
    availability_threshold_percent: float = 80.0
    min_checks: int = 2
    max_failures: int | None = None
    failure_window_seconds: int = 300
    flap_changes: int | None = None
    flap_window_seconds: int = 600
    response_time_ms_above: float | None = None
    response_time_statistic: Literal["p95", "avg"] = "p95"
    response_time_window_seconds: int = 300
    webhooks: tuple[Webhook, ...] = ()
    apprise_urls: tuple[str, ...] = ()

    def merged(self, changes: Mapping[str, Any]) -> AlertPolicy:
        """This policy with the fields named in `changes` (as JSON) replaced."""
        known = {f.name for f in fields(self)}
        values = {k: v for k, v in changes.items() if k in known}
        if "webhooks" in values:
            values["webhooks"] = tuple(Webhook(**hook) for hook in values["webhooks"])
        if "apprise_urls" in values:
            values["apprise_urls"] = tuple(values["apprise_urls"])
        return replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        """The policy as stored (secrets included)."""
        return {
            "window_seconds": self.window_seconds,
            "availability_threshold_percent": self.availability_threshold_percent,
            "min_checks": self.min_checks,
            "max_failures": self.max_failures,
            "failure_window_seconds": self.failure_window_seconds,
            "flap_changes": self.flap_changes,
            "flap_window_seconds": self.flap_window_seconds,
            "response_time_ms_above": self.response_time_ms_above,
            "response_time_statistic": self.response_time_statistic,
            "response_time_window_seconds": self.response_time_window_seconds,
            "webhooks": [{"url": w.url, "secret": w.secret} for w in self.webhooks],
            "apprise_urls": list(self.apprise_urls),
        }


@dataclass(frozen=True, slots=True)
class Uptime:
    """Availability over the last day, week and month (hour-aligned), None without checks."""

    day: float | None
    week: float | None
    month: float | None


@dataclass(frozen=True, slots=True)
class Hourly:
    """A service's last 24 hours from the rollups, oldest first: checks, availability in
    percent and average response time in ms of each (None for an hour without checks)."""

    checks: tuple[int, ...]
    availability_percent: tuple[float | None, ...]
    avg_response_time_ms: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Bucket:
    """Checks of one hour or day (UTC) from the rollups; response times of successful checks."""

    start: datetime
    checks: int
    successful: int
    avg_response_time_ms: float | None
    max_response_time_ms: float | None

    @property
    def availability_percent(self) -> float | None:
        """Successful checks in percent, None without checks."""
        return 100.0 * self.successful / self.checks if self.checks else None


@dataclass(frozen=True, slots=True)
class HeartbeatView:
    """A heartbeat's schedule and what it has heard: its next ping's due time, the last ping
    that finished a run, and its runs started and not finished (run id, start), oldest first."""

    schedule: HeartbeatSchedule
    due_at: datetime | None
    last_ping_at: datetime | None
    running: tuple[tuple[str, datetime], ...] = ()

    @property
    def late_at(self) -> datetime | None:
        """When it is late without a ping."""
        return None if self.due_at is None else late_at(self.schedule, self.due_at)


@dataclass(frozen=True, slots=True)
class Service:
    """A registered service with its current state."""

    id: int
    name: str
    url: str
    kind: str
    interval_seconds: int
    timeout_seconds: float
    paused: bool
    created_at: datetime
    updated_at: datetime
    latest_event: Event | None
    metric: Metric
    alert_policy: AlertPolicy | None = None
    alert_state: Literal["ok", "alerting"] = "ok"
    check_options: Mapping[str, Any] = field(default_factory=dict)
    uptime: Uptime | None = None
    owner_id: int | None = None
    public: bool = False
    # The service's own confirmation settings (None: the defaults in effect).
    confirm_down_after: int | None = None
    confirm_up_after: int | None = None
    retry_interval_seconds: int | None = None
    tags: tuple[str, ...] = ()
    group: str | None = None
    depends_on: tuple[int, ...] = ()
    # What the rules keep between checks (see statuschecker.rules.status).
    failing_unconfirmed: bool = False
    in_maintenance: bool = False
    degraded: bool = False
    flapping: bool = False
    heartbeat: HeartbeatView | None = None
    ping_key: str | None = field(default=None, repr=False)
    # The locations it is checked from (empty: from anywhere) and its quorum (None: a majority
    # of the live ones).
    locations: tuple[str, ...] = ()
    quorum: int | None = None
    failing_locations: tuple[str, ...] = ()  # confirmed down there at the last verdict
    stale_locations: tuple[str, ...] = ()  # counted for neither side at the last verdict
    managed: bool = False  # created or adopted by a configuration apply (which may delete it)

    @property
    def status(self) -> Status:
        """The status the rules give the service now (statuschecker.rules.status)."""
        return status_of(
            paused=self.paused,
            confirmed=self.latest_event.event if self.latest_event else None,
            failing_unconfirmed=self.failing_unconfirmed,
            in_maintenance=self.in_maintenance,
            degraded=self.degraded,
            failing_somewhere=bool(self.failing_locations),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor to the next, if any."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Receiver:
    """Where alerts are sent: a webhook URL (with an optional HMAC secret) or an apprise URL."""

    channel: Literal["webhook", "apprise"]
    target: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A raised alert: a service went down or recovered, with the figures that decided it."""

    id: int
    service_id: int
    service_name: str
    kind: AlertKind
    rule: str
    message: str
    availability_percent: float | None
    window_seconds: int
    raised_at: datetime
    downtime_seconds: float | None
    suppressed_by: int | None = None  # delivered to nobody: this parent was failing
    held: bool = False  # delivered to nobody: the service was flapping


@dataclass(frozen=True, slots=True)
class User:
    """An account."""

    id: int
    email: str
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token as it is listed: everything but its secret."""

    id: int
    name: str
    read_only: bool
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: an account (and whether it may write), or nobody."""

    user_id: int | None = None
    is_admin: bool = False
    read_only: bool = True

    @property
    def anonymous(self) -> bool:
        """True for a request without credentials."""
        return self.user_id is None


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which services a request may see: all of them (admins), one account's (and, with
    `with_public`, the public ones besides), or, for a request without credentials, the
    public ones."""

    owner_id: int | None = None
    public_only: bool = False
    with_public: bool = False

    @classmethod
    def of(cls, caller: Caller) -> Visibility:
        """The services `caller` may see."""
        if caller.anonymous:
            return cls(public_only=True)
        return cls() if caller.is_admin else cls(owner_id=caller.user_id)

    @classmethod
    def on_status(cls, caller: Caller) -> Visibility:
        """The services `caller` may see on the status views (status lists, history, badges):
        what anonymous readers see there, the public ones, and the caller's own."""
        seen = cls.of(caller)
        return replace(seen, with_public=True) if seen.owner_id is not None else seen

    def admits(self, service: Service) -> bool:
        """Whether `service` is visible here."""
        if self.public_only or (self.with_public and service.public):
            return service.public
        return self.owner_id is None or service.owner_id == self.owner_id


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    """Which services of those visible a list keeps: of a status, with a part of the name
    (case-insensitive), with a tag, among some ids (a status page's; None: any)."""

    status: Status | None = None
    name: str | None = None
    tag: str | None = None
    ids: tuple[int, ...] | None = None


ANY_SERVICE = ServiceFilter()


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed delivery with everything sending it needs: the receiver, the alert and its
    service's URL. Target and secret stay out of `repr` (apprise URLs carry tokens)."""

    id: int
    channel: str
    target: str = field(repr=False)
    secret: str | None = field(repr=False)
    attempts: int
    alert: Alert
    service_url: str

    @property
    def redacted_target(self) -> str:
        """The target as it may be logged or shown."""
        return redact(self.channel, self.target)


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery's state as the API shows it: the target redacted, no secret."""

    id: int
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None  # None unless still pending


LocationStatus = Literal["live", "stale"]


@dataclass(frozen=True, slots=True)
class PollerSighting:
    """A poller as it last reported itself: its lease owner id, where it checks from, its host
    and version, when it started, when it was last seen and, once it stopped cleanly, when."""

    owner: str
    location: str
    host: str
    version: str
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A place pollers check from, its pollers (the most recently seen first) and those of them
    that count (`statuschecker.rules.locations`)."""

    name: str
    last_seen_at: datetime
    pollers: list[PollerSighting]
    live_owners: frozenset[str]

    @property
    def status(self) -> LocationStatus:
        """`live` while one of its pollers counts, else `stale`."""
        return "live" if self.live_owners else "stale"


@dataclass(frozen=True, slots=True)
class LocationState:
    """What the checks of a service from one of its named locations say: the state confirmed
    there and since when, and the newest result."""

    location: str
    confirmed: EventKind | None = None
    confirmed_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_up: bool | None = None
    last_error: str | None = None
    last_response_time_ms: float | None = None


IMPACTS = ("minor", "major", "critical")
"""How bad a written incident is, least first."""
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
"""Where a written incident stands, as its updates say, in the order they usually come."""


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """One update of a written incident: where it stands and what the people say."""

    id: int
    status: str
    message: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Reported:
    """An incident as the status pages and their readers see it: written by people (with an
    impact, a status and updates, newest first) or opened by the checks (a service's downtime,
    with the reason of the check that opened it as `description`)."""

    source: Literal["written", "automatic"]
    id: int
    title: str
    impact: str | None
    status: str | None
    started_at: datetime
    resolved_at: datetime | None
    updated_at: datetime
    services: tuple[tuple[int, str], ...]  # (id, name) of those the reader may see
    description: str | None = None
    updates: tuple[IncidentUpdate, ...] = ()
    owner_id: int | None = None


@dataclass(frozen=True, slots=True)
class StatusPage:
    """A status page besides `/`, at /status/{slug}: the services it picks (the public ones
    among them are shown) under its own title, description, logo (a data: URL) and link."""

    id: int
    owner_id: int | None
    slug: str
    title: str
    description: str
    logo: str | None
    link: str | None
    service_ids: tuple[int, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PageDelivery:
    """A claimed delivery to a status page's subscriber: its URL, secret (out of `repr`), the
    event and the JSON body made when it happened."""

    id: int
    subscription_id: int
    url: str = field(repr=False)
    secret: str | None = field(repr=False)
    attempts: int
    event: str
    payload: dict[str, Any] = field(repr=False)
