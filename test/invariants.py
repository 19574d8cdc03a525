"""What must hold of the stored history after any fault: each check stored once and in order,
one open period per service, and running metrics and rollups that add up to the stored ticks."""

from __future__ import annotations

from sqlalchemy import Engine, text

_DUPLICATED_TICKS = """
    SELECT count(*) - count(DISTINCT (service_id, checked_at)) FROM service_ticks
"""
# Ticks of a service stored (id order) out of check-time order.
_OUT_OF_ORDER = """
    SELECT count(*) FROM (
        SELECT checked_at < lag(checked_at) OVER (PARTITION BY service_id ORDER BY id) AS back
        FROM service_ticks
    ) t WHERE back
"""
_TWO_OPEN_EVENTS = """
    SELECT service_id FROM service_events WHERE date_ended IS NULL
    GROUP BY service_id HAVING count(*) > 1
"""
_METRICS_OFF = """
    SELECT m.service_id FROM service_metrics m
    LEFT JOIN (
        SELECT service_id, count(*) AS n, count(*) FILTER (WHERE up) AS up
        FROM service_ticks GROUP BY service_id
    ) t USING (service_id)
    WHERE m.tick_count <> coalesce(t.n, 0) OR m.up_count <> coalesce(t.up, 0)
       OR m.down_count <> coalesce(t.n - t.up, 0)
"""

# (service, granularity) whose hourly or daily rollups count other checks than its ticks.
_ROLLUPS_OFF = """
    SELECT r.service_id, r.bucket_hours FROM (
        SELECT service_id, bucket_hours, sum(checks) AS checks, sum(successful) AS successful
        FROM service_rollups GROUP BY service_id, bucket_hours
    ) r
    JOIN (
        SELECT service_id, count(*) AS n, count(*) FILTER (WHERE up) AS up
        FROM service_ticks GROUP BY service_id
    ) t USING (service_id)
    WHERE (r.checks, r.successful) IS DISTINCT FROM (t.n, t.up)
"""


def assert_consistent(engine: Engine) -> None:
    """Fail naming what is wrong: duplicated or out-of-order ticks, services with two open
    events, metrics or rollups that differ from their ticks."""
    with engine.connect() as conn:
        duplicated = conn.execute(text(_DUPLICATED_TICKS)).scalar_one()
        out_of_order = conn.execute(text(_OUT_OF_ORDER)).scalar_one()
        two_open = list(conn.execute(text(_TWO_OPEN_EVENTS)).scalars())
        metrics_off = list(conn.execute(text(_METRICS_OFF)).scalars())
        rollups_off = [tuple(row) for row in conn.execute(text(_ROLLUPS_OFF))]
    assert duplicated == 0, f"{duplicated} ticks stored twice"
    assert out_of_order == 0, f"{out_of_order} ticks stored out of check-time order"
    assert two_open == [], f"services with two open events: {two_open}"
    assert metrics_off == [], f"services whose metrics differ from their ticks: {metrics_off}"
    assert rollups_off == [], f"(service, bucket hours) whose rollups differ: {rollups_off}"
