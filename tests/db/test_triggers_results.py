"""Result triggers: run counters, daily performance metrics, failure analysis, run history."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from helpers import World, acting_as, seed

pytestmark = pytest.mark.db

STATUSES = ("passed", "failed", "error", "skipped")


def _new_run(conn: psycopg.Connection[Any], world: World, environment: Any) -> Any:
    row = conn.execute(
        "insert into test_runs (project_id, suite_id, environment_id) values (%s, %s, %s) "
        "returning id",
        (world.project, world.suite, environment),
    ).fetchone()
    assert row is not None
    return row[0]


def _record(url: str, world: World, run: Any, results: list[dict[str, Any]]) -> None:
    with acting_as(url, world, "service_role") as cur:
        cur.execute("select public.record_results(%s, %s)", (run, json.dumps(results)))


def percentile(values: list[float], q: float) -> float:
    """numpy's default percentile: linear interpolation between the closest ranks."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def test_counters_follow_each_batch(migrated_db: str) -> None:
    """After each batch the run's counters equal the numbers of results by status."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        run = _new_run(conn, world, world.environment)
    batches = [
        ["passed"] * 5 + ["failed"] * 2 + ["skipped"],
        ["error"] * 3 + ["passed"],
        ["skipped"] * 4,
    ]
    expected = dict.fromkeys(STATUSES, 0)
    n = 0
    for statuses in batches:
        results = []
        for status in statuses:
            results.append({"test_key": f"t{n}", "name": "t", "status": status})
            expected[status] += 1
            n += 1
        _record(migrated_db, world, run, results)
        with psycopg.connect(migrated_db) as conn:
            row = conn.execute(
                "select passed_tests, failed_tests, errored_tests, skipped_tests, completed_tests "
                "from test_runs where id = %s",
                (run,),
            ).fetchone()
        assert row == (
            expected["passed"],
            expected["failed"],
            expected["error"],
            expected["skipped"],
            n,
        )


def test_a_batch_costs_one_counter_update_per_run(migrated_db: str) -> None:
    """One INSERT of 200 results over two runs updates each run twice: counters, event seq range."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        runs = [_new_run(conn, world, None) for _ in range(2)]
        conn.commit()
        before = conn.execute(
            "select n_tup_upd from pg_stat_xact_user_tables where relname = 'test_runs'"
        ).fetchone()
        conn.execute(
            "insert into test_results (run_id, test_key, name, status) "
            "select (array[%s, %s]::uuid[])[1 + i %% 2], 'k' || i, 'n', "
            "(array['passed','failed','error','skipped'])[1 + i %% 4] "
            "from generate_series(0, 199) as i",
            (runs[0], runs[1]),
        )
        after = conn.execute(
            "select n_tup_upd from pg_stat_xact_user_tables where relname = 'test_runs'"
        ).fetchone()
        rows = conn.execute(
            "select passed_tests, failed_tests, errored_tests, skipped_tests, completed_tests "
            "from test_runs where id = any(%s) order by array_position(%s, id)",
            (runs, runs),
        ).fetchall()
    assert before is not None and after is not None
    assert after[0] - before[0] == 4
    assert rows == [(50, 0, 50, 0, 100), (0, 50, 0, 50, 100)]


def test_performance_metrics_match_a_python_reference(migrated_db: str) -> None:
    """avg, p50, p95, p99, counts and success rate of 1,200 random results equal the reference."""
    world = seed(migrated_db)
    rng = random.Random(20250301)
    cases = [world.login, world.catalog, world.cart]
    environments = [world.environment, None]
    # two UTC days, with starts close to midnight to check the day boundary
    midnight = datetime(2025, 3, 2, tzinfo=UTC)
    with psycopg.connect(migrated_db) as conn:
        runs = {env: _new_run(conn, world, env) for env in environments}
        # the seed recorded metrics for today; only our days are compared
        conn.execute("delete from performance_metrics")
    groups: dict[tuple[Any, Any, date], list[dict[str, Any]]] = defaultdict(list)
    batches: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for i in range(1200):
        case = rng.choice(cases)
        env = rng.choice(environments)
        started = midnight + timedelta(seconds=rng.uniform(-3 * 3600, 3 * 3600))
        status = rng.choices(STATUSES, weights=(70, 15, 5, 10))[0]
        response = None if rng.random() < 0.03 else round(rng.lognormvariate(4, 0.8), 3)
        result = {
            "test_case_id": str(case),
            "test_key": f"r{i}",
            "name": "r",
            "status": status,
            "error_category": {"failed": "assertion", "error": "timeout"}.get(status),
            "started_at": started.isoformat(),
            "response_time_ms": response,
        }
        batches[env].append(result)
        groups[(case, env, started.date())].append(result)
    for env, results in batches.items():
        for start in range(0, len(results), 150):  # several batches per group
            _record(migrated_db, world, runs[env], results[start : start + 150])

    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select test_case_id, environment_id, metric_date, total_runs, successful_runs, "
            "avg_response_ms, p50_response_ms, p95_response_ms, p99_response_ms, "
            "min_response_ms, max_response_ms, success_rate from performance_metrics"
        ).fetchall()
    got = {(r[0], r[1], r[2]): r[3:] for r in rows}

    expected = {}
    for key, results in groups.items():
        counted = [r for r in results if r["status"] != "skipped"]
        if not counted:
            continue
        times = [r["response_time_ms"] for r in counted if r["response_time_ms"] is not None]
        ok = sum(r["status"] == "passed" for r in counted)
        expected[key] = (
            len(counted),
            ok,
            sum(times) / len(times),
            percentile(times, 0.50),
            percentile(times, 0.95),
            percentile(times, 0.99),
            min(times),
            max(times),
            ok / len(counted),
        )
    assert len(expected) == 12
    assert set(got) == set(expected)
    for key, want in expected.items():
        have = got[key]
        assert have[:2] == want[:2], key
        for h, w in zip(have[2:], want[2:], strict=True):
            assert math.isclose(h, w, rel_tol=0, abs_tol=1e-9), (key, h, w)


def test_skipped_results_do_not_count_as_runs(migrated_db: str) -> None:
    """Skipped results change no metric, and a group of only skipped results gets no row."""
    world = seed(migrated_db)
    day = datetime(2025, 5, 5, 10, tzinfo=UTC)
    with psycopg.connect(migrated_db) as conn:
        run = _new_run(conn, world, world.environment)
    base = {"test_case_id": str(world.catalog), "name": "c", "started_at": day.isoformat()}
    _record(
        migrated_db,
        world,
        run,
        [
            {**base, "test_key": "a", "status": "passed", "response_time_ms": 10.0},
            {
                **base,
                "test_key": "b",
                "status": "failed",
                "error_category": "assertion",
                "response_time_ms": 30.0,
            },
            {
                **base,
                "test_key": "c",
                "status": "skipped",
                "error_category": "blocked",
                "response_time_ms": 1000.0,
            },
            {**base, "test_key": "d", "test_case_id": str(world.cart), "status": "skipped"},
        ],
    )
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select test_case_id, total_runs, successful_runs, avg_response_ms, max_response_ms, "
            "success_rate from performance_metrics where metric_date = '2025-05-05'"
        ).fetchall()
    assert rows == [(world.catalog, 2, 1, 20.0, 30.0, 0.5)]


def test_failures_are_grouped_by_normalised_message(migrated_db: str) -> None:
    """Failures differing only in numbers and ids share a fingerprint, count and last run."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute("delete from failure_analysis")
        first, second = _new_run(conn, world, None), _new_run(conn, world, None)
    base = {"test_case_id": str(world.catalog), "name": "c", "status": "error"}
    _record(
        migrated_db,
        world,
        first,
        [
            {
                **base,
                "test_key": "a",
                "error_category": "timeout",
                "message": "timed out after 30 s",
                "started_at": "2025-01-01T00:00:00Z",
            },
            {
                **base,
                "test_key": "b",
                "error_category": "timeout",
                "message": "Timed out after 45 s",
                "started_at": "2025-01-02T00:00:00Z",
            },
            {
                **base,
                "test_key": "c",
                "error_category": "connection",
                "message": "refused 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            },
        ],
    )
    _record(
        migrated_db,
        world,
        second,
        [
            {
                **base,
                "test_key": "a",
                "error_category": "timeout",
                "message": "timed out after 5 s",
                "started_at": "2025-01-03T00:00:00Z",
            },
            {**base, "test_key": "b", "status": "passed"},
        ],
    )
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select error_category, normalized_message, occurrences, first_seen::date, "
            "last_seen::date, last_run_id = %s, sample_message from failure_analysis "
            "order by error_category",
            (second,),
        ).fetchall()
    assert rows[0][:3] == ("connection", "refused <uuid>", 1)
    assert rows[1] == (
        "timeout",
        "timed out after <n> s",
        3,
        date(2025, 1, 1),
        date(2025, 1, 3),
        True,
        "timed out after 5 s",
    )


def test_run_history_is_recomputed_when_runs_finish(migrated_db: str) -> None:
    """Finishing runs updates the day's history row: counts by status and mean duration."""
    world = seed(migrated_db)
    day = datetime(2025, 6, 1, 8, tzinfo=UTC)
    with psycopg.connect(migrated_db) as conn:
        runs = []
        for minutes in (1, 2, 3):
            row = conn.execute(
                "insert into test_runs (project_id, suite_id, started_at) values (%s, %s, %s) "
                "returning id",
                (world.project, world.suite, day + timedelta(minutes=minutes)),
            ).fetchone()
            assert row is not None
            runs.append(row[0])
    _record(migrated_db, world, runs[0], [{"test_key": "a", "name": "a", "status": "passed"}])
    for run, status, seconds in zip(
        runs, ("passed", "failed", "interrupted"), (10, 20, 60), strict=True
    ):
        with psycopg.connect(migrated_db) as conn:
            conn.execute(
                "update test_runs set status = %s, finished_at = started_at + %s * interval '1 "
                "second' "
                "where id = %s",
                (status, seconds, run),
            )
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select suite_id, environment_id, total_runs, passed_runs, failed_runs, errored_runs, "
            "interrupted_runs, avg_duration_ms, total_tests, passed_tests from test_run_history "
            "where run_date = '2025-06-01'"
        ).fetchall()
    assert rows == [(world.suite, None, 3, 1, 1, 0, 1, 30000.0, 1, 1)]


async def test_concurrent_batches_of_one_group_are_both_counted(migrated_db: str) -> None:
    """Two uncommitted batches for one metrics group, committed in turn, are both in the metrics."""
    world = seed(migrated_db)
    day = "2025-07-07T12:00:00Z"
    with psycopg.connect(migrated_db) as conn:
        runs = [_new_run(conn, world, world.environment) for _ in range(2)]

    def batch(prefix: str, times: list[float]) -> str:
        return json.dumps(
            [
                {
                    "test_case_id": str(world.login),
                    "test_key": f"{prefix}{i}",
                    "name": "l",
                    "status": "passed",
                    "started_at": day,
                    "response_time_ms": t,
                }
                for i, t in enumerate(times)
            ]
        )

    first = await psycopg.AsyncConnection.connect(migrated_db)
    second = await psycopg.AsyncConnection.connect(migrated_db)
    watcher = await psycopg.AsyncConnection.connect(migrated_db, autocommit=True)
    try:
        await first.execute(
            "select public.record_results(%s, %s)", (runs[0], batch("a", [1.0, 2.0, 3.0]))
        )
        pending = asyncio.ensure_future(
            second.execute(
                "select public.record_results(%s, %s)", (runs[1], batch("b", [10.0, 20.0]))
            )
        )
        deadline = time.monotonic() + 60
        waiting = 0
        while not waiting and time.monotonic() < deadline:
            cur = await watcher.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            )
            row = await cur.fetchone()
            waiting = row[0] if row else 0
            await asyncio.sleep(0)  # let the second batch reach the lock (no fixed delay)
        assert waiting == 1, "the second batch did not wait for the first"
        await first.commit()
        await pending
        await second.commit()
    finally:
        for c in (first, second, watcher):
            await c.close()
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select total_runs, avg_response_ms, p50_response_ms from performance_metrics "
            "where test_case_id = %s and metric_date = '2025-07-07'",
            (world.login,),
        ).fetchone()
    assert row == (5, 7.2, 3.0)
