"""``load_run_analysis``: a run's regressions, newly flaky tests and quarantined failures."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import psycopg
import pytest
from analytics_history import at, result, run, seed_history
from helpers import World, claims_for

from runner.db.connect import Target, connect
from runner.db.identity import Identity, apply_identity
from runner.reporting.analytics import load_run_analysis

pytestmark = pytest.mark.db


def _history(url: str, world: World) -> Any:
    """Baseline week at 100 ms; catalog flips; the last run: catalog slow, cart quarantined."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "update analytics_settings set flaky_min_runs = 8, flaky_window_days = 30 "
            "where project_id = %s",
            (world.project,),
        )
    for day in range(7):
        when = at(day)
        status = "failed" if day in (4, 6) else "passed"
        run(url, world, when, [result(world, "catalog", status, when, ms=100.0)])
    when = at(7)
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into test_quarantines (test_case_id, reason) values (%s, 'BUG-1')",
            (world.cart,),
        )
    results = [
        result(world, "catalog", "passed", when, ms=150.0),
        result(world, "cart", "failed", when, message="expected 3 items, got 4"),
    ]
    return run(url, world, when, results, status="passed")


async def _load(url: str, world: World, actor: str, run_id: Any) -> Any:
    conn = await connect(Target(url, embedded=True))
    try:
        role, claims = claims_for(world, actor)
        async with conn.transaction():
            await apply_identity(conn, Identity(role, claims))
            return await load_run_analysis(conn, str(run_id))
    finally:
        await conn.close()


async def test_the_analysis_of_a_run(migrated_db: str) -> None:
    """Regression, flaky detection and quarantined failure come back as typed values."""
    world = seed_history(migrated_db)
    run_id = _history(migrated_db, world)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update test_runs set metadata = %s where id = %s",
            (json.dumps({"quarantined_tests": ["cart"]}), run_id),
        )
    analysis = await _load(migrated_db, world, "member", run_id)
    assert analysis.run_id == str(run_id)

    (regression,) = analysis.regressions
    assert (regression.test, regression.metric_date) == ("catalog", date(2025, 3, 8))
    assert (regression.p95_ms, regression.baseline_p95_ms, regression.ratio) == (150.0, 100.0, 1.5)
    assert regression.percent_above == pytest.approx(50.0)
    assert regression.explanation.startswith("p95 150.0 ms on 2025-03-08 is 50.0 % above")

    # catalog P P P P F P F P: 8 runs, 2 failures, 4 flips (min runs 8: judged only now)
    (flaky,) = analysis.flaky
    assert (flaky.test, flaky.runs, flaky.failures, flaky.flips) == ("catalog", 8, 2, 4)
    assert flaky.flip_rate == pytest.approx(4 / 7)
    assert flaky.reasons == ("failure_rate", "flip_rate")

    (quarantined,) = analysis.quarantined_failures
    assert (quarantined.test_key, quarantined.test, quarantined.status) == (
        "cart",
        "cart",
        "failed",
    )
    assert (quarantined.reason, quarantined.message) == ("BUG-1", "expected 3 items, got 4")
    assert not analysis.empty


async def test_an_outsider_gets_an_empty_analysis(migrated_db: str) -> None:
    """Row-level security applies: another organisation's run has nothing to show."""
    world = seed_history(migrated_db)
    run_id = _history(migrated_db, world)
    analysis = await _load(migrated_db, world, "outsider", run_id)
    assert analysis.empty


def test_a_new_run_notes_its_suites_quarantined_tests(migrated_db: str) -> None:
    """metadata.quarantined_tests comes from the quarantines, whatever the client sent."""
    world = seed_history(migrated_db)
    insert = (
        "insert into test_runs (project_id, suite_id, metadata) values (%s, %s, %s) "
        "returning metadata"
    )
    claimed = json.dumps({"seed": 1, "quarantined_tests": ["login"]})
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(insert, (world.project, world.suite, claimed)).fetchone()
        assert row == ({"seed": 1},)
        for test in ("cart", "catalog"):
            conn.execute(
                "insert into test_quarantines (test_case_id, reason) values (%s, 'x')",
                (getattr(world, test),),
            )
        row = conn.execute(insert, (world.project, world.suite, claimed)).fetchone()
    assert row == ({"seed": 1, "quarantined_tests": ["cart", "catalog"]},)
