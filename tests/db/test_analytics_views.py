"""The Studio views run as the caller (security_invoker): members see their rows, others none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from analytics_history import result, run, seed_history
from helpers import World, acting_as
from psycopg import errors

pytestmark = pytest.mark.db

VIEWS = ("flaky_tests", "performance_regressions_recent", "top_failures", "run_summaries")


def _recent_history(url: str, world: World) -> Any:
    """A flaky login, a catalog regression and a quarantined failing cart, all in the last days."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=9)
    for day in range(7):  # days -9..-3: the baseline, 100 ms
        when = base + timedelta(days=day)
        run(url, world, when, [result(world, "catalog", "passed", when, ms=100.0)])
    last = None
    for day, status in enumerate(["passed", "failed", "passed", "failed"]):
        when = base + timedelta(days=5, hours=day)
        last = run(url, world, when, [result(world, "login", status, when)])
    when = base + timedelta(days=7)
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into test_quarantines (test_case_id, reason) values (%s, 'known bug')",
            (world.cart,),
        )
        row = conn.execute(
            "insert into test_runs (project_id, suite_id, environment_id, started_at, metadata) "
            "values (%s, %s, %s, %s, %s) returning id",
            (
                world.project,
                world.suite,
                world.environment,
                when,
                json.dumps({"quarantined_tests": ["cart"]}),
            ),
        ).fetchone()
    assert row is not None and last is not None
    with acting_as(url, world, "service_role") as cur:
        cur.execute(
            "select public.record_results(%s, %s)",
            (
                row[0],
                json.dumps(
                    [
                        result(world, "catalog", "passed", when, ms=200.0),
                        result(world, "cart", "failed", when),
                        result(world, "cart", "failed", when, key="cart[1]"),
                    ]
                ),
            ),
        )
        cur.execute("select public.finish_run(%s, 'passed')", (row[0],))
    return row[0]


def _count(url: str, world: World, actor: str, view: str) -> int:
    with acting_as(url, world, actor) as cur:
        cur.execute(f"select count(*) from public.{view}")  # noqa: S608
        found = cur.fetchone()
    assert found is not None
    return int(found[0])


def test_members_see_their_rows_and_outsiders_none(migrated_db: str) -> None:
    """Each view shows a member the organisation's rows, an outsider none, anon nothing at all."""
    world = seed_history(migrated_db)
    _recent_history(migrated_db, world)
    for view in VIEWS:
        assert _count(migrated_db, world, "member", view) > 0, view
        assert _count(migrated_db, world, "outsider", view) == 0, view
        assert _count(migrated_db, world, "service_role", view) > 0, view
        with (
            pytest.raises(errors.InsufficientPrivilege),
            acting_as(migrated_db, world, "anon") as cur,
        ):
            cur.execute(f"select 1 from public.{view}")  # noqa: S608


def test_views_are_security_invoker(migrated_db: str) -> None:
    """Every view of schema public is declared with security_invoker = true."""
    with psycopg.connect(migrated_db) as conn:
        found = conn.execute(
            "select c.relname, coalesce(c.reloptions, '{}') from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'v' and c.relname = any(%s) order by 1",
            (list(VIEWS),),
        ).fetchall()
    assert [r[0] for r in found] == sorted(VIEWS)
    assert all("security_invoker=true" in r[1] for r in found)


def test_what_the_views_say(migrated_db: str) -> None:
    """flaky_tests, performance_regressions_recent and run_summaries as a member reads them."""
    world = seed_history(migrated_db)
    last = _recent_history(migrated_db, world)
    with acting_as(migrated_db, world, "member") as cur:
        cur.execute(
            "select test, runs, failures, flips, reasons, quarantined, detected_at is not null "
            "from flaky_tests"
        )
        assert cur.fetchall() == [("login", 4, 2, 3, ["failure_rate", "flip_rate"], False, True)]
        cur.execute("select test, p95_ms, baseline_p95_ms from performance_regressions_recent")
        assert cur.fetchall() == [("catalog", 200.0, 100.0)]
        cur.execute(
            "select status, failed_tests, quarantined_tests, quarantined_failures, regressions, "
            "flaky_detected from run_summaries where run_id = %s",
            (last,),
        )
        assert cur.fetchone() == ("passed", 2, ["cart"], 2, 1, 0)
