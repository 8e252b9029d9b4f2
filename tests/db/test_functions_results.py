"""record_results, finish_run and environment_secrets: what they write and what they refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from helpers import World, acting_as, seed
from psycopg import errors
from psycopg.rows import dict_row

pytestmark = pytest.mark.db

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _result(key: str, **extra: Any) -> dict[str, Any]:
    return {"test_key": key, "name": key.title(), "status": "passed", **extra}


def _new_run(url: str, world: World) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "insert into test_runs (project_id, environment_id) values (%s, %s) returning id",
            (world.project, world.environment),
        ).fetchone()
    assert row is not None
    return row[0]


def _record(
    url: str, world: World, run: Any, results: list[dict[str, Any]], actor: str = "editor"
) -> int:
    with acting_as(url, world, actor) as cur:
        cur.execute("select public.record_results(%s, %s)", (run, json.dumps(results)))
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def test_record_results_stores_results_checks_and_attempts(migrated_db: str) -> None:
    """Every field of a result lands in test_results, checks and attempts in test_result_details."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    full = {
        "test_case_id": str(world.catalog),
        "test_key": "catalog[1]",
        "name": "Catalog",
        "row_index": 1,
        "status": "failed",
        "error_category": "assertion",
        "message": "status 500",
        "started_at": T0.isoformat(),
        "finished_at": (T0 + timedelta(seconds=1)).isoformat(),
        "response_time_ms": 812.25,
        "status_code": 500,
        "passed_after_retry": False,
        "request": {"method": "GET", "url": "/items"},
        "response": {"status_code": 500, "body": "boom"},
        "captured": {"ids": [1]},
        "checks": [
            {
                "name": "status",
                "passed": False,
                "expected": 200,
                "actual": 500,
                "message": "500 != 200",
            },
            {"name": "body", "passed": True, "expected": None, "actual": {"a": 1}},
        ],
        "attempts": [
            {
                "number": 1,
                "started_at": T0.isoformat(),
                "duration_ms": 400.5,
                "status_code": 503,
                "error_category": "http_5xx",
                "error": "503",
            },
            {
                "number": 2,
                "started_at": (T0 + timedelta(milliseconds=500)).isoformat(),
                "duration_ms": 812.25,
                "status_code": 500,
                "error_category": None,
                "error": None,
            },
        ],
    }
    minimal = {"test_key": "ping", "status": "skipped", "error_category": "blocked"}
    assert _record(migrated_db, world, run, [full, minimal]) == 2

    with psycopg.connect(migrated_db, row_factory=dict_row) as conn:
        rows = conn.execute(
            "select * from test_results where run_id = %s order by test_key", (run,)
        ).fetchall()
        details = conn.execute(
            "select d.* from test_result_details d join test_results r on r.id = d.result_id "
            "where r.run_id = %s order by d.kind, d.ordinal",
            (run,),
        ).fetchall()
    stored, ping = rows
    assert stored["test_case_id"] == world.catalog
    assert stored["organization_id"] == world.org_a and stored["project_id"] == world.project
    assert stored["environment_id"] == world.environment
    assert (stored["row_index"], stored["status"], stored["error_category"]) == (
        1,
        "failed",
        "assertion",
    )
    assert (stored["message"], stored["status_code"], stored["response_time_ms"]) == (
        "status 500",
        500,
        812.25,
    )
    assert (stored["started_at"], stored["finished_at"]) == (T0, T0 + timedelta(seconds=1))
    assert stored["attempt_count"] == 2 and stored["passed_after_retry"] is False
    assert stored["request_snapshot"] == {"method": "GET", "url": "/items"}
    assert stored["response_snapshot"] == {"status_code": 500, "body": "boom"}
    assert stored["captured"] == {"ids": [1]}
    assert (ping["name"], ping["message"], ping["captured"], ping["attempt_count"]) == (
        "ping",
        "",
        {},
        0,
    )
    assert ping["request_snapshot"] is None and ping["test_case_id"] is None

    shapes = [
        (
            d["kind"],
            d["ordinal"],
            d["name"],
            d["passed"],
            d["expected"],
            d["actual"],
            d["message"],
            d["duration_ms"],
            d["status_code"],
            d["error_category"],
            d["error"],
        )
        for d in details
    ]
    assert shapes == [
        ("assertion", 1, "status", False, 200, 500, "500 != 200", None, None, None, None),
        ("assertion", 2, "body", True, None, {"a": 1}, "", None, None, None, None),
        ("attempt", 1, None, None, None, None, None, 400.5, 503, "http_5xx", "503"),
        ("attempt", 2, None, None, None, None, None, 812.25, 500, None, None),
    ]
    assert all(d["organization_id"] == world.org_a for d in details)


def test_record_results_is_idempotent_per_test_key(migrated_db: str) -> None:
    """Replaying a batch inserts nothing twice and returns only the new rows."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    batch = [_result("a", checks=[{"name": "s", "passed": True}]), _result("b")]
    assert _record(migrated_db, world, run, batch) == 2
    assert _record(migrated_db, world, run, [*batch, _result("c")]) == 1
    with psycopg.connect(migrated_db) as conn:
        counts = conn.execute(
            "select (select count(*) from test_results where run_id = %s), "
            "(select count(*) from test_result_details d join test_results r on r.id = d.result_id "
            " where r.run_id = %s), (select completed_tests from test_runs where id = %s)",
            (run, run, run),
        ).fetchone()
    assert counts == (3, 1, 3)


def test_record_results_handles_a_batch_of_hundreds(migrated_db: str) -> None:
    """Five hundred results with three checks and two attempts each are stored in one call."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    batch = [
        _result(
            f"t{i}",
            test_case_id=str(world.login if i % 2 else world.cart),
            started_at=T0.isoformat(),
            response_time_ms=float(i),
            checks=[{"name": f"c{j}", "passed": True} for j in range(3)],
            attempts=[
                {"number": n, "started_at": T0.isoformat(), "duration_ms": 1.0} for n in (1, 2)
            ],
        )
        for i in range(500)
    ]
    assert _record(migrated_db, world, run, batch, actor="service_role") == 500
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select count(*) filter (where kind = 'assertion'), count(*) filter (where kind = "
            "'attempt') "
            "from test_result_details d join test_results r on r.id = d.result_id where r.run_id "
            "= %s",
            (run,),
        ).fetchone()
    assert row == (1500, 1000)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"not": "an array"}, errors.InvalidParameterValue),
        ([{"test_key": "x", "status": "bogus"}], errors.CheckViolation),
        (
            [{"test_key": "x", "status": "passed", "error_category": "timeout"}],
            errors.CheckViolation,
        ),
        ([{"name": "no key", "status": "passed"}], errors.NotNullViolation),
    ],
)
def test_record_results_rejects_invalid_batches_whole(
    migrated_db: str, payload: Any, error: type[Exception]
) -> None:
    """An invalid batch raises and stores nothing, not even its valid rows."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    batch = [_result("fine"), *payload] if isinstance(payload, list) else payload
    with pytest.raises(error):
        _record(migrated_db, world, run, batch)
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute(
            "select count(*) from test_results where run_id = %s", (run,)
        ).fetchone() == (0,)


def test_finish_run_sets_status_end_and_duration(migrated_db: str) -> None:
    """finish_run sets the status, finished_at and duration_ms = finished_at - started_at."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update test_runs set started_at = now() - interval '90.5 seconds' where id = %s",
            (run,),
        )
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("select public.finish_run(%s, 'failed')", (run,))
        cur.execute("select now()")
        row = cur.fetchone()
        assert row is not None
        finished = row[0]
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select status, finished_at, duration_ms, "
            "round(extract(epoch from finished_at - started_at) * 1000) from test_runs where id = "
            "%s",
            (run,),
        ).fetchone()
    assert row is not None
    status, finished_at, duration_ms, expected_ms = row
    assert (status, finished_at) == ("failed", finished)
    assert duration_ms == expected_ms and 90_000 <= duration_ms <= 100_000


def test_finish_run_twice(migrated_db: str) -> None:
    """Finishing again with the same status is a no-op; with another status it raises."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("select public.finish_run(%s, 'passed')", (world.run,))
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("select public.finish_run(%s, 'passed')", (world.run,))
    with (
        pytest.raises(errors.ObjectNotInPrerequisiteState, match="already finished as passed"),
        acting_as(migrated_db, world, "editor") as cur,
    ):
        cur.execute("select public.finish_run(%s, 'failed')", (world.run,))


@pytest.mark.parametrize("status", ["running", "done", None])
def test_finish_run_rejects_a_non_final_status(migrated_db: str, status: str | None) -> None:
    """Only passed, failed, interrupted and error finish a run."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InvalidParameterValue),
        acting_as(migrated_db, world, "editor") as cur,
    ):
        cur.execute("select public.finish_run(%s, %s)", (world.run, status))


def test_secret_ciphertext_is_hidden_from_members_and_given_to_admins(migrated_db: str) -> None:
    """No user may select encrypted_value; admins get the ciphertext from environment_secrets."""
    world = seed(migrated_db)
    for actor in ("member", "editor", "admin"):
        with (
            pytest.raises(errors.InsufficientPrivilege),
            acting_as(migrated_db, world, actor) as cur,
        ):
            cur.execute("select encrypted_value from environment_variables")
        with (
            pytest.raises(errors.InsufficientPrivilege),
            acting_as(migrated_db, world, actor) as cur,
        ):
            cur.execute("select * from environment_variables")
    with acting_as(migrated_db, world, "member") as cur:
        cur.execute("select name, is_secret, value from environment_variables order by name")
        assert cur.fetchall() == [("password", True, None), ("region", False, "eu")]
    with acting_as(migrated_db, world, "admin") as cur:
        cur.execute("select * from public.environment_secrets(%s)", (world.environment,))
        assert cur.fetchall() == [("password", b"\xde\xad\xbe\xef", "k1")]
