"""Flaky tests: counted runs, flips, recovered-on-retry, detections and their events."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from analytics_history import at, events, result, rows, run, seed_history
from helpers import World

pytestmark = pytest.mark.db

STATS = (
    "select c.stable_id, s.runs, s.failures, s.failure_rate, s.flips, s.flip_rate, "
    "s.recovered_on_retry, s.recovered_rate, s.is_flaky, s.reasons "
    "from public.flaky_test_stats(%s, %s) as s join test_cases c on c.id = s.test_case_id "
    "where s.environment_id = %s order by 1"
)


def _stats(url: str, world: World, as_of: Any) -> dict[str, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in rows(url, STATS, (as_of, world.project, world.environment))}


def _login_then_cart(url: str, world: World, day: int, login: str) -> Any:
    """login, then cart, which is blocked (skipped) when login does not pass; catalog errors."""
    when = at(day)
    cart = result(world, "cart", "passed" if login == "passed" else "skipped", when)
    return run(
        url,
        world,
        when,
        [result(world, "login", login, when), cart, result(world, "catalog", "error", when)],
    )


def test_flips_are_counted_and_blocked_dependents_are_not(migrated_db: str) -> None:
    """login P F P F P P: 2 failures, 4 flips; cart (blocked twice) counts 4 clean runs."""
    world = seed_history(migrated_db)
    outcomes = ["passed", "failed", "passed", "failed", "passed", "passed"]
    runs = [_login_then_cart(migrated_db, world, day, o) for day, o in enumerate(outcomes)]

    stats = _stats(migrated_db, world, at(5))
    assert stats["login"] == (6, 2, 2 / 6, 4, 4 / 5, 0, 0.0, True, ["failure_rate", "flip_rate"])
    # skipped because login failed: never a run of cart, never a failure of cart
    assert stats["cart"] == (4, 0, 0.0, 0, 0.0, 0, 0.0, False, [])
    # failing every time is broken, not flaky
    assert stats["catalog"] == (6, 6, 1.0, 0, 0.0, 0, 0.0, False, [])

    # first judged flaky when its third run finished (P F P: 1/3 failed, 2 flips of 2)
    detections = rows(
        migrated_db,
        "select c.stable_id, d.run_id, d.runs, d.failures, d.flips, d.flip_rate, d.reasons, "
        "d.resolved_at from flaky_test_detections d join test_cases c on c.id = d.test_case_id",
    )
    assert detections == [("login", runs[2], 3, 1, 2, 1.0, ["failure_rate", "flip_rate"], None)]


def test_passing_only_after_retries_is_flaky(migrated_db: str) -> None:
    """Passes after a retry in 1 of 5 runs: recovered rate 0.2 > 0.1, flaky with no failure."""
    world = seed_history(migrated_db)
    for day in range(5):
        when = at(day)
        run(migrated_db, world, when, [result(world, "catalog", "passed", when, retried=day == 1)])
    stats = _stats(migrated_db, world, at(4))
    assert stats["catalog"] == (5, 0, 0.0, 0, 0.0, 1, 0.2, True, ["recovered_rate"])

    # the threshold is the project's: raise it and the same history is not flaky
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update analytics_settings set flaky_recovered_rate = 0.2 where project_id = %s",
            (world.project,),
        )
    assert _stats(migrated_db, world, at(4))["catalog"][-2:] == (False, [])


def test_failure_rate_must_exceed_the_threshold(migrated_db: str) -> None:
    """1 failure in 10 runs is exactly 10 %, one flip in 9 pairs under 20 %: not flaky."""
    world = seed_history(migrated_db)
    for day in range(10):
        when = at(day)
        status = "failed" if day == 9 else "passed"
        run(migrated_db, world, when, [result(world, "catalog", status, when)])
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update analytics_settings set flaky_window_days = 30 where project_id = %s",
            (world.project,),
        )
    stats = _stats(migrated_db, world, at(9))
    assert stats["catalog"] == (10, 1, 0.1, 1, 1 / 9, 0, 0.0, False, [])


def test_data_rows_make_one_outcome_per_run(migrated_db: str) -> None:
    """A run in which one data row of a test fails is one failed run of that test."""
    world = seed_history(migrated_db)
    for day, bad_row in enumerate([None, 1, None]):
        when = at(day)
        results = [
            result(world, "catalog", "failed" if i == bad_row else "passed", when, key=f"c[{i}]")
            for i in range(3)
        ]
        run(migrated_db, world, when, results)
    assert _stats(migrated_db, world, at(2))["catalog"][:5] == (3, 1, 1 / 3, 2, 1.0)


def test_window_and_environment_bound_the_history(migrated_db: str) -> None:
    """Runs older than the window, and runs of another environment, are not counted."""
    world = seed_history(migrated_db)
    for day, status in [(0, "failed"), (1, "passed"), (9, "passed"), (10, "passed")]:
        when = at(day)
        run(migrated_db, world, when, [result(world, "catalog", status, when)])
    when = at(10, 5)
    run(migrated_db, world, when, [result(world, "catalog", "failed", when)], environment=None)
    # window (day 3, day 10]: the runs of days 9 and 10 only
    assert _stats(migrated_db, world, at(10))["catalog"][:3] == (2, 0, 0.0)
    none_env = rows(
        migrated_db,
        "select runs, failures from public.flaky_test_stats(%s, %s) "
        "where environment_id is null and test_case_id = %s",
        (at(10, 5), world.project, world.catalog),
    )
    assert none_env == [(1, 1)]


def test_a_detection_resolves_and_emits_one_event(migrated_db: str) -> None:
    """Flaky at run 3 (one event); a week of passes later the detection is resolved."""
    world = seed_history(migrated_db)
    ids = []
    for day, status in [(0, "failed"), (1, "passed"), (2, "failed"), (3, "failed")]:
        when = at(day)
        ids.append(run(migrated_db, world, when, [result(world, "catalog", status, when)]))
    later = at(20)
    healed = run(migrated_db, world, later, [result(world, "catalog", "passed", later)])

    found = rows(
        migrated_db,
        "select run_id, runs, failures, resolved_run_id, resolved_at is not null "
        "from flaky_test_detections",
    )
    assert found == [(ids[2], 3, 2, healed, True)]

    sent = events(migrated_db, ids[2], "flaky_test_detected")
    assert len(sent) == 1
    body = sent[0]
    assert body["type"] == "flaky_test_detected" and body["run_id"] == str(ids[2])
    assert body["test"] == "catalog" and body["test_case_id"] == str(world.catalog)
    assert (body["runs"], body["failures"], body["flips"]) == (3, 2, 2)
    assert body["reasons"] == ["failure_rate", "flip_rate"]
    # still flaky at run 4: no second detection, no second event
    assert events(migrated_db, ids[3], "flaky_test_detected") == []

    # flaky again after being resolved: a new detection
    for day, status in [(21, "failed"), (22, "passed")]:
        when = at(day)
        run(migrated_db, world, when, [result(world, "catalog", status, when)])
    open_now = rows(
        migrated_db, "select runs, failures from flaky_test_detections where resolved_at is null"
    )
    assert open_now == [(3, 1)]
