"""The checks of a service from its named locations, as the recorder's transaction takes them:
each outcome confirms (or not) a state at its location, by the period rules with the service's
confirmation, and the service's state at that moment is the quorum's verdict over its locations
(`rules.quorum`; a stale location counts for neither side). Each verdict becomes the outcome the
service's own rules see: confirmed already, so it confirms at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Connection

from statuschecker.model import CheckOutcome, CheckResult, Confirmation
from statuschecker.rules import locations as location_rules
from statuschecker.rules import periods
from statuschecker.rules.quorum import Verdict, Vote, verdict
from statuschecker.store import pollers, slots
from statuschecker.store.results import Locked
from statuschecker.store.slots import Slot


def by_quorum(
    conn: Connection,
    locked: Mapping[int, Locked],
    outcomes: list[CheckOutcome],
    confirmation: Callable[[int], Confirmation],
    stale_after: timedelta,
) -> list[CheckOutcome]:
    """`outcomes` (stored, in time order) as the service-level rules take them: those of
    services checked from anywhere as they are; those of a service checked from named
    locations replaced by the verdicts they lead to (none while no live location has
    confirmed anything), their slots' states and the failing locations stored; a slot
    failing unconfirmed is checked again after the retry interval, as a service is."""
    named = {o.service_id for o in outcomes if locked[o.service_id].locations}
    if not named:
        return outcomes
    held = slots.states(conn, named)
    live = location_rules.live(*pollers.sightings(conn), stale_after)
    changed: dict[tuple[int, str], Slot] = {}
    verdicts: dict[int, Verdict] = {}
    judged: list[CheckOutcome] = []
    for outcome in outcomes:
        sid = outcome.service_id
        if sid not in named:
            judged.append(outcome)
            continue
        found = held.get(sid, {})
        slot = found.get(outcome.location)
        if slot is None:  # a location no longer named (changed meanwhile): not counted
            continue
        slot = _confirmed(slot, outcome, confirmation(sid))
        found[outcome.location] = changed[(sid, outcome.location)] = slot
        decided = verdict(
            (
                Vote(s.state.location, s.state.confirmed, s.state.location in live)
                for s in found.values()
            ),
            locked[sid].quorum,
        )
        verdicts[sid] = decided
        if decided.state is not None:
            judged.append(_as_outcome(outcome, decided))
    slots.write(conn, list(changed.values()))
    slots.write_verdicts(conn, verdicts)
    slots.retry(
        conn,
        {
            key: slot.state.last_checked_at
            + timedelta(seconds=confirmation(key[0]).retry_interval_seconds)
            for key, slot in changed.items()
            if slot.run is not None
            and slot.run.kind == "downtime"
            and slot.state.last_checked_at is not None
        },
    )
    return judged


def at_once(confirmation: Confirmation) -> Confirmation:
    """The service-level confirmation of a service decided by quorum: its locations have
    confirmed each verdict already, so it confirms at once."""
    return replace(confirmation, down_after=1, up_after=1)


def _confirmed(slot: Slot, outcome: CheckOutcome, confirmation: Confirmation) -> Slot:
    """The slot after `outcome`: its run and confirmed state by the period rules, its newest
    result."""
    state = slot.state
    period = (
        periods.OpenPeriod(0, state.confirmed, state.confirmed_at or outcome.checked_at)
        if state.confirmed
        else None
    )
    decided = periods.transitions(
        {0: periods.ServiceState(period, slot.run, confirmation)},
        [replace(outcome, service_id=0)],
    )
    result = outcome.result
    confirmed, confirmed_at = state.confirmed, state.confirmed_at
    for begun in decided.begun:
        confirmed, confirmed_at = begun.kind, begun.started
    new_state = replace(
        state,
        confirmed=confirmed,
        confirmed_at=confirmed_at,
        last_checked_at=outcome.checked_at,
        last_up=result.up,
        last_error=result.error,
        last_response_time_ms=result.response_time_ms,
    )
    return Slot(slot.service_id, new_state, decided.runs.get(0))


def _as_outcome(outcome: CheckOutcome, decided: Verdict) -> CheckOutcome:
    """The verdict as the outcome the service's rules see, at the check that led to it."""
    if decided.state == "downtime":
        where = ", ".join(decided.failing)
        error = f"down from {where} (quorum {decided.quorum})"
        return replace(outcome, result=CheckResult(up=False, error=error))
    return replace(outcome, result=CheckResult(up=True))
