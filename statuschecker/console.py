"""`statuschecker dashboard`: the caller's services with their last 10 minutes and last hour,
and the alert feed, drawn live in a terminal with rich from the REST API."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

Json = dict[str, Any]

SHORT_WINDOW = 600
LONG_WINDOW = 3600
WINDOW_TITLES = {SHORT_WINDOW: "last 10 min", LONG_WINDOW: "last hour"}
ALERTS_SHOWN = 10
REFUSED_TOKEN = "the token was refused (expired or revoked): log in again"
STATUS_STYLES = {
    "up": "bold green",
    "down": "bold red",
    "pending": "bold dark_orange",
    "degraded": "bold yellow",
    "maintenance": "bold blue",
    "unknown": "dim",
    "paused": "dim",
}


class ApiError(Exception):
    """The API could not be asked or would not answer; the text says why, for a person."""


class ApiClient:
    """The reads the dashboard makes of a statuschecker API, each sent with the bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.url}/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def services(self, page_size: int = 500) -> list[Json]:
        """Every service the token's account sees, in registration order (all pages)."""
        services: list[Json] = []
        cursor = None
        while True:
            params: Json = {"limit": page_size} | ({"cursor": cursor} if cursor else {})
            page = self._get("/services", params)
            services += page["data"]
            cursor = page["next_cursor"]
            if not cursor:
                return services

    def stats(self, service_id: int, window_seconds: int) -> Json:
        """The service's statistics over the last `window_seconds`."""
        return self._get(f"/services/{service_id}/stats", {"window_seconds": window_seconds})

    def alerts(self, limit: int = ALERTS_SHOWN) -> list[Json]:
        """The newest alerts of the account's services, newest first."""
        data: list[Json] = self._get("/alerts", {"limit": limit})["data"]
        return data

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _get(self, path: str, params: Json) -> Json:
        """The JSON body of a successful GET; ApiError with the reason otherwise."""
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {self.url}: {_reason(exc)}") from exc
        if response.status_code == 401:
            raise ApiError(REFUSED_TOKEN)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error or not isinstance(body, dict):
            detail = body.get("detail") if isinstance(body, dict) else None
            shown = detail or response.reason_phrase or "not a statuschecker API"
            raise ApiError(f"{self.url} answered {response.status_code}: {shown}")
        return body


def _reason(exc: httpx.TransportError) -> str:
    """`connection refused` out of `[Errno 111] Connection refused`, and the like."""
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc)) or type(exc).__name__
    return text[0].lower() + text[1:]


@dataclass
class Board:
    """What the dashboard shows: the latest figures fetched and the latest failure, if any."""

    url: str
    services: list[Json] = field(default_factory=list)
    stats: dict[int, dict[int, Json]] = field(default_factory=dict)
    """Per window (seconds), per service id: the Stats the API answered."""
    alerts: list[Json] = field(default_factory=list)
    error: str | None = None
    updated_at: datetime | None = None

    def refresh(self, client: ApiClient, due: Collection[int]) -> None:
        """Fetch the services, the alert feed and the statistics of the windows `due`.

        Windows not due keep their figures, but a service seen for the first time gets them
        all. When a request fails, every figure shown stays as it was and `error` says why;
        the next successful refresh clears it.
        """
        try:
            services = client.services()
            stats = {}
            for window in (SHORT_WINDOW, LONG_WINDOW):
                kept = {} if window in due else self.stats.get(window, {})
                stats[window] = {
                    s["id"]: kept.get(s["id"]) or client.stats(s["id"], window) for s in services
                }
            alerts = client.alerts()
        except ApiError as failed:
            self.error = str(failed)
            return
        self.services, self.stats, self.alerts = services, stats, alerts
        self.error = None
        self.updated_at = datetime.now().astimezone()


def render(board: Board) -> RenderableType:
    """The board as rich draws it: a header, the failure if any (in red), the services with
    both windows side by side (a service that is down in red), and the alert feed."""
    updated = _local(board.updated_at) if board.updated_at else "not yet"
    parts: list[RenderableType] = [
        Text.assemble(("statuschecker ", "bold"), board.url, f"  updated {updated}", style="dim")
    ]
    if board.error:
        parts.append(Text(board.error, style="bold red"))
    parts.append(_services_table(board))
    if board.updated_at and not board.services:
        parts.append(Text("no services yet: register one with POST /v1/services", style="dim"))
    parts.append(_alerts_table(board.alerts))
    return Group(*parts)


def _services_table(board: Board) -> Table:
    table = Table(title="services", title_justify="left", expand=True, show_lines=True)
    table.add_column("service", ratio=1, min_width=8, overflow="fold")
    table.add_column("status", no_wrap=True)
    for window in (SHORT_WINDOW, LONG_WINDOW):
        table.add_column(f"{WINDOW_TITLES[window]} (times: avg / max)", ratio=2)
    for service in board.services:
        status = Text(service["status"], style=STATUS_STYLES.get(service["status"], ""))
        if service["paused"]:
            status.append(" (paused)", style="dim")
        windows = [
            _window_figures(board.stats.get(window, {}).get(service["id"]))
            for window in (SHORT_WINDOW, LONG_WINDOW)
        ]
        down = service["status"] == "down"
        table.add_row(Text(service["name"]), status, *windows, style="red" if down else None)
    return table


def _window_figures(stats: Json | None) -> Text:
    """Availability, response time, time to first byte and status codes of one window."""
    if stats is None:
        return Text("…")
    availability = stats["availability_percent"]
    shown = "-" if availability is None else f"{availability:.1f} %"
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(stats["status_codes"].items()))
    return Text(
        "\n".join(
            [
                f"{shown} available, {stats['checks']} checks",
                f"response {_avg_max(stats['response_time_ms'])}",
                f"TTFB {_avg_max(stats['ttfb_ms'])}",
                f"codes {codes or '-'}",
            ]
        )
    )


def _avg_max(figures: Json) -> str:
    if figures["avg"] is None:
        return "-"
    return f"{figures['avg']:.1f} / {figures['max']:.1f} ms"


def _alerts_table(alerts: list[Json]) -> Table:
    table = Table(title="alerts, newest first", title_justify="left", expand=True)
    table.add_column("time", no_wrap=True)
    table.add_column("service", ratio=1, overflow="fold")
    table.add_column("alert", no_wrap=True)
    table.add_column("message", ratio=3)
    for alert in alerts:
        kind = Text(alert["kind"], style="bold red" if alert["kind"] == "down" else "green")
        at = _local(datetime.fromisoformat(alert["time"]))
        table.add_row(at, Text(alert["service_name"]), kind, Text(alert["message"]))
    if not alerts:
        table.add_row("", Text("no alerts", style="dim"), "", "")
    return table


def _local(moment: datetime) -> str:
    """A time in the local time zone, as `2024-05-01 14:03:07 CEST`."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def run(
    client: ApiClient,
    console: Console | None = None,
    short_seconds: float = 10.0,
    long_seconds: float = 60.0,
    max_frames: int | None = None,
) -> int:
    """Draw the board live until Ctrl-C (or `max_frames` redraws); 0 when stopped.

    1. Every `short_seconds`, fetch the services, their last 10 minutes and the alert feed;
       every `long_seconds` their last hour as well; then redraw.
    2. A failure is shown in the view and the next turn tries again.
    3. Ctrl-C leaves the live view, which restores the terminal, and returns 0.

    On a terminal the board takes the alternate screen, as `top` does; elsewhere (a pipe, a
    file) only the last frame is written, when the loop stops.
    """
    console = console or Console()
    board = Board(client.url)
    try:
        with Live(console=console, auto_refresh=False, screen=console.is_terminal) as live:
            start = next_long = time.monotonic()
            for frame in itertools.count(1):
                due = {SHORT_WINDOW}
                if time.monotonic() >= next_long:
                    due.add(LONG_WINDOW)
                    next_long = _next_turn(start, long_seconds)
                board.refresh(client, due)
                live.update(render(board), refresh=True)
                if frame == max_frames:
                    break
                time.sleep(max(0.0, _next_turn(start, short_seconds) - time.monotonic()))
    except KeyboardInterrupt:
        pass
    return 0


def _next_turn(start: float, period: float) -> float:
    """The first time after now that is a whole number of periods after `start`: turns keep
    to the clock, and a turn that overran skips the turns it missed."""
    return start + period * (1 + (time.monotonic() - start) // period)
