"""rollups per location

The hourly and daily rollups, and their outcome counts, are kept per location, so that a
service's statistics and history can be asked per location as well as overall (the sum over its
locations). Rollups written before this migration belong to `default`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "service_rollups": ["service_id", "bucket_hours", "bucket_start"],
    "service_rollup_outcomes": ["service_id", "bucket_hours", "bucket_start", "outcome"],
}

# Downgrading folds one other location's rows into the default location's, as the recorder
# adds a batch to a bucket.
_FOLD = {
    "service_rollups": """
        INSERT INTO service_rollups AS r (service_id, bucket_hours, bucket_start, location,
            checks, successful, rt_count, rt_sum, rt_max, ttfb_count, ttfb_sum, ttfb_max,
            rt_histogram, maintenance_checks, maintenance_successful)
        SELECT service_id, bucket_hours, bucket_start, 'default', checks, successful, rt_count,
               rt_sum, rt_max, ttfb_count, ttfb_sum, ttfb_max, rt_histogram, maintenance_checks,
               maintenance_successful
        FROM service_rollups WHERE location = :location
        ON CONFLICT (service_id, bucket_hours, bucket_start, location) DO UPDATE SET
            checks = r.checks + excluded.checks,
            successful = r.successful + excluded.successful,
            maintenance_checks = r.maintenance_checks + excluded.maintenance_checks,
            maintenance_successful = r.maintenance_successful + excluded.maintenance_successful,
            rt_count = r.rt_count + excluded.rt_count,
            rt_sum = r.rt_sum + excluded.rt_sum,
            rt_max = greatest(r.rt_max, excluded.rt_max),
            ttfb_count = r.ttfb_count + excluded.ttfb_count,
            ttfb_sum = r.ttfb_sum + excluded.ttfb_sum,
            ttfb_max = greatest(r.ttfb_max, excluded.ttfb_max),
            rt_histogram = (
                SELECT coalesce(jsonb_object_agg(k, coalesce((r.rt_histogram ->> k)::int, 0)
                                   + coalesce((excluded.rt_histogram ->> k)::int, 0)), '{}')
                FROM jsonb_object_keys(r.rt_histogram || excluded.rt_histogram) AS k
            )
    """,
    "service_rollup_outcomes": """
        INSERT INTO service_rollup_outcomes AS o (service_id, bucket_hours, bucket_start,
            location, outcome, count)
        SELECT service_id, bucket_hours, bucket_start, 'default', outcome, count
        FROM service_rollup_outcomes WHERE location = :location
        ON CONFLICT (service_id, bucket_hours, bucket_start, location, outcome)
        DO UPDATE SET count = o.count + excluded.count
    """,
}


def upgrade() -> None:
    for table, keys in KEYS.items():
        op.add_column(
            table,
            sa.Column(
                "location", sa.String(40), nullable=False, server_default=sa.text("'default'")
            ),
        )
        op.drop_constraint(op.f(f"pk_{table}"), table, type_="primary")
        # The location last: reading a service's buckets over all its locations keeps using
        # the key's leading columns.
        op.create_primary_key(op.f(f"pk_{table}"), table, [*keys[:3], "location", *keys[3:]])


def downgrade() -> None:
    conn = op.get_bind()
    for table, keys in KEYS.items():
        others = conn.execute(
            sa.text(f"SELECT DISTINCT location FROM {table} WHERE location <> 'default'")
        ).scalars()
        for location in list(others):
            conn.execute(sa.text(_FOLD[table]), {"location": location})
        conn.execute(sa.text(f"DELETE FROM {table} WHERE location <> 'default'"))
        op.drop_constraint(op.f(f"pk_{table}"), table, type_="primary")
        op.drop_column(table, "location")
        op.create_primary_key(op.f(f"pk_{table}"), table, keys)
