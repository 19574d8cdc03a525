"""Who may see and change what an account owns besides services (maintenance windows,
incidents, status pages)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Table, delete, false, true

from statuschecker.errors import NotFound
from statuschecker.model import Visibility


def owned_within(owner: ColumnElement, visibility: Visibility) -> ColumnElement[bool]:
    """The condition that keeps a query to the rows (`owner` their owner column) `visibility`
    may see and change: an account's own, every one for an admin, none without credentials
    (the status pages show such things through the public services they concern instead)."""
    if visibility.public_only:
        return false()
    if visibility.owner_id is not None:
        return owner == visibility.owner_id
    return true()


def remove_owned(
    conn: Connection, table: Table, which: ColumnElement[bool], visibility: Visibility, missing: str
) -> None:
    """Delete the row of `table` that `which` picks, if `visibility` admits it; NotFound saying
    `missing` when there is none."""
    statement = (
        delete(table).where(which, owned_within(table.c.owner_id, visibility)).returning(table.c.id)
    )
    if conn.execute(statement).first() is None:
        raise NotFound(missing)
