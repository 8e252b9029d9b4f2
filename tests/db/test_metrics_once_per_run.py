"""0013: daily percentiles computed once when a run finishes; captures merged once per batch."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from helpers import World, acting_as, seed
from psycopg import errors

pytestmark = pytest.mark.db

DEFER = "select set_config('runner.defer_metrics', 'on', true)"
METRICS = (
    "select total_runs, successful_runs, avg_response_ms, p50_response_ms, p95_response_ms, "
    "p99_response_ms, min_response_ms, max_response_ms, success_rate from performance_metrics "
    "where test_case_id = %s and environment_id = %s and metric_date = %s"
)


def _new_run(url: str, world: World) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "insert into test_runs (project_id, suite_id, environment_id) values (%s, %s, %s) "
            "returning id",
            (world.project, world.suite, world.environment),
        ).fetchone()
    assert row is not None
    return row[0]


def _record_deferred(url: str, world: World, run: Any, results: list[dict[str, Any]]) -> None:
    """Record one batch the way the runner does: metrics deferred to the end of the run."""
    with acting_as(url, world, "service_role") as cur:
        cur.execute(DEFER)
        cur.execute("select public.record_results(%s, %s)", (run, json.dumps(results)))


def _finish(url: str, world: World, run: Any, status: str = "passed") -> None:
    with acting_as(url, world, "service_role") as cur:
        cur.execute("select public.finish_run(%s, %s)", (run, status))


def _metrics(url: str, world: World, day: str) -> tuple[Any, ...] | None:
    with psycopg.connect(url) as conn:
        return conn.execute(METRICS, (world.login, world.environment, day)).fetchone()


def _hand_percentile(xs: list[float], q: float) -> float:
    """Linear interpolation between closest ranks, written out by hand (numpy's default)."""
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def test_percentiles_after_finish_run_equal_a_hand_computation_over_two_runs(
    migrated_db: str,
) -> None:
    """Deferred batches leave the day's row alone; after both runs finish it covers both runs."""
    world = seed(migrated_db)
    day = datetime(2025, 8, 8, 9, tzinfo=UTC)
    first, second = _new_run(migrated_db, world), _new_run(migrated_db, world)
    # first run: 3 batches; second run: 2 batches, one failure, one skipped (not counted)
    runs = {
        first: [[12.0, 3.5, 40.25], [7.0, 7.0], [100.0, 1.0, 55.5]],
        second: [[9.0, 19.0, 2.0], [64.0, 33.0]],
    }
    counted: list[float] = []
    passed = 0
    for run, batches in runs.items():
        n = 0
        for times in batches:
            batch = []
            for t in times:
                status = "failed" if (run == second and n == 0) else "passed"
                batch.append(
                    {
                        "test_case_id": str(world.login),
                        "test_key": f"k{n}",
                        "name": "login",
                        "status": status,
                        "error_category": "assertion" if status == "failed" else None,
                        "started_at": (day + timedelta(seconds=n)).isoformat(),
                        "response_time_ms": t,
                    }
                )
                counted.append(t)
                passed += status == "passed"
                n += 1
            _record_deferred(migrated_db, world, run, batch)
        _record_deferred(
            migrated_db,
            world,
            run,
            [
                {
                    "test_case_id": str(world.login),
                    "test_key": "skipped",
                    "name": "login",
                    "status": "skipped",
                    "started_at": day.isoformat(),
                    "response_time_ms": 5000.0,
                }
            ],
        )
    assert _metrics(migrated_db, world, "2025-08-08") is None  # every batch deferred
    # finishing the first run computes its groups from everything recorded so far ...
    _finish(migrated_db, world, first)
    only_first = _metrics(migrated_db, world, "2025-08-08")
    assert only_first is not None and only_first[0] == 13
    # ... and finishing the second one recomputes the same group over both runs
    _finish(migrated_db, world, second, "failed")

    got = _metrics(migrated_db, world, "2025-08-08")
    assert got is not None
    # 13 counted results: 8 + 5, of which 12 passed; by hand
    assert len(counted) == 13 and passed == 12
    want = (
        13,
        12,
        sum(counted) / 13,
        _hand_percentile(counted, 0.50),
        _hand_percentile(counted, 0.95),
        _hand_percentile(counted, 0.99),
        1.0,
        100.0,
        12 / 13,
    )
    # sorted: 1 2 3.5 7 7 9 12 19 33 40.25 55.5 64 100 -> p50 is the 7th value exactly
    assert want[3] == 12.0
    assert math.isclose(want[4], 64.0 + (100.0 - 64.0) * 0.4)
    assert got[:2] == want[:2]
    for have, expected in zip(got[2:], want[2:], strict=True):
        assert math.isclose(have, expected, rel_tol=0, abs_tol=1e-9), (have, expected)


def test_batches_without_the_setting_still_refresh_at_once(migrated_db: str) -> None:
    """A writer that does not defer (REST, SQL by hand) sees the day's metrics after each batch."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    with acting_as(migrated_db, world, "service_role") as cur:
        cur.execute(
            "select public.record_results(%s, %s)",
            (
                run,
                json.dumps(
                    [
                        {
                            "test_case_id": str(world.login),
                            "test_key": "a",
                            "name": "login",
                            "status": "passed",
                            "started_at": "2025-08-09T10:00:00Z",
                            "response_time_ms": 10.0,
                        }
                    ]
                ),
            ),
        )
    got = _metrics(migrated_db, world, "2025-08-09")
    assert got is not None and got[:2] == (1, 1) and got[3] == 10.0


def test_an_interrupted_run_gets_its_metrics_too(migrated_db: str) -> None:
    """Finishing a deferred run as interrupted still computes the metrics of what was recorded."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    _record_deferred(
        migrated_db,
        world,
        run,
        [
            {
                "test_case_id": str(world.login),
                "test_key": f"k{i}",
                "name": "login",
                "status": "passed",
                "started_at": "2025-08-10T10:00:00Z",
                "response_time_ms": float(i),
            }
            for i in (1, 2, 3, 4)
        ],
    )
    assert _metrics(migrated_db, world, "2025-08-10") is None
    _finish(migrated_db, world, run, "interrupted")
    got = _metrics(migrated_db, world, "2025-08-10")
    assert got is not None and got[:4] == (4, 4, 2.5, 2.5)


def _captured(url: str, run: Any) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select captured_data from test_execution_context where run_id = %s", (run,)
        ).fetchone()
    return row[0] if row else None


def test_merge_many_equals_one_merge_per_key(migrated_db: str) -> None:
    """merge_captured_data_many leaves the same captured_data as merging each key in turn."""
    world = seed(migrated_db)
    one_by_one, at_once = _new_run(migrated_db, world), _new_run(migrated_db, world)
    before = {"login": {"token": "t1", "user_id": 7}, "old": {"x": 1}, "scalar": {"v": 0}}
    update = {"login": {"token": "t2", "session": {"a": 1}}, "catalog": {"ids": [1, 2]}}
    with acting_as(migrated_db, world, "editor") as cur:
        for run in (one_by_one, at_once):
            cur.execute("select public.merge_captured_data_many(%s, %s)", (run, json.dumps(before)))
        for key, data in update.items():
            cur.execute(
                "select public.merge_captured_data(%s, %s, %s)",
                (one_by_one, key, json.dumps(data)),
            )
        cur.execute("select public.merge_captured_data_many(%s, %s)", (at_once, json.dumps(update)))
    assert _captured(migrated_db, at_once) == _captured(migrated_db, one_by_one)
    assert _captured(migrated_db, at_once)["login"] == {
        "token": "t2",
        "user_id": 7,
        "session": {"a": 1},
    }


@pytest.mark.parametrize("data", ['[{"a": 1}]', '{"login": 1}', '{"": {"a": 1}}'])
def test_merge_many_needs_an_object_of_objects(migrated_db: str, data: str) -> None:
    """p_data must map non-empty test keys to objects; nothing is written otherwise."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InvalidParameterValue),
        acting_as(migrated_db, world, "service_role") as cur,
    ):
        cur.execute("select public.merge_captured_data_many(%s, %s::jsonb)", (world.run, data))


def test_outsider_cannot_merge_many_into_another_organisations_context(migrated_db: str) -> None:
    """An authenticated user of another organisation is refused with 42501."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InsufficientPrivilege),
        acting_as(migrated_db, world, "outsider") as cur,
    ):
        cur.execute(
            'select public.merge_captured_data_many(%s, \'{"login": {"stolen": true}}\')',
            (world.run,),
        )


def _result(world: World, key: str, at: datetime, ms: float) -> dict[str, Any]:
    return {
        "test_case_id": str(world.login),
        "test_key": key,
        "name": "login",
        "status": "passed",
        "started_at": at.isoformat(),
        "response_time_ms": ms,
    }


def test_batches_kept_current_need_no_recompute_at_finish(migrated_db: str) -> None:
    """0022: metrics refreshed per batch; finishing with metrics_current = on leaves them as is."""
    world = seed(migrated_db)
    day = datetime(2025, 9, 1, 8, tzinfo=UTC)
    run = _new_run(migrated_db, world)
    with acting_as(migrated_db, world, "service_role") as cur:  # not deferred: the store's way
        batch = [_result(world, "a", day, 10.0), _result(world, "b", day, 30.0)]
        cur.execute("select public.record_results(%s, %s)", (run, json.dumps(batch)))
    kept = _metrics(migrated_db, world, "2025-09-01")
    assert kept is not None and kept[:2] == (2, 2) and kept[2] == 20.0
    # a row changed behind the runner's back shows whether finishing recomputed it
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update performance_metrics set total_runs = 99 where test_case_id = %s", (world.login,)
        )
    with acting_as(migrated_db, world, "service_role") as cur:
        cur.execute("select set_config('runner.metrics_current', 'on', true)")
        cur.execute("select public.finish_run(%s, 'passed')", (run,))
    skipped = _metrics(migrated_db, world, "2025-09-01")
    assert skipped is not None and skipped[0] == 99
    # without the setting (a run finished by hand) finishing recomputes, as in 0013
    other = _new_run(migrated_db, world)
    _record_deferred(migrated_db, world, other, [_result(world, "c", day, 50.0)])
    _finish(migrated_db, world, other)
    recomputed = _metrics(migrated_db, world, "2025-09-01")
    assert recomputed is not None and recomputed[:2] == (3, 3) and recomputed[2] == 30.0
