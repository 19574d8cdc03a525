"""Readers' webhook subscriptions to status pages: subscribing (anybody, a few times an hour
per address), ending one with its token, the page's account listing and ending them, and
announcing a page's incidents to its subscribers through the outbox the notifier works off."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from statuschecker.accounts.ratelimit import AttemptLimiter
from statuschecker.errors import Conflict, NotFound
from statuschecker.model import Page, Reported, Visibility
from statuschecker.services.incident_json import incident_fields
from statuschecker.store import pages as page_store
from statuschecker.store import subscriptions as store

MAX_PER_PAGE = 10_000
"""The most subscriptions a page takes."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A new subscription with the token that ends it (shown once, kept only as its hash)."""

    id: int
    slug: str
    url: str
    signed: bool
    created_at: datetime
    token: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Subscriptions:
    """Operations on status pages' subscriptions, as the API offers them."""

    def __init__(
        self, engine: Engine, rate_limit: str, wake: Callable[[], None] | None = None
    ) -> None:
        self._engine = engine
        self._attempts = AttemptLimiter(rate_limit)
        self._wake = wake

    def subscribe(self, slug: str, url: str, secret: str | None, client: str) -> Subscribed:
        """Subscribe `url` to the page at `slug`; TooManyRequests past the rate limit for
        `client`, NotFound without the page, Conflict once it has MAX_PER_PAGE."""
        self._attempts.attempt("subscribe", address=client)
        token = secrets.token_urlsafe(24)
        with self._engine.begin() as conn:
            page = page_store.get(conn, slug)
            if store.count(conn, page.id) >= MAX_PER_PAGE:
                raise Conflict(f"the page has {MAX_PER_PAGE} subscriptions, the most")
            sid, created_at = store.create(conn, page.id, url, secret, _hash(token))
        return Subscribed(sid, slug, url, secret is not None, created_at, token)

    def cancel(self, token: str) -> None:
        """End the subscription `token` was given for; NotFound when none is."""
        with self._engine.begin() as conn:
            if not store.remove_by_token(conn, _hash(token)):
                raise NotFound("no subscription holds this token (ended already?)")

    def page(
        self, slug: str, visibility: Visibility, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Any]:
        """The subscriptions of a page of `visibility`, in id order."""
        with self._engine.connect() as conn:
            page = page_store.get(conn, slug, visibility)
            return store.list_page(conn, page.id, limit=limit, after=cursor)

    def remove(self, slug: str, subscription_id: int, visibility: Visibility) -> None:
        """End a subscription of a page of `visibility`."""
        with self._engine.begin() as conn:
            page = page_store.get(conn, slug, visibility)
            if not store.remove(conn, page.id, subscription_id):
                raise NotFound(f"no subscription {subscription_id} to /status/{slug}")

    def announce(self, conn: Connection, event: str, incident: Reported) -> int:
        """Put `event` (`incident.created`, `incident.updated`) of a written incident in the
        outbox of every subscriber of the pages showing one of its public services, each told
        of those services only; how many deliveries (`wake` the notifier once committed)."""
        queued = 0
        for page, shown in store.showing(conn, (sid for sid, _ in incident.services)):
            told = [(sid, name) for sid, name in incident.services if sid in shown]
            payload = {
                "event": event,
                "page": {"slug": page.slug, "title": page.title},
                "incident": incident_fields(incident, told),
            }
            queued += store.enqueue(conn, page.id, event, payload)
        return queued

    def wake(self) -> None:
        """Have the notifier look for deliveries now, when there is one in this process."""
        if self._wake is not None:
            self._wake()
