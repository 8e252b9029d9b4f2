"""Synthetic run histories for the analytics tests: runs at chosen times, results, finish.

Everything goes through the same path as the runner: a run row, ``record_results``
and ``finish_run`` as the service role, so the finish triggers do their work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from helpers import World, acting_as, seed

DAY0 = datetime(2025, 3, 1, 10, tzinfo=UTC)
"""Histories start here: far from the seed's own runs (made at now())."""


def seed_history(url: str) -> World:
    """The seeded world without its sample analytics rows (quarantine, detection, regression)."""
    world = seed(url)
    with psycopg.connect(url) as conn:
        for table in ("test_quarantines", "flaky_test_detections", "performance_regressions"):
            conn.execute(f"delete from public.{table}")  # noqa: S608
    return world


def at(day: int, minutes: int = 0) -> datetime:
    """``DAY0`` plus ``day`` days and ``minutes`` minutes."""
    return DAY0 + timedelta(days=day, minutes=minutes)


def result(
    world: World,
    test: str,
    status: str,
    when: datetime,
    *,
    ms: float | None = 10.0,
    retried: bool = False,
    key: str | None = None,
    category: str | None = None,
    message: str = "",
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One element of ``record_results``' array for seeded test case ``test``."""
    if status != "passed" and category is None:
        category = {"failed": "assertion", "error": "timeout", "skipped": "blocked"}[status]
    attempts = [
        {"number": n, "started_at": when.isoformat(), "duration_ms": ms or 1.0}
        for n in range(1, 3 if retried else 2)
    ]
    row: dict[str, Any] = {
        "test_case_id": str(getattr(world, test)),
        "test_key": key or test,
        "name": test.title(),
        "status": status,
        "error_category": category,
        "message": message or ("" if status == "passed" else f"{test} {status}"),
        "started_at": when.isoformat(),
        "finished_at": when.isoformat(),
        "response_time_ms": ms if status != "skipped" else None,
        "passed_after_retry": retried,
        "attempts": attempts if status != "skipped" else [],
    }
    if request is not None:
        row["request"] = request
    return row


def run(
    url: str,
    world: World,
    when: datetime,
    results: list[dict[str, Any]],
    *,
    environment: Any = "default",
    status: str | None = None,
) -> Any:
    """A finished run started at ``when`` holding ``results``; returns its id.

    The environment defaults to the seeded one; pass None for a run without one.
    The final status is failed when any result failed or errored, unless given.
    """
    env = world.environment if environment == "default" else environment
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "insert into test_runs (project_id, suite_id, environment_id, started_at) "
            "values (%s, %s, %s, %s) returning id",
            (world.project, world.suite, env, when),
        ).fetchone()
    assert row is not None
    run_id = row[0]
    with acting_as(url, world, "service_role") as cur:
        cur.execute("select public.record_results(%s, %s)", (run_id, json.dumps(results)))
    if status is None:
        bad = any(r["status"] in ("failed", "error") for r in results)
        status = "failed" if bad else "passed"
    with acting_as(url, world, "service_role") as cur:
        cur.execute("select public.finish_run(%s, %s)", (run_id, status))
    return run_id


def rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """All rows of a query run as the superuser."""
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def events(url: str, run_id: Any, event: str) -> list[dict[str, Any]]:
    """Payloads of the realtime broadcasts of type ``event`` on topic ``run:<run_id>``."""
    found = rows(
        url,
        "select payload from realtime.messages where topic = %s and event = %s "
        "order by inserted_at, (payload ->> 'seq')::bigint",
        (f"run:{run_id}", event),
    )
    return [r[0] for r in found]
