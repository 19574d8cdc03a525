"""A heartbeat's inputs to the recorder's transaction: the pings it received and the silences
the pollers found, turned by the heartbeat rules into outcomes like any check's, with what each
service has heard stored alongside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from statuschecker.model import CheckOutcome, CheckResult, Ping
from statuschecker.rules import heartbeats as rules
from statuschecker.store import heartbeats as store

_TICK = timedelta(microseconds=1)


def receive(
    conn: Connection, pings: Sequence[Ping]
) -> tuple[list[CheckOutcome], set[int], list[bool]]:
    """The outcomes of `pings` (oldest first), the services that heard one, and for each
    ping whether its key is known.

    Pings of a paused service are known and ignored. A start ping opens a run and is only
    logged; a finishing ping is an outcome judged by `rules.hear`, its run's duration the
    response time. Two pings of one service at the same moment are a microsecond apart, since
    a service keeps one tick per moment.
    """
    found = store.keyed(conn, (p.key for p in pings))
    heard = store.heard(conn, {k.service_id for k in found.values() if not k.paused})
    outcomes: list[CheckOutcome] = []
    logged: list[tuple[int, Ping, float | None]] = []
    runs_changed: set[int] = set()
    latest: dict[int, datetime] = {}
    for ping in sorted(pings, key=lambda p: p.received_at):
        keyed = found.get(ping.key)
        if keyed is None or keyed.paused:
            continue
        sid = keyed.service_id
        at = ping.received_at
        if sid in latest and at <= latest[sid]:
            at = latest[sid] + _TICK
        latest[sid] = at
        state = heard[sid]
        if ping.kind == "start" or ping.rid in state.runs:
            runs_changed.add(sid)
        verdict = rules.hear(state, ping.kind, at, ping.rid, ping.exit_status)
        duration_ms = None if verdict is None else verdict.duration_ms
        logged.append((sid, replace(ping, received_at=at), duration_ms))
        if verdict is not None:
            result = CheckResult(verdict.up, response_time_ms=duration_ms, error=verdict.reason)
            outcomes.append(CheckOutcome(sid, at, result))
    store.add_pings(conn, logged)
    store.write_heard(conn, {sid: heard[sid] for sid in latest}, runs_changed)
    return outcomes, set(latest), [p.key in found for p in pings]


def judge_silences(conn: Connection, outcomes: list[CheckOutcome]) -> list[CheckOutcome]:
    """`outcomes` with each silence judged by `rules.silence` at its moment: a failure with
    its reason when the heartbeat is late or a run overdue, left out when a ping came
    meanwhile. Every silent heartbeat is made due again at its next look."""
    silent = {o.service_id for o in outcomes if o.silence}
    if not silent:
        return outcomes
    heard = store.heard(conn, silent)
    judged: list[CheckOutcome] = []
    runs_changed: set[int] = set()
    for outcome in outcomes:
        state = heard.get(outcome.service_id) if outcome.silence else None
        if state is None:
            if not outcome.silence:  # a silence of a service no longer a heartbeat goes
                judged.append(outcome)
            continue
        overdue = sum(run.overdue for run in state.runs.values())
        verdict = rules.silence(state, outcome.checked_at)
        if sum(run.overdue for run in state.runs.values()) != overdue:
            runs_changed.add(outcome.service_id)
        if verdict is not None:
            result = CheckResult(False, error=verdict.reason)
            judged.append(replace(outcome, result=result, silence=False))
    store.write_heard(conn, heard, runs_changed)
    return judged
