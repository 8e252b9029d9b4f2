"""Spill files replayed by a later command: complete, idempotent, and never under a live run.

The replay goes through the store's own batch function, so it runs for both stores:
``PostgresStore`` on a direct connection and ``SupabaseStore`` over a live ``serve``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from runner.db.connect import Target
from runner.plan.graph import build_plan
from runner.settings import Settings
from runner.store.base import RunInfo
from runner.store.factory import open_store, replay_spilled
from runner.store.postgres import PostgresStore
from runner.store.postgres import is_outage as postgres_outage
from runner.store.supabase import SupabaseStore
from runner.store.supabase import is_outage as supabase_outage
from runner.store.writer import FINISH, Op, append_spill, hold_spill_lock, spill_path
from runner.suite.load import load_suite_text
from support_serve import serving

pytestmark = pytest.mark.db

SUITE = """
name: replayed
base_url: http://replayed.test
tests:
  - id: login
    request: {method: POST, url: /login}
  - id: me
    request: {url: /me}
"""

MakeStore = Callable[[], Any]


@pytest.fixture(params=["postgres", "supabase"])
def make_store(
    request: pytest.FixtureRequest, migrated_db: str, tmp_path: Path
) -> Iterator[MakeStore]:
    """Makes the store under test, recording into ``migrated_db`` with spill files in tmp."""
    spill = tmp_path / "data" / "spill"
    if request.param == "postgres":
        yield lambda: PostgresStore(Target(migrated_db, embedded=True), spill_dir=spill)
        return
    with serving(migrated_db) as handle:
        yield lambda: SupabaseStore(handle.url, handle.service_role_key, spill_dir=spill)


def rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def result(key: str, status: str = "passed") -> dict[str, Any]:
    at = "2026-01-01T00:00:00+00:00"
    attempt = {"number": 1, "started_at": at, "status_code": 200, "duration_ms": 1.0}
    return {"test_key": key, "name": key, "status": status, "attempts": [attempt]}


async def started_run(make_store: MakeStore, tmp_path: Path) -> str:
    """A run that started, then lost its database for good (nothing more written)."""
    plan = build_plan(load_suite_text(SUITE, file="replayed.yaml", base_dir=tmp_path))
    info = RunInfo(suite=plan.suite, environment=None, order=tuple(plan.order), trigger="api")
    async with make_store() as store:
        run_id = await store.start_run(info)
    assert run_id is not None
    return run_id


def kept(run_id: str) -> list[Op]:
    """What a run killed by an outage leaves: starts, context, results, its finish last."""
    return [
        ("started", "login"),
        ("result", result("login")),
        ("capture", ["login", {"user": "ann"}]),
        ("variables", {"region": "eu"}),
        ("started", "me"),
        ("result", result("me", "failed")),
        (FINISH, "failed"),
    ]


def assert_replayed(url: str, run_id: str) -> None:
    """The run as if the outage never happened: each row once, counters and status right."""
    assert rows(
        url,
        "select status, completed_tests, passed_tests, failed_tests from test_runs where id = %s",
        (run_id,),
    ) == [("failed", 2, 1, 1)]
    assert sorted(
        rows(
            url,
            "select test_key, status, attempt_count from test_results where run_id = %s",
            (run_id,),
        )
    ) == [("login", "passed", 1), ("me", "failed", 1)]
    assert rows(
        url,
        "select count(*) from test_result_details d join test_results r on r.id = d.result_id "
        "where r.run_id = %s and d.kind = 'attempt'",
        (run_id,),
    ) == [(2,)]
    assert rows(
        url,
        "select captured_data, shared_variables, running_tests "
        "from test_execution_context where run_id = %s",
        (run_id,),
    ) == [({"login": {"user": "ann"}}, {"region": "eu"}, [])]
    events = rows(
        url,
        "select event, count(*) from realtime.messages where topic = %s "
        "and event <> 'context_updated' group by event order by event",
        (f"run:{run_id}",),
    )
    assert events == [
        ("run_completed", 1),
        ("run_started", 1),
        ("test_completed", 1),
        ("test_failed", 1),
        ("test_started", 2),
    ]


async def test_a_spill_file_is_replayed_once_whatever_happens_twice(
    make_store: MakeStore, migrated_db: str, tmp_path: Path
) -> None:
    """Replayed, then replayed again (a crash before the file was removed): nothing doubles."""
    run_id = await started_run(make_store, tmp_path)
    spill_dir = tmp_path / "data" / "spill"
    spill = spill_path(spill_dir, run_id)
    append_spill(spill, kept(run_id))
    copy = tmp_path / "copy.jsonl"
    shutil.copy(spill, copy)

    async with make_store() as store:
        report = await store.replay_spilled()
    assert (report.runs, report.results, report.operations, report.left) == ((run_id,), 2, 7, ())
    assert not spill.exists()
    assert_replayed(migrated_db, run_id)

    shutil.copy(copy, spill)
    async with make_store() as store:
        again = await store.replay_spilled()
    assert again.runs == (run_id,)
    assert_replayed(migrated_db, run_id)


async def test_a_file_whose_run_goes_on_is_left_to_it(
    make_store: MakeStore, migrated_db: str, tmp_path: Path
) -> None:
    """While the run's writer holds the file's lock, a replay leaves the file alone."""
    run_id = await started_run(make_store, tmp_path)
    spill = spill_path(tmp_path / "data" / "spill", run_id)
    append_spill(spill, kept(run_id))
    lock = hold_spill_lock(spill)  # the live run
    assert lock is not None
    try:
        async with make_store() as store:
            report = await store.replay_spilled()
        assert (report.runs, report.left, report.left_results) == ((), (spill,), 2)
        assert rows(migrated_db, "select count(*) from test_results") == [(0,)]
    finally:
        lock.close()
    async with make_store() as store:
        assert (await store.replay_spilled()).runs == (run_id,)
    assert_replayed(migrated_db, run_id)


async def test_opening_the_store_replays_and_a_refused_file_is_kept(
    migrated_db: str, tmp_path: Path
) -> None:
    """open_store writes what an earlier run kept; a file the database refuses stays, reported."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=migrated_db, data_dir=tmp_path / "data"
    )
    spill = tmp_path / "data" / "spill"
    run_id = await started_run(
        lambda: PostgresStore(Target(migrated_db, embedded=False), spill_dir=spill), tmp_path
    )
    append_spill(spill_path(spill, run_id), kept(run_id))
    unknown = spill_path(spill, "00000000-0000-4000-8000-000000000000")
    append_spill(unknown, [("result", result("ghost"))])

    async with open_store(settings) as store:
        assert store.name == "postgres"
    assert_replayed(migrated_db, run_id)
    assert unknown.exists()
    report = await replay_spilled(settings)
    assert report.runs == () and report.left == (unknown,) and report.left_results == 1
    assert "does not exist" in report.errors[0]


def test_which_errors_are_outages() -> None:
    """Connection errors and passing server states are waited out; data errors are not."""
    assert postgres_outage(psycopg.OperationalError("connection refused"))
    assert postgres_outage(psycopg.errors.AdminShutdown("terminating connection"))
    assert postgres_outage(psycopg.errors.CannotConnectNow("the database system is starting up"))
    assert not postgres_outage(psycopg.errors.ObjectNotInPrerequisiteState("already finished"))
    assert not postgres_outage(psycopg.errors.ForeignKeyViolation("no such test case"))
    assert not postgres_outage(ValueError("bad value"))
    assert supabase_outage(httpx.ConnectError("refused"))
    assert supabase_outage(httpx.ReadTimeout("slow"))

    class APIError(Exception):
        def __init__(self, code: str) -> None:
            self.code = code

    assert supabase_outage(APIError("PGRST001"))
    assert supabase_outage(APIError("57P01"))
    assert not supabase_outage(APIError("23503"))
    assert not supabase_outage(APIError("55000"))


async def test_a_start_sent_twice_is_announced_once(migrated_db: str, tmp_path: Path) -> None:
    """tests_started skips keys already running or recorded (0031): one event per test."""
    run_id = await started_run(
        lambda: PostgresStore(Target(migrated_db, embedded=True), spill_dir=tmp_path), tmp_path
    )
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        started = "select public.tests_started(%s, %s)"
        counts = [
            conn.execute(started, (run_id, ["login", "me"])).fetchone(),
            conn.execute(started, (run_id, ["login", "me"])).fetchone(),  # the answer was lost
        ]
        conn.execute(
            "select public.record_results(%s, %s::jsonb)",
            (run_id, json.dumps([result("login")])),
        )
        counts.append(conn.execute(started, (run_id, ["login"])).fetchone())  # replayed later
    assert counts == [(2,), (0,), (0,)]
    assert rows(
        migrated_db,
        "select count(*) from realtime.messages where topic = %s and event = 'test_started'",
        (f"run:{run_id}",),
    ) == [(2,)]
    assert rows(
        migrated_db,
        "select running_tests from test_execution_context where run_id = %s",
        (run_id,),
    ) == [(["me"],)]
