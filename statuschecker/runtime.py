"""Wiring: one place builds the engine, cache, collectors, recorder, poller and service layer."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from statuschecker.accounts.users import Accounts
from statuschecker.cache import StatusCache
from statuschecker.metrics.collectors import (
    LocationsCollector,
    PublishedCollector,
    ServiceStateCollector,
    service_series_served,
)
from statuschecker.metrics.pings import PingMetrics
from statuschecker.metrics.work import WorkMetrics
from statuschecker.model import AlertPolicy, Receiver
from statuschecker.notify.outbox import Notifier
from statuschecker.polling.ping_intake import PingIntake
from statuschecker.polling.poller import Poller
from statuschecker.polling.recorder import Recorder
from statuschecker.services.configuration import Configuration
from statuschecker.services.incidents import Incidents
from statuschecker.services.locations import Locations
from statuschecker.services.maintenances import Maintenances
from statuschecker.services.pages import Pages
from statuschecker.services.registry import ServiceRegistry
from statuschecker.services.subscriptions import Subscriptions
from statuschecker.store.engine import create_db_engine
from statuschecker.system.changes import ChangeListener
from statuschecker.system.config import Settings


@dataclass
class Runtime:
    """Everything a running statuschecker holds, built once from settings and a database URL."""

    settings: Settings
    engine: Engine
    cache: StatusCache
    registry: CollectorRegistry
    metrics: WorkMetrics
    services: ServiceRegistry
    accounts: Accounts
    maintenances: Maintenances
    incidents: Incidents
    pages: Pages
    subscriptions: Subscriptions
    configuration: Configuration
    locations: Locations
    pings: PingIntake
    poller: Poller | None
    notifier: Notifier | None
    listener: ChangeListener | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        database_url: str,
        registry: CollectorRegistry | None = None,
        with_poller: bool | None = None,
        listen: bool = False,
    ) -> Runtime:
        """Wire the parts; nothing starts until `start()`. With `listen`, the status cache
        follows the changes other processes announce (what an API process needs).

        `registry` (a fresh one unless given) is what the API's /metrics serves: the
        per-service series, read from the database (where `service_series_served`), and this
        process's work metrics when it polls.
        """
        engine = create_db_engine(database_url, pool_size=settings.db_pool_size)
        cache = StatusCache(settings.cache_max_services, settings.cache_ttl_seconds)
        registry = registry if registry is not None else CollectorRegistry()
        if service_series_served(settings):
            registry.register(ServiceStateCollector(engine))
        polling = settings.poller_enabled if with_poller is None else with_poller
        # Without a poller this process does no checking work: nothing of it to serve.
        metrics = WorkMetrics(registry if polling else CollectorRegistry())
        notifier = Notifier(engine, settings) if polling else None
        recorder = Recorder(
            engine,
            cache,
            metrics,
            alert_defaults(settings),
            global_receivers(settings),
            on_alert=notifier.wake if notifier is not None else None,
            confirmation=settings.confirmation(),
            location_stale_seconds=settings.location_stale_seconds,
        )
        poller = Poller(engine, recorder, metrics, settings) if polling else None
        services = ServiceRegistry(
            engine,
            cache,
            settings,
            alert_defaults(settings),
            poller,
        )
        accounts = Accounts(engine, settings)
        maintenances = Maintenances(engine)
        subscriptions = Subscriptions(
            engine, settings.subscribe_rate_limit, notifier.wake if notifier is not None else None
        )
        locations = Locations(engine, settings.location_stale_seconds)
        registry.register(LocationsCollector(locations))
        registry.register(PublishedCollector(engine))
        listener = (
            ChangeListener(database_url, services.forget_cached, services.forget_all_cached)
            if listen
            else None
        )
        return cls(
            settings,
            engine,
            cache,
            registry,
            metrics,
            services,
            accounts,
            maintenances,
            Incidents(engine, subscriptions),
            Pages(engine),
            subscriptions,
            Configuration(engine, services, maintenances),
            locations,
            PingIntake(recorder, settings.ping_rate_limit, PingMetrics(registry)),
            poller,
            notifier,
            listener,
        )

    def start(self) -> None:
        """Start the change listener, poller and notifier threads, if there are any."""
        if self.listener is not None:
            self.listener.start()
        if self.notifier is not None:
            self.notifier.start()
        if self.poller is not None:
            self.poller.start()

    def close(self) -> None:
        """Stop the poller (writing what it holds), then the notifier, and close the database
        pool; safe to call again."""
        if self.poller is not None:
            self.poller.stop(timeout=self.settings.poller_shutdown_seconds + 10)
        if self.notifier is not None:
            self.notifier.stop(timeout=self.settings.notify_timeout_seconds + 10)
        if self.listener is not None:
            self.listener.stop()
        self.engine.dispose()


def alert_defaults(settings: Settings) -> AlertPolicy:
    """The alert policy a service gets unless it says otherwise."""
    return AlertPolicy(
        window_seconds=settings.alert_window_seconds,
        availability_threshold_percent=settings.alert_availability_threshold_percent,
        min_checks=settings.alert_min_checks,
        max_failures=settings.alert_max_failures,
        failure_window_seconds=settings.alert_failure_window_seconds,
    )


def global_receivers(settings: Settings) -> list[Receiver]:
    """Receivers of every alert, from the settings."""
    return [
        *(Receiver("webhook", url, settings.webhook_secret) for url in settings.webhook_urls),
        *(Receiver("apprise", url) for url in settings.apprise_urls),
    ]
