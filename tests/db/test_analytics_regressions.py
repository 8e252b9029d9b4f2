"""Performance regressions: a day's p95 against the run-weighted baseline of the days before."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from analytics_history import at, events, result, rows, run, seed_history
from helpers import World

pytestmark = pytest.mark.db

FLAGGED = (
    "select c.stable_id, g.metric_date, g.p95_ms, g.baseline_p95_ms, g.baseline_runs, g.ratio, "
    "g.threshold from performance_regressions g join test_cases c on c.id = g.test_case_id "
    "where g.run_id = %s order by 1"
)


def _baseline_week(url: str, world: World, ms: float = 100.0) -> None:
    """Days 0..6: one run a day, every test answering in ``ms``."""
    for day in range(7):
        when = at(day)
        run(url, world, when, [result(world, t, "passed", when, ms=ms) for t in TESTS])


TESTS = ("login", "catalog", "cart")


def _today(url: str, world: World, times: dict[str, float], day: int = 7) -> Any:
    when = at(day)
    return run(
        url, world, when, [result(world, t, "passed", when, ms=ms) for t, ms in times.items()]
    )


def test_flagged_only_when_more_than_the_threshold_above(migrated_db: str) -> None:
    """Baseline 100 ms: 120.01 ms is flagged; 120.0 ms (exactly +20 %) and 119.99 ms are not."""
    world = seed_history(migrated_db)
    _baseline_week(migrated_db, world)
    today = _today(migrated_db, world, {"login": 120.01, "catalog": 120.0, "cart": 119.99})
    day = at(7).date()
    assert rows(migrated_db, FLAGGED, (today,)) == [
        ("login", day, 120.01, 100.0, 7, pytest.approx(1.2001), 0.2)
    ]
    explanation = rows(
        migrated_db, "select explanation from performance_regressions where run_id = %s", (today,)
    )[0][0]
    assert explanation == (
        "p95 120.0 ms on 2025-03-08 is 20.0 % above the baseline of 100.0 ms (run-weighted mean "
        "of the daily p95 from 2025-03-01 to 2025-03-07, 7 results); flagged above +20.0 %"
    )


def test_baseline_weights_each_day_by_its_runs(migrated_db: str) -> None:
    """Days with 3 results at 100 ms and 1 at 200 ms give a baseline of 125 ms, not 150."""
    world = seed_history(migrated_db)
    for minute in range(3):
        when = at(5, minute)
        run(migrated_db, world, when, [result(world, "catalog", "passed", when, ms=100.0)])
    when = at(6)
    run(migrated_db, world, when, [result(world, "catalog", "passed", when, ms=200.0)])

    flagged = _today(migrated_db, world, {"catalog": 151.0})
    assert rows(migrated_db, FLAGGED, (flagged,)) == [
        ("catalog", at(7).date(), 151.0, 125.0, 4, 151.0 / 125.0, 0.2)
    ]
    # the same day again at 149 ms: p95 of (151, 149) is 150.9, still flagged by this run
    second = _today(migrated_db, world, {"catalog": 149.0})
    assert [r[2] for r in rows(migrated_db, FLAGGED, (second,))] == [pytest.approx(150.9)]


def test_threshold_window_and_minimum_are_the_projects(migrated_db: str) -> None:
    """A 50 % threshold, a 1-day baseline or a 10-result minimum each silence the same history."""
    world = seed_history(migrated_db)
    _baseline_week(migrated_db, world)
    settings = [
        "regression_threshold = 0.5",
        "regression_min_baseline_runs = 10",
    ]
    for day, change in enumerate(settings, start=7):
        with psycopg.connect(migrated_db) as conn:
            conn.execute(
                "update analytics_settings set regression_threshold = 0.2, "
                "regression_min_baseline_runs = 3 where project_id = %s",
                (world.project,),
            )
            conn.execute(
                f"update analytics_settings set {change} where project_id = %s",  # noqa: S608
                (world.project,),
            )
        # each day is compared with the (all 100 ms) days before it
        assert (
            rows(migrated_db, FLAGGED, (_today(migrated_db, world, {"catalog": 140.0}, day),)) == []
        )

    # a 1-day baseline looks only at the day before: day 9 at 140 ms is not above day 8 at 140 ms
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update analytics_settings set regression_threshold = 0.2, "
            "regression_min_baseline_runs = 1, regression_baseline_days = 1 where project_id = %s",
            (world.project,),
        )
    assert rows(migrated_db, FLAGGED, (_today(migrated_db, world, {"catalog": 140.0}, 9),)) == []
    # and with the default 7 days the same day is flagged (days 2..8: 5 x 100, 2 x 140)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update analytics_settings set regression_baseline_days = 7 where project_id = %s",
            (world.project,),
        )
    found = rows(migrated_db, FLAGGED, (_today(migrated_db, world, {"catalog": 160.0}, 9),))
    assert [(r[0], r[3]) for r in found] == [("catalog", pytest.approx((5 * 100 + 2 * 140) / 7))]


def test_no_baseline_no_verdict(migrated_db: str) -> None:
    """With fewer baseline results than the minimum (3), nothing is flagged however slow."""
    world = seed_history(migrated_db)
    for day in range(2):
        when = at(day)
        run(migrated_db, world, when, [result(world, "catalog", "passed", when, ms=10.0)])
    assert rows(migrated_db, FLAGGED, (_today(migrated_db, world, {"catalog": 900.0}, 2),)) == []


def test_environments_do_not_mix(migrated_db: str) -> None:
    """A slow day without a stored environment is not compared with the environment's days."""
    world = seed_history(migrated_db)
    _baseline_week(migrated_db, world)
    when = at(7)
    other = run(
        migrated_db,
        world,
        when,
        [result(world, "catalog", "passed", when, ms=500.0)],
        environment=None,
    )
    assert rows(migrated_db, FLAGGED, (other,)) == []


def test_a_regression_emits_performance_degradation(migrated_db: str) -> None:
    """The flagging run broadcasts one performance_degradation event with the figures."""
    world = seed_history(migrated_db)
    _baseline_week(migrated_db, world)
    today = _today(migrated_db, world, {"login": 100.0, "catalog": 130.0})
    sent = events(migrated_db, today, "performance_degradation")
    assert len(sent) == 1
    body = sent[0]
    assert body["type"] == "performance_degradation" and body["run_id"] == str(today)
    assert body["test"] == "catalog" and body["test_case_id"] == str(world.catalog)
    assert (body["p95_ms"], body["baseline_p95_ms"], body["threshold"]) == (130.0, 100.0, 0.2)
    assert body["ratio"] == pytest.approx(1.3)
    assert body["metric_date"] == "2025-03-08"
