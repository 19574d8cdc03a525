"""The status pages' Atom feed (RFC 4287): the incidents of the last 90 days, written and
automatic, and the maintenance going on or planned, of the public services a page shows, so
that readers can follow them in any feed reader. Served at /feed.atom and
/status/{slug}/feed.atom, without a token (public services only)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from statuschecker.model import Reported
from statuschecker.services.maintenances import Upcoming
from statuschecker.timefmt import rfc3339

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 50
"""The most incidents a feed holds (the newest)."""
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot hold (control characters, lone surrogates): left out."""
STATUS_WORDS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text is not None:
        element.text = _NOT_XML.sub("", text)
    return element


def _services(incident: Reported | Upcoming) -> str:
    return ", ".join(name for _, name in incident.services)


def _incident_text(incident: Reported) -> str:
    """What the entry says: the services, then each update (newest first) or the reason."""
    lines = [f"Affects: {_services(incident)}"]
    if incident.source == "automatic":
        lines.append(f"Down since {rfc3339(incident.started_at)}: {incident.description or 'down'}")
        if incident.resolved_at is not None:
            lines.append(f"Back up at {rfc3339(incident.resolved_at)}.")
    for update in incident.updates:
        lines.append(
            f"{STATUS_WORDS[update.status]} ({rfc3339(update.created_at)}): {update.message}"
        )
    return "\n\n".join(lines)


def _incident_title(incident: Reported) -> str:
    if incident.source == "written":
        return f"[{STATUS_WORDS[incident.status or 'investigating']}] {incident.title}"
    return f"[{'Resolved' if incident.resolved_at else 'Ongoing'}] {incident.title}"


def _window_title(window: Upcoming) -> str:
    state = "Maintenance in progress" if window.active else "Scheduled maintenance"
    return f"[{state}] {window.title}"


def atom(
    title: str,
    page_url: str,
    incidents: Sequence[Reported],
    windows: Sequence[Upcoming],
    now: datetime,
) -> bytes:
    """The feed of a status page at `page_url`: one entry per incident (its id stable, its
    `updated` its last change) and per maintenance window, newest first, as UTF-8 XML."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    changed = [i.updated_at for i in incidents] + [w.updated_at for w in windows]
    _add(feed, "id", page_url)
    _add(feed, "title", title)
    _add(feed, "updated", rfc3339(max(changed, default=now)))
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    _add(
        feed,
        "link",
        rel="self",
        type="application/atom+xml",
        href=f"{page_url.rstrip('/')}/feed.atom",
    )
    _add(_add(feed, "author"), "name", title)
    history = f"{page_url.rstrip('/')}/history"
    entries = [(i.updated_at, _incident_entry(i, history)) for i in incidents] + [
        (w.updated_at, _window_entry(w, page_url)) for w in windows
    ]
    for _, entry in sorted(entries, key=lambda e: e[0], reverse=True):
        feed.append(entry)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _incident_entry(incident: Reported, history: str) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _add(entry, "id", f"{history}#{incident.source}-{incident.id}")
    _add(entry, "title", _incident_title(incident))
    _add(entry, "published", rfc3339(incident.started_at))
    _add(entry, "updated", rfc3339(incident.updated_at))
    _add(
        entry,
        "link",
        rel="alternate",
        type="text/html",
        href=f"{history}#{incident.source}-{incident.id}",
    )
    _add(entry, "content", _incident_text(incident), type="text")
    return entry


def _window_entry(window: Upcoming, page_url: str) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _add(entry, "id", f"{page_url}#maintenance-{window.id}-{int(window.starts_at.timestamp())}")
    _add(entry, "title", _window_title(window))
    _add(entry, "updated", rfc3339(window.updated_at))
    _add(entry, "link", rel="alternate", type="text/html", href=page_url)
    when = f"From {rfc3339(window.starts_at)} to {rfc3339(window.ends_at)}."
    _add(entry, "content", f"{when}\n\nAffects: {_services(window)}", type="text")
    return entry
