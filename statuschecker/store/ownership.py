"""Who may see and change what an account owns besides services (maintenance windows,
incidents, status pages)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, true

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
