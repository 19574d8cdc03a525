"""SQLAlchemy table definitions; the Alembic migrations build exactly this schema."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from statuschecker.store import result_columns

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _service_ref() -> Column:
    """The owning service; its rows go when the service is deleted."""
    return Column(
        "service_id", BigInteger, ForeignKey("services.id", ondelete="CASCADE"), nullable=False
    )


def _rollup_location() -> Column:
    """Where the rolled-up checks were made from (migration 0015); a service's figures over all
    its locations are the sum of its rows."""
    return Column("location", String(40), nullable=False, server_default=text("'default'"))


def _outbox(table: str) -> list[Column | CheckConstraint | Index]:
    """What an outbox's rows have (statuschecker.store.deliveries): their state, attempts, the
    next one's time, the lease of the notifier sending them, the last error; and the index of
    the pending ones by when they fall due."""
    return [
        Column("status", String(16), nullable=False, server_default=text("'pending'")),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column(
            "next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column("lease_expires_at", DateTime(timezone=True), nullable=True),
        Column("last_error", Text, nullable=True),
        Column("delivered_at", DateTime(timezone=True), nullable=True),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_kind"),
        Index(f"ix_{table}_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    ]


# The pollers that reported themselves (statuschecker.polling.presence), for the locations'
# health; forgotten a while after they were last seen.
pollers = Table(
    "pollers",
    metadata,
    Column("owner", Text, primary_key=True),  # the lease owner id
    Column("location", String(40), nullable=False),
    Column("host", Text, nullable=False),
    Column("version", String(40), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("stopped_at", DateTime(timezone=True), nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # Stored lower-cased, so that one address is one account however it is typed.
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# API tokens for scripts and scrapers; only a SHA-256 of the secret is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_tokens_user_id_id", "user_id", "id"),
)

# fillfactor 70 (migration 0010): room on each page for its rows' next versions.
services = Table(
    "services",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    # Services registered before accounts existed have no owner; only admins see them.
    Column("owner_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("name", String(100), nullable=False),
    Column("public", Boolean, nullable=False, server_default=text("false")),
    Column("url", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("timeout_seconds", Double, nullable=False),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    # The kind's options (method, headers, expected_status, record_type, ...), as validated by
    # statuschecker.checks.validate_options.
    Column("check_options", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Scheduling: the slot the service is due in, and the poller holding it until the lease ends.
    Column("next_check_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_owner", Text, nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    # Alerting: the service's policy (null: the settings' defaults) and its alert state, kept
    # here so that exactly one alert is raised per transition, across restarts.
    Column("alert_policy", JSONB, nullable=True),
    Column("alert_state", String(16), nullable=False, server_default=text("'ok'")),
    Column("alert_changed_at", DateTime(timezone=True), nullable=True),
    # Confirmation (null: the settings' defaults), statuschecker.rules.periods.
    Column("confirm_down_after", SmallInteger, nullable=True),
    Column("confirm_up_after", SmallInteger, nullable=True),
    Column("retry_interval_seconds", Integer, nullable=True),
    # Grouping for lists and the status page; the services whose failure explains this one's.
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("group_name", String(100), nullable=True),
    Column("depends_on", ARRAY(BigInteger), nullable=False, server_default=text("'{}'")),
    # What the rules keep between checks: the run of outcomes not confirmed yet (its kind,
    # length, first check and, for failures, the first error), whether the newest check fell
    # in maintenance, and the degraded, flapping and suppressed states of its alerts.
    Column("run_kind", String(16), nullable=True),
    Column("run_count", Integer, nullable=False, server_default=text("0")),
    Column("run_started_at", DateTime(timezone=True), nullable=True),
    Column("run_reason", Text, nullable=True),
    Column("in_maintenance", Boolean, nullable=False, server_default=text("false")),
    Column("degraded", Boolean, nullable=False, server_default=text("false")),
    Column("flapping", Boolean, nullable=False, server_default=text("false")),
    Column("alert_suppressed_by", BigInteger, nullable=True),
    Column("alert_cause_seen_at", DateTime(timezone=True), nullable=True),
    # Heartbeats (kind 'heartbeat', url ''): the key of the ping URL, the schedule (the fields
    # of statuschecker.rules.heartbeats.HeartbeatSchedule), the next ping's due time (the
    # service is due to the pollers, next_check_at, when it is late), the last ping that
    # finished a run and the last success.
    Column("ping_key", String(64), nullable=True),
    Column("heartbeat", JSONB, nullable=True),
    Column("heartbeat_due_at", DateTime(timezone=True), nullable=True),
    Column("last_ping_at", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    # Locations: those the service is checked from ('{}': by any poller, on the schedule above;
    # otherwise each on its own schedule in service_locations) and how many of them must be
    # confirmed down for it to be down (NULL: a majority of the live ones).
    Column("locations", ARRAY(String(40)), nullable=False, server_default=text("'{}'")),
    Column("quorum", SmallInteger, nullable=True),
    # The live locations confirmed down at the last verdict, fewer than the quorum or not.
    Column("failing_locations", ARRAY(String(40)), nullable=False, server_default=text("'{}'")),
    Column("stale_locations", ARRAY(String(40)), nullable=False, server_default=text("'{}'")),
    # Created or adopted by a configuration apply, which may delete it (migration 0017).
    Column("managed", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("interval_seconds BETWEEN 1 AND 86400", name="interval_range"),
    CheckConstraint(
        "(kind = 'heartbeat') = (heartbeat IS NOT NULL AND ping_key IS NOT NULL)",
        name="heartbeat_kind",
    ),
    CheckConstraint(
        "confirm_down_after BETWEEN 1 AND 10 AND confirm_up_after BETWEEN 1 AND 10",
        name="confirm_range",
    ),
    CheckConstraint("retry_interval_seconds BETWEEN 1 AND 86400", name="retry_range"),
    CheckConstraint("run_kind IN ('uptime', 'downtime')", name="run_kind"),
    CheckConstraint("alert_state IN ('ok', 'alerting')", name="alert_state_kind"),
    CheckConstraint("timeout_seconds >= 0.1 AND timeout_seconds <= 60", name="timeout_range"),
    CheckConstraint(
        "quorum BETWEEN 1 AND cardinality(locations) AND cardinality(locations) <= 16",
        name="quorum_range",
    ),
    Index(
        "ix_services_due", "next_check_at", postgresql_where=text("NOT paused AND locations = '{}'")
    ),
    # Names are unique per account (and among the services without an owner).
    Index("uq_services_owner_name", "owner_id", "name", unique=True),
    Index(
        "uq_services_unowned_name",
        "name",
        unique=True,
        postgresql_where=text("owner_id IS NULL"),
    ),
    Index("ix_services_owner_id_id", "owner_id", "id"),  # an account's pages in id order
    Index("ix_services_public", "id", postgresql_where=text("public")),
    Index("ix_services_tags", "tags", postgresql_using="gin"),
    Index("uq_services_ping_key", "ping_key", unique=True),
)

# A service checked from named locations: each location's schedule and lease (as in services)
# and what the period rules keep there (its unconfirmed run, its confirmed state and since when),
# and its newest result, for the quorum (statuschecker.rules.quorum) and the service's answer.
service_locations = Table(
    "service_locations",
    metadata,
    _service_ref(),
    Column("location", String(40), nullable=False),
    Column("next_check_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_owner", Text, nullable=True),
    Column("lease_expires_at", DateTime(timezone=True), nullable=True),
    Column("run_kind", String(16), nullable=True),
    Column("run_count", Integer, nullable=False, server_default=text("0")),
    Column("run_started_at", DateTime(timezone=True), nullable=True),
    Column("run_reason", Text, nullable=True),
    Column("confirmed", String(16), nullable=True),
    Column("confirmed_at", DateTime(timezone=True), nullable=True),
    Column("last_checked_at", DateTime(timezone=True), nullable=True),
    Column("last_up", Boolean, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_response_time_ms", Double, nullable=True),
    PrimaryKeyConstraint("service_id", "location", name="pk_service_locations"),
    CheckConstraint("run_kind IN ('uptime', 'downtime')", name="run_kind"),
    CheckConstraint("confirmed IN ('uptime', 'downtime')", name="confirmed_kind"),
    Index("ix_service_locations_due", "location", "next_check_at"),
)

# Raw ticks, partitioned by day (UTC) of `checked_at` (statuschecker.store.partitions makes the
# partitions), so that retention drops whole days instead of deleting rows.
tick_ids = Sequence("service_ticks_id_seq", metadata=metadata)
service_ticks = Table(
    "service_ticks",
    metadata,
    Column("id", BigInteger, nullable=False, server_default=tick_ids.next_value()),
    _service_ref(),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    *result_columns.columns(),
    Column("in_maintenance", Boolean, nullable=False, server_default=text("false")),
    # Where the check was made from; NULL for the default location (no bytes in the row).
    Column("location", String(40), nullable=True),
    # One tick per service and moment: the recorder skips a tick it already holds.
    Index("uq_service_ticks_service_time", "service_id", "checked_at", unique=True),
    postgresql_partition_by="RANGE (checked_at)",
)

# fillfactor 70 (migration 0010): room on each page for its rows' next versions.
service_metrics = Table(
    "service_metrics",
    metadata,
    Column(
        "service_id",
        BigInteger,
        ForeignKey("services.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tick_count", BigInteger, nullable=False, server_default=text("0")),
    Column("up_count", BigInteger, nullable=False, server_default=text("0")),
    Column("down_count", BigInteger, nullable=False, server_default=text("0")),
    Column("uptime_percent", Double, nullable=True),
    Column("average_response_time_ms", Double, nullable=True),
    Column("max_response_time_ms", Double, nullable=True),
    Column("last_checked_at", DateTime(timezone=True), nullable=True),
)

service_events = Table(
    "service_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _service_ref(),
    Column("event", String(16), nullable=False),
    Column("date_started", DateTime(timezone=True), nullable=False),
    Column("date_ended", DateTime(timezone=True), nullable=True),
    # Why a downtime began: the error of the check that opened it.
    Column("reason", Text, nullable=True),
    # The service this one depends on that was failing when this downtime was confirmed.
    Column("caused_by", BigInteger, nullable=True),
    CheckConstraint("event IN ('uptime', 'downtime')", name="event_kind"),
    CheckConstraint("date_ended IS NULL OR date_ended >= date_started", name="event_order"),
    Index("ix_service_events_service_id_id", "service_id", "id"),
    # The status pages' incidents, newest first across services (migration 0019).
    Index("ix_service_events_date_started_id", "date_started", "id"),
    # Periods overlapping a range: those that end (or are open, ending at infinity) after it starts.
    Index(
        "ix_service_events_service_end",
        "service_id",
        text("coalesce(date_ended, 'infinity'::timestamptz)"),
    ),
    # At most one open event per service.
    Index(
        "uq_service_events_open",
        "service_id",
        unique=True,
        postgresql_where=text("date_ended IS NULL"),
    ),
)

# Rollups of ticks per hour and per day (UTC), kept when raw ticks are pruned. Response-time and
# TTFB figures cover successful checks; `rt_histogram` counts them per log-spaced bucket of
# statuschecker.rules.histogram (sparse: {bucket index: count}).
# fillfactor 70 (migration 0010): room on each page for its rows' next versions.
service_rollups = Table(
    "service_rollups",
    metadata,
    _service_ref(),
    Column("bucket_hours", SmallInteger, nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("checks", Integer, nullable=False),
    Column("successful", Integer, nullable=False),
    Column("rt_count", Integer, nullable=False),
    Column("rt_sum", Double, nullable=False),
    Column("rt_max", Double, nullable=True),
    Column("ttfb_count", Integer, nullable=False),
    Column("ttfb_sum", Double, nullable=False),
    Column("ttfb_max", Double, nullable=True),
    Column("rt_histogram", JSONB, nullable=False),
    # Of `checks` and `successful`, those that fell in a maintenance window.
    Column("maintenance_checks", Integer, nullable=False, server_default=text("0")),
    Column("maintenance_successful", Integer, nullable=False, server_default=text("0")),
    _rollup_location(),
    PrimaryKeyConstraint("service_id", "bucket_hours", "bucket_start", "location"),
    CheckConstraint("bucket_hours IN (1, 24)", name="bucket_hours_kind"),
)

# Per hour and per day, how many checks ended with each status code or, without a response,
# each reason.
# fillfactor 70 (migration 0010): room on each page for its rows' next versions.
service_rollup_outcomes = Table(
    "service_rollup_outcomes",
    metadata,
    _service_ref(),
    Column("bucket_hours", SmallInteger, nullable=False),
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    _rollup_location(),
    PrimaryKeyConstraint("service_id", "bucket_hours", "bucket_start", "location", "outcome"),
    CheckConstraint("bucket_hours IN (1, 24)", name="bucket_hours_kind"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _service_ref(),
    Column("kind", String(16), nullable=False),
    Column("rule", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("availability_percent", Double, nullable=True),
    Column("window_seconds", Integer, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("downtime_seconds", Double, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Delivered to nobody: a parent (this id) was failing, or the service was flapping (held).
    Column("suppressed_by", BigInteger, nullable=True),
    Column("held", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint(
        "kind IN ('down', 'recovered', 'degraded', 'flapping', 'stable')", name="alert_kind"
    ),
    Index("ix_alerts_raised_at_id", "raised_at", "id"),
    Index("ix_alerts_service_id_id", "service_id", "id"),
)

# The outbox of notifications: one row per alert and receiver, written in the same transaction
# as the alert and worked off by the notifier, so delivery survives restarts and never blocks.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "alert_id",
        BigInteger,
        ForeignKey("alerts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("secret", Text, nullable=True),
    *_outbox("alert_deliveries"),
    CheckConstraint("channel IN ('webhook', 'apprise')", name="channel_kind"),
    Index("ix_alert_deliveries_alert_id", "alert_id"),
)

# Maintenance windows: one-off (starts_at..ends_at) or recurring (an RFC 5545 rule in a time
# zone, each occurrence lasting duration_seconds, from starts_at and until ends_at if set),
# covering the services named and those carrying any of the tags, of the owner's account.
maintenances = Table(
    "maintenances",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("owner_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("title", String(200), nullable=False),
    Column("service_ids", ARRAY(BigInteger), nullable=False, server_default=text("'{}'")),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=True),
    Column("rrule", Text, nullable=True),
    Column("duration_seconds", Integer, nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Created or adopted by a configuration apply, which may delete it (migration 0017).
    Column("managed", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint(
        "(rrule IS NULL AND ends_at IS NOT NULL AND ends_at > starts_at)"
        " OR (rrule IS NOT NULL AND duration_seconds IS NOT NULL AND timezone IS NOT NULL)",
        name="one_off_or_recurring",
    ),
    Index("ix_maintenances_owner_id_id", "owner_id", "id"),
)

# Incidents written by people for the status pages (issue 21): a title, an impact, the services
# affected (of the owner's account) and their updates over time; `status` is the newest update's,
# and `resolved_at` is set exactly while it is 'resolved'.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("owner_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("title", String(200), nullable=False),
    Column("impact", String(16), nullable=False),
    Column("service_ids", ARRAY(BigInteger), nullable=False, server_default=text("'{}'")),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("impact IN ('minor', 'major', 'critical')", name="impact_kind"),
    CheckConstraint(
        "status IN ('investigating', 'identified', 'monitoring', 'resolved')", name="status_kind"
    ),
    CheckConstraint("(status = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_when"),
    Index("ix_incidents_owner_id_id", "owner_id", "id"),
    Index("ix_incidents_started_at_id", "started_at", "id"),
)

incident_updates = Table(
    "incident_updates",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "incident_id", BigInteger, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    ),
    Column("status", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "status IN ('investigating', 'identified', 'monitoring', 'resolved')", name="status_kind"
    ),
    Index("ix_incident_updates_incident_id_id", "incident_id", "id"),
)

# Status pages besides `/` (issue 21): each at /status/{slug}, showing the services it picks
# (the public ones among them) under its own title, description, logo (a data: URL of an image)
# and link.
status_pages = Table(
    "status_pages",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("owner_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("logo", Text, nullable=True),
    Column("link", Text, nullable=True),
    Column("service_ids", ARRAY(BigInteger), nullable=False, server_default=text("'{}'")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_status_pages_owner_id_id", "owner_id", "id"),
)

# Readers' webhook subscriptions to a status page (issue 21): each receives the page's incidents
# (written ones: made and updated) at its URL, signed with its secret when it gave one; it ends
# them with the token it was given (kept as its SHA-256).
page_subscriptions = Table(
    "page_subscriptions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "page_id", BigInteger, ForeignKey("status_pages.id", ondelete="CASCADE"), nullable=False
    ),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_page_subscriptions_page_id_id", "page_id", "id"),
)

# The outbox of what subscribers are sent: one row per subscription and event, its JSON body
# made when the event happened, worked off by the notifier like alert deliveries.
page_deliveries = Table(
    "page_deliveries",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "subscription_id",
        BigInteger,
        ForeignKey("page_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event", String(40), nullable=False),
    Column("payload", JSONB, nullable=False),
    *_outbox("page_deliveries"),
    Index("ix_page_deliveries_subscription_id", "subscription_id"),
)

# A heartbeat's runs started (a start ping) and not finished yet, one per run id ('' without
# one); `overdue` once the pollers have found it running too long.
heartbeat_runs = Table(
    "heartbeat_runs",
    metadata,
    _service_ref(),
    Column("rid", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("overdue", Boolean, nullable=False, server_default=text("false")),
    PrimaryKeyConstraint("service_id", "rid"),
)

# Every ping a heartbeat received, with what the job sent (its log, bounded), stored as it
# arrives and judged soon after; pruned with the ticks.
pings = Table(
    "pings",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    _service_ref(),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("exit_status", SmallInteger, nullable=True),
    Column("rid", String(64), nullable=True),
    Column("duration_ms", Double, nullable=True),
    Column("body", Text, nullable=True),
    Column("source", String(64), nullable=True),
    Column("user_agent", String(200), nullable=True),
    # Whether the heartbeat rules have judged it yet (statuschecker.polling.heartbeat_inputs).
    Column("judged", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("kind IN ('start', 'success', 'fail')", name="ping_kind"),
    Index("ix_pings_service_id_id", "service_id", "id"),
    Index("ix_pings_received_at", "received_at"),
    Index("ix_pings_unjudged", "service_id", "id", postgresql_where=text("NOT judged")),
)

# How far raw ticks have been pruned (one row): statistics trust raw ticks only after this.
tick_pruning = Table(
    "tick_pruning",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("pruned_before", DateTime(timezone=True), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)
