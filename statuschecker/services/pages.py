"""The service layer of status pages besides `/`: each at /status/{slug}, made and changed by
the account that owns it, read by anybody."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from statuschecker.errors import InvalidInput
from statuschecker.model import Caller, Page, StatusPage, Visibility
from statuschecker.store import pages as store
from statuschecker.store import services as service_store

FIELDS = ("title", "description", "logo", "link", "service_ids")


class Pages:
    """Operations on status pages. An account sees and changes its own (another's answer
    NotFound); admins, all; anybody reads a page through `public`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, caller: Caller, fields: Mapping[str, Any]) -> StatusPage:
        """Make a page of `caller`'s account from the contract's StatusPageCreate fields;
        Conflict when the slug is taken, InvalidInput when a service is not the account's
        public one."""
        values = {name: fields[name] for name in FIELDS if name in fields}
        values["service_ids"] = list(dict.fromkeys(values.get("service_ids", [])))
        with self._engine.begin() as conn:
            _shown(conn, caller.user_id, values["service_ids"])
            return store.create(
                conn, {**values, "slug": fields["slug"], "owner_id": caller.user_id}
            )

    def update(self, slug: str, changes: Mapping[str, Any], visibility: Visibility) -> StatusPage:
        """Change a page of `visibility`: the fields given replace the stored ones (null
        removes the logo or the link)."""
        with self._engine.begin() as conn:
            current = store.get(conn, slug, visibility)
            values = dict(changes)
            if "service_ids" in values:
                values["service_ids"] = list(dict.fromkeys(values["service_ids"]))
                _shown(conn, current.owner_id, values["service_ids"])
            return store.change(conn, current.id, values) if values else current

    def delete(self, slug: str, visibility: Visibility) -> None:
        """Delete a page of `visibility`."""
        with self._engine.begin() as conn:
            store.remove(conn, slug, visibility)

    def get(self, slug: str, visibility: Visibility) -> StatusPage:
        """One page of `visibility`; NotFound for another account's."""
        with self._engine.connect() as conn:
            return store.get(conn, slug, visibility)

    def page(
        self, visibility: Visibility, *, limit: int = 50, cursor: str | None = None
    ) -> Page[StatusPage]:
        """Pages of `visibility` in creation order, `limit` at a time."""
        with self._engine.connect() as conn:
            return store.list_page(conn, limit=limit, after=cursor, visibility=visibility)

    def public(self, slug: str) -> StatusPage:
        """The page at /status/{slug}, for anybody; NotFound when there is none."""
        return self.get(slug, store.EVERYTHING)


def _shown(conn: Connection, owner_id: int | None, service_ids: list[int]) -> None:
    """InvalidInput unless every one of `service_ids` is a public service of the account."""
    service_store.require_owned(conn, owner_id, service_ids)
    hidden = sorted(set(service_ids) - set(service_store.public_ids(conn, service_ids)))
    if hidden:
        raise InvalidInput(
            f"service {', '.join(map(str, hidden))} is not public: a status page shows public "
            "services only (set public: true on it first)"
        )
