"""public.retention_purge(): the delete-only half for pg_cron, same rules as the CLI."""

from __future__ import annotations

import psycopg
import pytest
from helpers import seed
from retention_data import add_context, add_result, add_run, ids

pytestmark = pytest.mark.db


def test_purge_deletes_what_expired_and_keeps_pinned_and_recent(migrated_db: str) -> None:
    """CALL retention_purge(n) removes expired rows in chunks, rolls metrics up, keeps the rest."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=100)
        old = {add_result(cur, run, f"old{n}", days_ago=95) for n in range(5)}
        young = add_result(cur, run, "young", days_ago=10)
        pinned_run = add_run(cur, world.project, days_ago=500, pinned=True)
        pinned = add_result(cur, pinned_run, "pinned", days_ago=500)
        ancient = add_run(cur, world.project, days_ago=400)
        ctx = add_context(cur, run, hours_ago=30)
        cur.execute(
            "insert into performance_metrics (test_case_id, environment_id, metric_date, "
            "total_runs, successful_runs, avg_response_ms) "
            "values (%s, %s, current_date - 100, 4, 3, 20)",
            (world.catalog, world.environment),
        )
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute("call public.retention_purge(2)")
    results = ids(migrated_db, "test_results")
    assert not old & results
    assert {young, pinned} <= results
    runs = ids(migrated_db, "test_runs")
    assert ancient not in runs and pinned_run in runs
    assert ctx not in ids(migrated_db, "test_execution_context")
    with psycopg.connect(migrated_db) as conn:
        month = conn.execute(
            "select total_runs, successful_runs, avg_response_ms from performance_metrics_monthly "
            "where test_case_id = %s",
            (world.catalog,),
        ).fetchone()
    assert month == (4, 3, 20.0)


def test_purge_is_for_the_service_role_only(migrated_db: str) -> None:
    """Signed-in users (and anon) may not call retention_purge."""
    seed(migrated_db)
    for role in ("authenticated", "anon"):
        with psycopg.connect(migrated_db, autocommit=True) as conn:
            conn.execute(f"set role {role}")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("call public.retention_purge()")
