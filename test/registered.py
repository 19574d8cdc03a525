"""A service registered through the API with a poller running, and checked until it is up: the
end-to-end test each kind of check has."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from waiting import wait_until

from web.app import create_app


def checked_up(
    make_runtime: Callable[..., Any], account: Any, body: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Register `body`, wait until the poller finds it up; the service as created and its
    ticks (newest first)."""
    with create_app(make_runtime(with_poller=True)).test_client(headers=account.headers) as client:
        created = client.post("/v1/services", json={"interval_seconds": 1, **body})
        assert created.status_code == 201, created.text
        path = f"/v1/services/{created.json()['id']}"
        wait_until(lambda: client.get(path).json()["status"] == "up", timeout=15)
        return created.json(), client.get(f"{path}/ticks").json()["data"]
