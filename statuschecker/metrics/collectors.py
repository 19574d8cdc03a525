"""The per-service series, read from the database at scrape time, so however many pollers and
API processes run, each service has exactly one series and a deleted or renamed service's old
series is gone at the next scrape. The API serves them, unless anyone may sign up and no
metrics token is set (`service_series_served`)."""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from statuschecker.model import IMPACTS, STATUSES
from statuschecker.services.locations import Locations
from statuschecker.store import current, deliveries, incidents, slots
from statuschecker.system.config import Settings

log = structlog.get_logger(__name__)

_LABELS = ("service_id", "service_name")


def service_series_served(settings: Settings) -> bool:
    """Whether /metrics serves the per-service series. Their labels name every account's
    services, so not while anyone may sign up and no metrics token keeps strangers out."""
    return settings.metrics_token is not None or settings.signup_policy != "open"


class ServiceStateCollector(Collector):
    """Per-service series from the database, read at each scrape (labels: id and name, never
    the URL). A scrape the database cannot answer logs a warning and shows no service series."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> Iterable[Metric]:
        """The families, without touching the database (used when registering)."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """The families with one sample per service (and result, for the counter)."""
        up, status, response_time, checks, last_ping, late, located = families = self._families()
        try:
            with self._engine.connect() as conn:
                states = current.states(conn)
                confirmed = slots.confirmed(conn)
        except SQLAlchemyError as exc:
            log.warning("metrics.services_unavailable", error=str(exc).splitlines()[0])
            return families
        for state in states:
            labels = [str(state.service_id), state.name]
            if state.up is not None:
                up.add_metric(labels, 1.0 if state.up else 0.0)
            for name in STATUSES:
                status.add_metric([*labels, name], 1.0 if name == state.status else 0.0)
            if state.response_time_ms is not None:
                response_time.add_metric(labels, state.response_time_ms / 1000)
            checks.add_metric([*labels, "up"], state.up_count)
            checks.add_metric([*labels, "down"], state.down_count)
            if state.last_ping_at is not None:
                last_ping.add_metric(labels, state.last_ping_at.timestamp())
            if state.late_at is not None:
                late.add_metric(labels, state.late_at.timestamp())
        for service_id, service_name, location, kind in confirmed:
            value = 1.0 if kind == "uptime" else 0.0
            located.add_metric([str(service_id), service_name, location], value)
        return families

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        CounterMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
    ]:
        return (
            GaugeMetricFamily(
                "statuschecker_service_up",
                "1 while the service is confirmed up, 0 while confirmed down",
                labels=_LABELS,
            ),
            GaugeMetricFamily(
                "statuschecker_service_status",
                "1 for the service's status now, 0 for the others",
                labels=(*_LABELS, "status"),
            ),
            GaugeMetricFamily(
                "statuschecker_service_response_time_seconds",
                "Response time of the service's last check",
                labels=_LABELS,
            ),
            CounterMetricFamily(
                "statuschecker_service_checks",
                "Checks recorded for the service, by result",
                labels=(*_LABELS, "result"),
            ),
            GaugeMetricFamily(
                "statuschecker_heartbeat_last_ping_timestamp_seconds",
                "When the heartbeat's last run finished (its last success or failure ping)",
                labels=_LABELS,
            ),
            GaugeMetricFamily(
                "statuschecker_heartbeat_late_timestamp_seconds",
                "When the heartbeat is late without a ping (absent while paused)",
                labels=_LABELS,
            ),
            GaugeMetricFamily(
                "statuschecker_service_location_up",
                "1 while the service is confirmed up from the location, 0 while confirmed down "
                "(services checked from named locations)",
                labels=(*_LABELS, "location"),
            ),
        )


class _ReadAtScrape(Collector):
    """Gauge families filled from the database at each scrape; a scrape the database cannot
    answer logs a warning (`unavailable`) and shows the families without samples."""

    unavailable: str

    def describe(self) -> Iterable[Metric]:
        """The families, without touching the database (used when registering)."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """The families with their samples."""
        families = self._families()
        try:
            self._fill(*families)
        except SQLAlchemyError as exc:
            log.warning(self.unavailable, error=str(exc).splitlines()[0])
            return self._families()
        return families

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        raise NotImplementedError

    def _fill(self, *families: GaugeMetricFamily) -> None:
        raise NotImplementedError


class LocationsCollector(_ReadAtScrape):
    """Each location's health from the pollers' reports, read at each scrape (label: the
    location's name, which names no account's service)."""

    unavailable = "metrics.locations_unavailable"

    def __init__(self, locations: Locations) -> None:
        self._locations = locations

    def _fill(self, *families: GaugeMetricFamily) -> None:
        live, pollers = families
        for location in self._locations.all():
            live.add_metric([location.name], 1.0 if location.status == "live" else 0.0)
            pollers.add_metric([location.name], len(location.live_owners))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "statuschecker_location_live",
                "1 while one of the location's pollers reports, 0 when the location is stale",
                labels=["location"],
            ),
            GaugeMetricFamily(
                "statuschecker_location_pollers",
                "pollers of the location that report",
                labels=["location"],
            ),
        )


class PublishedCollector(_ReadAtScrape):
    """What the status pages publish, read at each scrape: the written incidents going on by
    impact, and the deliveries to the pages' subscribers waiting or given up."""

    unavailable = "metrics.published_unavailable"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _fill(self, *families: GaugeMetricFamily) -> None:
        going_on, outbox = families
        with self._engine.connect() as conn:
            by_impact = incidents.open_by_impact(conn)
            by_status = deliveries.page_outbox(conn)
        for impact in IMPACTS:
            going_on.add_metric([impact], by_impact.get(impact, 0))
        for status in ("pending", "failed"):
            outbox.add_metric([status], by_status.get(status, 0))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "statuschecker_incidents_open",
                "written incidents not resolved, by impact",
                labels=["impact"],
            ),
            GaugeMetricFamily(
                "statuschecker_page_deliveries",
                "deliveries to status pages' subscribers waiting (pending) or given up (failed)",
                labels=["status"],
            ),
        )
