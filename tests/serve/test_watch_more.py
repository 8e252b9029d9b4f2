"""watch_run against serve with hand-made events: missed seqs, unknown runs, bad ids."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from runner.cli.watch import Connection, RunView, watch_run
from runner.errors import ConfigError, DatabaseError
from support_realtime import TIMEOUT, make_user, sql
from support_serve import ServeHandle

pytestmark = pytest.mark.db


def running_run(db_url: str) -> str:
    """A running run of a fresh project (its row is born with event seq 1: run_started)."""
    owner = make_user(db_url, "watcher")
    project, run = str(uuid.uuid4()), str(uuid.uuid4())
    sql(
        db_url,
        "insert into public.projects (id, organization_id, name, slug) values (%s, %s, 'P', %s)",
        (project, owner.org_id, f"p-{project[:8]}"),
    )
    sql(
        db_url,
        "insert into public.test_runs (id, organization_id, project_id, suite_name, total_tests)"
        " values (%s, %s, %s, 'hand-made', 2)",
        (run, owner.org_id, project),
    )
    return run


def emit(db_url: str, run_id: str, kind: str, payload: str) -> int:
    """One run event as the database emits it; its seq."""
    rows = sql(db_url, "select private.emit_run_event(%s, %s, %s::jsonb)", (run_id, kind, payload))
    return int(rows[0][0])


async def test_a_seq_missed_right_after_the_first_read_is_noticed(serve: ServeHandle) -> None:
    """Events up to the run's event_seq are read over REST; a lost next one triggers a re-read."""
    run_id = running_run(serve.db_url)
    assert emit(serve.db_url, run_id, "test_started", '{"test_key": "a"}') == 2
    ready = asyncio.Event()
    lines: list[str] = []
    seen: list[int] = []

    def progress(view: RunView) -> None:
        seen.append(view.last_seq)
        ready.set()

    task = asyncio.create_task(
        watch_run(
            Connection(serve.url, serve.service_role_key),
            run_id,
            emit=lines.append,
            progress=progress,
        )
    )
    await asyncio.wait_for(ready.wait(), TIMEOUT)
    assert seen[0] == 2
    # a result is recorded and given seq 3, but its broadcast is lost (triggers off); seq 4 arrives
    with psycopg.connect(serve.db_url) as conn:
        conn.execute("set local session_replication_role = replica")
        conn.execute(
            "insert into public.test_results (organization_id, project_id, run_id, test_key, "
            "name, status, status_code, started_at, finished_at) "
            "select organization_id, project_id, id, 'lost', 'Lost', 'failed', 500, now(), now() "
            "from public.test_runs where id = %s",
            (run_id,),
        )
        conn.execute(
            "update public.test_runs set event_seq = event_seq + 1 where id = %s", (run_id,)
        )
    payload = '{"test_key": "b", "status": "passed", "status_code": 201}'
    assert emit(serve.db_url, run_id, "test_completed", payload) == 4
    sql(
        serve.db_url,
        "update public.test_runs set status = 'passed', finished_at = now() where id = %s",
        (run_id,),
    )
    view = await asyncio.wait_for(task, 30)
    assert lines[0] == f"watching run {run_id} (hand-made, 2 tests)"
    assert "  (missed events: re-reading the run)" in lines
    assert view.gaps == 1 and view.status == "passed"
    assert [line.split() for line in lines if "PASS" in line or "FAIL" in line] == [
        ["PASS", "b", "201"],
        ["FAIL", "lost", "500"],
    ]
    assert lines[-1] == f"run {run_id} passed: 1 passed, 1 failed, 0 errors, 0 skipped"


async def test_an_unknown_run_is_a_config_error(serve: ServeHandle) -> None:
    """Watching a run id that does not exist says so instead of waiting forever."""
    missing = str(uuid.uuid4())
    with pytest.raises(ConfigError, match=f"run {missing} not found"):
        await asyncio.wait_for(
            watch_run(Connection(serve.url, serve.service_role_key), missing, emit=print), 30
        )


async def test_a_run_id_that_is_not_a_uuid_is_a_database_error(serve: ServeHandle) -> None:
    """A malformed run id fails the REST read with a DatabaseError naming the run."""
    with pytest.raises(DatabaseError, match="cannot read run not-a-uuid"):
        await asyncio.wait_for(
            watch_run(Connection(serve.url, serve.service_role_key), "not-a-uuid", emit=print), 30
        )
