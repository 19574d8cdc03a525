"""Handlers of the badges: small SVG images of a service's status and uptime, in the usual
two-part look (grey label, coloured message), for READMEs and wikis."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from web import serialize
from web.context import services, visible_on_status

GREEN, YELLOW, ORANGE, RED, GREY = "#4c1", "#dfb317", "#fe7d37", "#e05d44", "#9f9f9f"
BLUE = "#007ec6"
STATUS_COLOURS = {
    "up": GREEN,
    "down": RED,
    "pending": ORANGE,
    "degraded": YELLOW,
    "maintenance": BLUE,
    "unknown": GREY,
    "paused": GREY,
}
# Uptime at or above each bound gets its colour; below the last, red.
UPTIME_COLOURS = ((99.9, GREEN), (99.0, "#97ca00"), (95.0, YELLOW), (90.0, ORANGE))
CHAR_WIDTH = 7  # px per character of 11 px Verdana, near enough for short texts
PADDING = 10
HEADERS = {"Content-Type": "image/svg+xml", "Cache-Control": "max-age=60"}


def get_status_badge(service_id: int) -> tuple:
    """GET /services/{service_id}/badge/status.svg"""
    service = services().get(service_id, visible_on_status())
    return svg(service.name, service.status, STATUS_COLOURS[service.status]), 200, HEADERS


def get_uptime_badge(service_id: int, window: str = "30d") -> tuple:
    """GET /services/{service_id}/badge/uptime.svg"""
    service = services().get(service_id, visible_on_status())
    percent = serialize.uptime(service.uptime)[window]
    if percent is None:
        return svg(f"uptime {window}", "no data", GREY), 200, HEADERS
    colour = next((c for bound, c in UPTIME_COLOURS if percent >= bound), RED)
    return svg(f"uptime {window}", f"{_percent(percent)}%", colour), 200, HEADERS


def svg(label: str, message: str, colour: str) -> str:
    """A two-part badge: `label` on grey, `message` on `colour`."""
    left = len(label) * CHAR_WIDTH + PADDING
    right = len(message) * CHAR_WIDTH + PADDING
    width = left + right
    label, message = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {message}"><title>{label}: {message}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="14">{message}</text></g></svg>'
    )


def _percent(value: float) -> str:
    """Cut (not rounded, so that 99.999 never shows as 100) to two decimals, without trailing
    zeros: 99.95, 99.9, 100."""
    return f"{math.floor(value * 100) / 100:.2f}".rstrip("0").rstrip(".")
