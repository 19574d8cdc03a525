"""Wiring: one place builds the engine, cache, collectors, recorder, poller and service layer."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from statuschecker.cache import StatusCache
from statuschecker.config import Settings
from statuschecker.metrics import Metrics
from statuschecker.poller import Poller
from statuschecker.recorder import Recorder
from statuschecker.service import ServiceRegistry
from statuschecker.store.engine import create_db_engine


@dataclass
class Runtime:
    """Everything a running statuschecker holds, built once from settings and a database URL."""

    settings: Settings
    engine: Engine
    cache: StatusCache
    metrics: Metrics
    services: ServiceRegistry
    poller: Poller | None

    @classmethod
    def build(
        cls,
        settings: Settings,
        database_url: str,
        registry: CollectorRegistry | None = None,
        with_poller: bool | None = None,
    ) -> Runtime:
        """Wire the parts; nothing starts until `start()`."""
        engine = create_db_engine(database_url, pool_size=settings.db_pool_size)
        cache = StatusCache(settings.cache_max_services, settings.cache_ttl_seconds)
        metrics = Metrics(registry if registry is not None else CollectorRegistry())
        poller = None
        if settings.poller_enabled if with_poller is None else with_poller:
            poller = Poller(engine, Recorder(engine, cache, metrics), metrics, settings)
        services = ServiceRegistry(
            engine, cache, metrics, settings, poller.alive if poller is not None else None
        )
        return cls(settings, engine, cache, metrics, services, poller)

    def start(self) -> None:
        """Start the poller thread, if there is one."""
        if self.poller is not None:
            self.poller.start()

    def close(self) -> None:
        """Stop the poller (writing what it holds) and close the database pool; safe to call
        again."""
        if self.poller is not None:
            self.poller.stop(timeout=self.settings.poller_shutdown_seconds + 10)
        self.engine.dispose()
