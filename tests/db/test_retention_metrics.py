"""Daily performance metrics older than 90 days fold into monthly rows; months go after 2 years."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import World, seed
from retention_data import archived_rows, ids, run_retention

from runner.retention import LocalArchive

pytestmark = pytest.mark.db

# (day offset in the month, total, successful, avg, p50, p95, p99, min, max)
DAYS = [
    (0, 4, 4, 10.0, 9.0, 14.0, 15.0, 5.0, 16.0),
    (1, 2, 1, 40.0, 38.0, 60.0, 70.0, 20.0, 72.0),
    (2, 2, 0, None, None, None, None, None, None),  # no response time at all that day
]
LATE_DAY = (3, 2, 2, 5.0, 5.0, 6.0, 7.0, 4.0, 8.0)


def _month(conn: psycopg.Connection[Any]) -> Any:
    row = conn.execute("select date_trunc('month', current_date - 200)::date").fetchone()
    assert row is not None
    return row[0]


def _add_day(
    conn: psycopg.Connection[Any], world: World, month: Any, day: tuple[Any, ...]
) -> uuid.UUID:
    offset, total, ok, avg, p50, p95, p99, lo, hi = day
    row = conn.execute(
        "insert into performance_metrics (test_case_id, environment_id, metric_date, total_runs, "
        "successful_runs, avg_response_ms, p50_response_ms, p95_response_ms, p99_response_ms, "
        "min_response_ms, max_response_ms, success_rate) "
        "values (%s, %s, %s::date + %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (
            world.catalog,
            world.environment,
            month,
            offset,
            total,
            ok,
            avg,
            p50,
            p95,
            p99,
            lo,
            hi,
            ok / total,
        ),
    ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def _monthly(url: str, world: World) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select to_jsonb(m) from performance_metrics_monthly as m where test_case_id = %s",
            (world.catalog,),
        ).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


async def test_daily_rows_roll_up_into_hand_computed_months(
    migrated_db: str, tmp_path: Path
) -> None:
    """Counts add up, means are weighted by runs, min/max are exact; later days merge the same."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        month = _month(conn)
        daily = {_add_day(conn, world, month, d) for d in DAYS}
        recent = conn.execute(
            "insert into performance_metrics (test_case_id, environment_id, metric_date, "
            "total_runs, successful_runs) values (%s, %s, current_date - 89, 1, 1) returning id",
            (world.catalog, world.environment),
        ).fetchone()
    await run_retention(migrated_db, LocalArchive(tmp_path / "a"))
    left = ids(migrated_db, "performance_metrics")
    assert not daily & left
    assert recent is not None and recent[0] in left
    assert world.metric in left
    m = _monthly(migrated_db, world)
    assert m["metric_month"] == month.isoformat()
    assert len(m["rolled_dates"]) == 3
    assert (m["total_runs"], m["successful_runs"], m["timed_runs"]) == (8, 5, 6)
    assert m["success_rate"] == pytest.approx(5 / 8)
    assert m["avg_response_ms"] == pytest.approx((10 * 4 + 40 * 2) / 6)  # 20
    assert m["p50_response_ms"] == pytest.approx((9 * 4 + 38 * 2) / 6)
    assert m["p95_response_ms"] == pytest.approx((14 * 4 + 60 * 2) / 6)
    assert m["p99_response_ms"] == pytest.approx((15 * 4 + 70 * 2) / 6)
    assert (m["min_response_ms"], m["max_response_ms"]) == (5.0, 72.0)
    assert {r["id"] for r in archived_rows(tmp_path / "a")["performance_metrics"]} == {
        str(d) for d in daily
    }

    # a later day of the same month merges as if the month had been rolled at once
    with psycopg.connect(migrated_db) as conn:
        _add_day(conn, world, month, LATE_DAY)
    await run_retention(migrated_db, LocalArchive(tmp_path / "b"))
    m = _monthly(migrated_db, world)
    assert (m["total_runs"], m["successful_runs"], m["timed_runs"]) == (10, 7, 8)
    assert m["avg_response_ms"] == pytest.approx((10 * 4 + 40 * 2 + 5 * 2) / 8)  # 16.25
    assert m["p95_response_ms"] == pytest.approx((14 * 4 + 60 * 2 + 6 * 2) / 8)  # 23.5
    assert (m["min_response_ms"], m["max_response_ms"]) == (4.0, 72.0)
    assert m["success_rate"] == pytest.approx(7 / 10)

    # a day already in the month (a restored daily row) is removed, not counted again
    with psycopg.connect(migrated_db) as conn:
        restored = _add_day(conn, world, month, DAYS[0])
    await run_retention(migrated_db, LocalArchive(tmp_path / "c"))
    again = _monthly(migrated_db, world)
    assert again["total_runs"] == 10
    assert again["rolled_dates"] == m["rolled_dates"]
    assert restored not in ids(migrated_db, "performance_metrics")


async def test_months_older_than_two_years_are_archived_and_removed(
    migrated_db: str, tmp_path: Path
) -> None:
    """A monthly row whose month ended over 730 days ago goes; a younger month stays."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "insert into performance_metrics_monthly (test_case_id, environment_id, metric_month, "
            "total_runs, successful_runs) values "
            "(%s, %s, date_trunc('month', current_date - 800)::date, 5, 5), "
            "(%s, %s, date_trunc('month', current_date - 650)::date, 5, 5) returning id",
            (world.login, world.environment, world.login, world.environment),
        ).fetchall()
    old, young = rows[0][0], rows[1][0]
    report = await run_retention(migrated_db, LocalArchive(tmp_path))
    left = ids(migrated_db, "performance_metrics_monthly")
    assert old not in left and young in left
    assert report.phases["metrics_monthly"].deleted == 1
    assert [r["id"] for r in archived_rows(tmp_path)["performance_metrics_monthly"]] == [str(old)]
