"""Settings from `STATUSCHECKER_*` environment variables (and `.env`), validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_rate_limit
from pydantic import Field, IPvAnyAddress, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from statuschecker.model import DEFAULT_LOCATION, Confirmation

UrlList = Annotated[list[str], NoDecode]


LOCATION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
"""A location's name: lower-case letters, digits and dashes, as the contract's LocationName."""


class Settings(BaseSettings):
    """Every setting statuschecker reads; docs/settings.md lists them with their defaults."""

    model_config = SettingsConfigDict(
        env_prefix="STATUSCHECKER_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset starts the embedded server"
    )
    data_dir: Path = Field(default=Path("var"), description="where the embedded database lives")
    host: str = "127.0.0.1"
    port: int = Field(default=9999, ge=0, le=65535)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    default_interval_seconds: int = Field(default=30, ge=1, le=86400)
    default_timeout_seconds: float = Field(
        default=10.0, ge=0.1, le=60, description="shortened to the interval when that is shorter"
    )

    poller_enabled: bool = Field(default=True, description="run pollers in `statuschecker run`")
    poller_processes: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="poller worker processes of `statuschecker poller` and `run`",
    )
    location: str = Field(
        default=DEFAULT_LOCATION,
        pattern=LOCATION_PATTERN,
        description="where this process's pollers check from (`statuschecker poller --location`)",
    )
    location_stale_seconds: float = Field(
        default=20.0,
        ge=10,
        le=3600,
        description="a location none of whose pollers reported for this long is stale",
    )
    source_address: IPvAnyAddress | None = Field(
        default=None, description="the local address the checks connect from"
    )
    poller_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="how much lower the poller workers' CPU priority is (their niceness)",
    )
    single_process: bool = Field(
        default=False,
        description="`statuschecker run` polls from a thread of its own process, not workers",
    )
    poller_metrics_host: str = Field(
        default="127.0.0.1", description="address the /metrics of `statuschecker poller` uses"
    )
    poller_metrics_port: int = Field(
        default=9998, ge=0, le=65535, description="port of `statuschecker poller`'s /metrics"
    )
    poller_concurrency: int = Field(default=200, ge=1, le=10000)
    poller_idle_seconds: float = Field(
        default=0.5, gt=0, le=10, description="how long the poller sleeps when nothing is due"
    )
    poller_shutdown_seconds: float = Field(
        default=10.0, ge=0, le=120, description="how long in-flight checks may finish on stop"
    )
    lease_grace_seconds: float = Field(
        default=15.0, gt=0, description="a claim expires at timeout + this grace"
    )
    recorder_batch_size: int = Field(default=500, ge=1, le=10000)
    recorder_flush_seconds: float = Field(default=0.5, gt=0, le=10)
    recorder_buffer_max_results: int = Field(
        default=100_000,
        ge=1,
        description="results a poller keeps while the database is away; beyond, the oldest "
        "are dropped (and counted)",
    )

    http_max_body_bytes: int = Field(default=1_048_576, ge=0)
    http_max_redirects: int = Field(default=10, ge=0, le=50)
    http_user_agent: str = "statuschecker/0.1"
    ca_bundle: str | None = Field(
        default=None, description="a PEM file of CAs trusted besides the usual ones"
    )

    cache_max_services: int = Field(default=100_000, ge=1)
    cache_ttl_seconds: float = Field(default=300.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1, le=100)
    health_poller_stale_seconds: float = Field(
        default=30.0, gt=0, description="health fails when the poller loop is quiet for this long"
    )

    tick_retention_days: int = Field(
        default=30, ge=1, description="raw ticks older than this are pruned; rollups stay"
    )
    prune_every_seconds: float = Field(default=600.0, gt=0)

    confirm_down_after: int = Field(
        default=2, ge=1, le=10, description="consecutive failed checks that confirm down"
    )
    confirm_up_after: int = Field(
        default=1, ge=1, le=10, description="consecutive successful checks that confirm up"
    )
    retry_interval_seconds: int = Field(
        default=20,
        ge=1,
        le=86400,
        description="how soon a failure not confirmed yet is checked again",
    )

    alert_window_seconds: int = Field(default=120, ge=1, le=86400)
    alert_availability_threshold_percent: float = Field(default=80.0, ge=0, le=100)
    alert_min_checks: int = Field(default=2, ge=1)
    alert_max_failures: int | None = Field(default=None, ge=0)
    alert_failure_window_seconds: int = Field(default=300, ge=1, le=86400)

    webhook_urls: UrlList = Field(default_factory=list)
    webhook_secret: str | None = None
    apprise_urls: UrlList = Field(default_factory=list)
    notify_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notify_max_attempts: int = Field(default=8, ge=1, le=100)
    notify_retry_base_seconds: float = Field(default=2.0, gt=0)
    notify_retry_max_seconds: float = Field(default=300.0, gt=0)
    notify_poll_seconds: float = Field(default=1.0, gt=0, le=60)

    secret_key: SecretStr | None = Field(
        default=None,
        description="signs log-in tokens; unset: generated once and kept in the data directory",
    )
    signup_policy: Literal["open", "first-only", "closed"] = Field(
        default="open", description="who may create an account; the first one is always admin"
    )
    access_token_ttl_seconds: int = Field(default=3600, ge=60, le=30 * 86400)
    auth_rate_limit: str = Field(
        default="10/minute",
        description="log-in and sign-up attempts allowed per client address and per e-mail",
    )
    subscribe_rate_limit: str = Field(
        default="20/hour",
        description="webhook subscriptions to status pages allowed per client address",
    )
    max_services_per_user: int = Field(default=1000, ge=1)
    metrics_token: SecretStr | None = Field(
        default=None, description="when set, /metrics asks for it as a bearer token"
    )
    allow_private_targets: bool = Field(
        default=True,
        description="false: refuse loopback, private, link-local and unspecified addresses",
    )
    subscriber_private_targets: bool = Field(
        default=False,
        description="true: status pages' webhook subscribers, whom anybody may add, may be at "
        "loopback, private, link-local and unspecified addresses too (with "
        "allow_private_targets); by default they may not",
    )
    max_request_bytes: int = Field(default=262_144, ge=1024, description="largest request body")
    max_config_bytes: int = Field(
        default=33_554_432,
        ge=1024,
        description="largest configuration document `POST /v1/config:apply` takes",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="the address people reach this server at, for heartbeats' ping URLs "
        "(default: the address each request came to)",
    )
    ping_rate_limit: str = Field(
        default="120/minute",
        description="pings accepted per heartbeat key and API process; more answer 429",
    )

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the secret key needs at least 32 characters")
        return value

    @field_validator("auth_rate_limit", "subscribe_rate_limit", "ping_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)  # ValueError names what is wrong
        return value

    @field_validator("webhook_urls", "apprise_urls", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def secret_key_file(self) -> Path:
        """Where the generated signing key is kept when `secret_key` is unset."""
        return self.data_dir / "secret_key"

    @property
    def embedded_data_dir(self) -> Path:
        """Data directory of the embedded PostgreSQL that `run` starts."""
        return self.data_dir / "postgres"

    def confirmation(self) -> Confirmation:
        """The confirmation a service gets unless it says otherwise."""
        return Confirmation(
            self.confirm_down_after, self.confirm_up_after, self.retry_interval_seconds
        )
