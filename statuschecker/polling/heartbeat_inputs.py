"""A heartbeat's inputs to the recorder's transaction: the pings stored for it and not judged
yet, and the silences the pollers found, turned by the heartbeat rules into outcomes like any
check's, with what each service has heard stored alongside."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from statuschecker.model import CheckOutcome, CheckResult
from statuschecker.rules import heartbeats as rules
from statuschecker.store import heartbeats as store

_TICK = timedelta(microseconds=1)


def receive(conn: Connection, service_ids: set[int]) -> tuple[list[CheckOutcome], set[int]]:
    """The outcomes of the pings of these services (locked) not judged yet, oldest first, and
    the services that heard one; the pings are marked judged.

    A start ping opens a run and is only marked; a finishing ping is an outcome judged by
    `rules.hear`, its run's duration the response time. Two pings of one service at the same
    moment are a microsecond apart, since a service keeps one tick per moment.
    """
    pending = store.unjudged(conn, service_ids)
    if not pending:
        return [], set()
    heard = store.heard(conn, {p.service_id for p in pending})
    outcomes: list[CheckOutcome] = []
    durations: dict[int, float | None] = {}
    runs_changed: set[int] = set()
    latest: dict[int, datetime] = {}
    for ping in pending:
        sid = ping.service_id
        state = heard[sid]  # a service with pings is a heartbeat (its kind never changes)
        at = ping.received_at
        if sid in latest and at <= latest[sid]:
            at = latest[sid] + _TICK
        latest[sid] = at
        if ping.kind == "start" or ping.rid in state.runs:
            runs_changed.add(sid)
        verdict = rules.hear(state, ping.kind, at, ping.rid, ping.exit_status)
        durations[ping.id] = None if verdict is None else verdict.duration_ms
        if verdict is not None:
            result = CheckResult(
                verdict.up, response_time_ms=verdict.duration_ms, error=verdict.reason
            )
            outcomes.append(CheckOutcome(sid, at, result))
    store.mark_judged(conn, durations)
    store.write_heard(conn, {sid: heard[sid] for sid in latest}, runs_changed)
    return outcomes, set(latest)


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
