"""The status pages' Atom feed as feed readers see it (parsed by feedparser): the page's
title and link, an entry per incident and maintenance window, the newest change first, stable
ids, and text XML cannot hold left out. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser

from statuschecker.model import IncidentUpdate, Reported
from statuschecker.services.maintenances import Upcoming
from web.feed import atom

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
PAGE = "https://status.example/status/shop"


def test_incidents_and_maintenance_newest_change_first() -> None:
    written = Reported(
        source="written",
        id=3,
        title="Payments \x01failing",
        impact="major",
        status="identified",
        started_at=NOW - timedelta(hours=2),
        resolved_at=None,
        updated_at=NOW - timedelta(minutes=5),
        services=((1, "payments"),),
        updates=(
            IncidentUpdate(
                2, "identified", "Expired <certificate> & more", NOW - timedelta(minutes=5)
            ),
            IncidentUpdate(1, "investigating", "Looking.", NOW - timedelta(hours=2)),
        ),
    )
    automatic = Reported(
        source="automatic",
        id=9,
        title="shop down",
        impact=None,
        status=None,
        started_at=NOW - timedelta(days=1),
        resolved_at=NOW - timedelta(days=1) + timedelta(minutes=3),
        updated_at=NOW - timedelta(days=1) + timedelta(minutes=3),
        services=((2, "shop"),),
        description="connection refused",
    )
    window = Upcoming(
        5,
        "Upgrade",
        False,
        NOW + timedelta(days=1),
        NOW + timedelta(days=1, hours=1),
        [(2, "shop")],
        NOW - timedelta(hours=1),
    )
    feed = feedparser.parse(atom("Shop status", PAGE, [written, automatic], [window], NOW))
    assert not feed.bozo, feed.bozo_exception
    assert (feed.feed.title, feed.feed.link, feed.feed.id) == ("Shop status", PAGE, PAGE)
    assert [e.title for e in feed.entries] == [
        "[Identified] Payments failing",
        "[Scheduled maintenance] Upgrade",
        "[Resolved] shop down",
    ]
    first, maintenance, down = feed.entries
    assert first.id == f"{PAGE}/history#written-3"
    assert "Identified (2026-12-07T11:55:00Z): Expired <certificate> & more" in first.summary
    assert first.summary.index("Identified") < first.summary.index("Investigating")
    assert maintenance.id == f"{PAGE}#maintenance-5-{int(window.starts_at.timestamp())}"
    assert "From 2026-12-08T12:00:00Z to 2026-12-08T13:00:00Z." in maintenance.summary
    assert "connection refused" in down.summary and "Back up at" in down.summary
    assert feed.feed.updated == "2026-12-07T11:55:00Z"


def test_a_feed_without_entries_is_updated_now() -> None:
    feed = feedparser.parse(atom("Status", "https://status.example/", [], [], NOW))
    assert not feed.bozo
    assert feed.entries == []
    assert feed.feed.updated == "2026-12-07T12:00:00Z"
