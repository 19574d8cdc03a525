"""End to end through the client generated from openapispec.yaml (`make client`), against the
running service: if spec and server drift apart, these calls stop parsing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from targets import Target
from waiting import wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))
generated = pytest.importorskip(
    "statuschecker_client", reason="generate the client first: `make client` (make test does)"
)

from statuschecker_client.api.health import get_health  # noqa: E402
from statuschecker_client.api.history import list_events, list_ticks  # noqa: E402
from statuschecker_client.api.services import (  # noqa: E402
    delete_service,
    get_service,
    list_services,
    register,
    update_service,
)
from statuschecker_client.models import (  # noqa: E402
    ListServicesStatus,
    Problem,
    Service,
    ServiceCreate,
    ServicePatch,
    ServiceStatus,
)


def test_a_service_through_its_whole_life(live_server: str) -> None:
    client: Any = generated.Client(base_url=f"{live_server}/v1", raise_on_unexpected_status=True)
    with Target("up") as target:
        created = register.sync(
            client=client,
            body=ServiceCreate(name="e2e", url=target.url, interval_seconds=1, timeout_seconds=0.5),
        )
        assert isinstance(created, Service) and created.status == ServiceStatus.UNKNOWN

        up = wait_until(
            lambda: (
                (s := get_service.sync(created.id, client=client)).status == ServiceStatus.UP and s
            )
        )
        assert up.latest_event is not None and up.latest_event.date_ended is None
        assert up.metric.tick_count >= 1 and up.metric.uptime_percent == 100

        target.set_mode("down")
        wait_until(lambda: get_service.sync(created.id, client=client).status == ServiceStatus.DOWN)

    events = list_events.sync(created.id, client=client)
    assert [e.event.value for e in events.data][:2] == ["downtime", "uptime"]
    since = datetime.now(UTC) - timedelta(minutes=5)
    newest = list_ticks.sync(created.id, client=client, since=since, limit=1)
    assert len(newest.data) == 1 and newest.next_cursor
    assert newest.data[0].up is False and newest.data[0].status_code == 503
    older = list_ticks.sync(created.id, client=client, cursor=newest.next_cursor, limit=500)
    assert older.data and older.data[0].checked_at < newest.data[0].checked_at
    assert older.data[-1].up is True

    paused = update_service.sync(created.id, client=client, body=ServicePatch(paused=True))
    assert isinstance(paused, Service) and paused.paused
    listed = list_services.sync(client=client, status=ListServicesStatus.DOWN)
    assert [s.name for s in listed.data] == ["e2e"]
    assert get_health.sync(client=client).status.value == "ok"

    duplicate = register.sync(client=client, body=ServiceCreate(name="e2e", url="http://x.test/"))
    assert isinstance(duplicate, Problem) and duplicate.status == 409
    assert delete_service.sync_detailed(created.id, client=client).status_code == 204
    missing = get_service.sync(created.id, client=client)
    assert isinstance(missing, Problem) and missing.status == 404
