"""The pytest plugin: a pytest session, run in a subprocess, recorded through the store.

Each test writes a small test file and runs ``python -m pytest -p runner.pytest_plugin
--runner-record`` on it (plugin autoloading off, so exactly this plugin and
pytest-asyncio are loaded), then reads what the session left in the database.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support import free_port

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "db"))

from helpers import seed  # noqa: E402

SAMPLE = """
import asyncio

import pytest


def test_ok():
    pass


def test_bad():
    assert 1 == 2, "boom"


@pytest.mark.skip(reason="later")
def test_later():
    pass


@pytest.mark.smoke
@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n


@pytest.fixture
def broken():
    raise RuntimeError("no fixture today")


def test_setup_error(broken):
    pass


def test_raises():
    raise ConnectionError("refused")


@pytest.mark.asyncio
async def test_async_loop_is_ours():
    await asyncio.sleep(0)


def test_shares_context(runner_context):
    runner_context.publish(
        captured={"uid": 7}, tokens={"user": "tok-s3cret-42"}, variables={"tenant": "acme"}
    )

    async def publish():
        async with runner_context.manager() as contexts:
            await contexts.update_shared_variables(
                runner_context.run_id, {"from_pytest": 1}, produced_by="test_shares_context"
            )

    asyncio.run(publish())


def test_leaks_token(runner_context):
    assert "tok-s3cret-42" == "nope"
"""

PASSING = """
def test_one():
    pass


def test_two(runner_context):
    runner_context.publish(variables={"who": "me"})
"""

MIXED = """
def test_ok():
    pass


def test_bad():
    assert 1 == 2, "boom"


def test_needs_the_run(runner_context):
    pass
"""

EDGES = """
import pytest


@pytest.fixture
def leaky():
    yield
    raise RuntimeError("teardown broke")


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


def test_teardown_error(leaky):
    pass


def test_after_the_error():
    pass


def test_never_run():
    pass
"""

SUBTESTS = """
def test_each_item(subtests):
    for n in (1, 2, 3):
        with subtests.test(msg="item", n=n):
            assert n != 2
"""

CUT_OFF = """
import os

import psycopg


def test_first():
    pass


def test_cuts_the_store_off(runner_context):  # the fixture waits for the run to start
    with psycopg.connect(os.environ["RUNNER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid()"
        )
"""


LOCKED_OUT = """
import os

import psycopg


def test_first():
    pass


def test_locks_the_store_out(runner_context):  # the fixture waits for the run to start
    server, name = os.environ["RUNNER_DATABASE_URL"].rsplit("/", 1)
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'alter database "{name}" allow_connections false')
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,)
        )
"""


def _rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _record(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
    env: dict[str, str],
    *args: str,
) -> pytest.RunResult:
    """Run pytest with the plugin on ``source`` in a subprocess, with only ``env`` as settings."""
    for name in list(os.environ):
        if name.startswith(("RUNNER_", "SUPABASE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("RUNNER_DATA_DIR", str(pytester.path / ".runner"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_sample=source)
    return pytester.run(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "runner.pytest_plugin",
        "-p",
        "pytest_asyncio.plugin",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-rs",
        *args,
        "test_sample.py",
        timeout=240,
    )


def _runner_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("runner:")]


def _events(url: str, run_id: str) -> list[dict[str, Any]]:
    return [
        r[0]
        for r in _rows(
            url,
            "select payload from realtime.messages where topic = %s "
            "order by (payload ->> 'seq')::bigint",
            (f"run:{run_id}",),
        )
    ]


def test_session_is_recorded_through_the_store(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test is a result of one pytest run, with checks, attempts, context and events."""
    result = _record(
        pytester, monkeypatch, SAMPLE, {"RUNNER_DATABASE_URL": migrated_db}, "--runner-record"
    )
    result.assert_outcomes(passed=5, failed=3, skipped=1, errors=1)
    assert result.ret == 1
    runs = _rows(
        migrated_db,
        "select id::text, status, trigger, total_tests, completed_tests, passed_tests, "
        "failed_tests, errored_tests, skipped_tests, suite_name from test_runs",
    )
    assert [r[1:] for r in runs] == [("failed", "pytest", 10, 10, 5, 2, 2, 1, "pytest")]
    run_id = runs[0][0]
    assert _runner_lines(result) == [f"runner: recorded run {run_id}"]
    results = _rows(
        migrated_db,
        "select test_key, status, error_category, message from test_results order by test_key",
    )
    assert results == [
        ("test_sample.py::test_async_loop_is_ours", "passed", None, ""),
        ("test_sample.py::test_bad", "failed", "assertion", "AssertionError: boom"),
        ("test_sample.py::test_later", "skipped", None, "Skipped: later"),
        (
            "test_sample.py::test_leaks_token",
            "failed",
            "assertion",
            "AssertionError: assert '[REDACTED]' == 'nope'",
        ),
        ("test_sample.py::test_ok", "passed", None, ""),
        ("test_sample.py::test_param[1]", "passed", None, ""),
        ("test_sample.py::test_param[2]", "passed", None, ""),
        ("test_sample.py::test_raises", "error", "connection", "ConnectionError: refused"),
        (
            "test_sample.py::test_setup_error",
            "error",
            "internal",
            "RuntimeError: no fixture today",
        ),
        ("test_sample.py::test_shares_context", "passed", None, ""),
    ]
    # the suite made of the collected items, with stable identifiers as test ids
    cases = _rows(
        migrated_db,
        "select stable_id, tags from test_cases where name = 'test_sample.py::test_param[1]'",
    )
    assert cases == [("test_sample_py_test_param_1", ["pytest", "smoke"])]
    details = _rows(
        migrated_db,
        "select d.kind, d.ordinal, d.name, d.passed, d.error_category, d.error "
        "from test_result_details d join test_results r on r.id = d.result_id "
        "where r.test_key = 'test_sample.py::test_bad' order by d.kind, d.ordinal",
    )
    assert details[0][:4] == ("assertion", 1, "assert at test_sample.py:11", False)
    assert details[1][:2] == ("attempt", 1)
    assert details[1][4:] == ("assertion", "AssertionError: boom")
    contexts = _rows(
        migrated_db,
        "select shared_auth_tokens, shared_variables, captured_data -> 'test_sample_py_"
        "test_shares_context' from test_execution_context where run_id = %s",
        (run_id,),
    )
    assert contexts == [({"user": "[REDACTED]"}, {"tenant": "acme", "from_pytest": 1}, {"uid": 7})]
    events = _events(migrated_db, run_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    kinds = [e["type"] for e in events]
    assert kinds.count("test_started") == 10
    assert (kinds.count("test_completed"), kinds.count("test_failed")) == (5, 4)
    assert kinds.count("test_skipped") == 1 and "context_updated" in kinds
    leaked = _rows(
        migrated_db,
        "select (select count(*) from realtime.messages where payload::text like '%s3cret%')"
        " + (select count(*) from test_results where message like '%s3cret%')"
        " + (select count(*) from test_result_details where error like '%s3cret%'"
        "    or message like '%s3cret%')"
        " + (select count(*) from test_execution_context where shared_auth_tokens::text"
        "    like '%s3cret%')",
    )
    assert leaked == [(0,)]


def test_recorded_as_a_signed_in_user(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With RUNNER_DATABASE_ROLE=authenticated an editor's session is recorded under their id."""
    world = seed(migrated_db)
    env = {
        "RUNNER_DATABASE_URL": migrated_db,
        "RUNNER_DATABASE_ROLE": "authenticated",
        "RUNNER_USER_ID": str(world.users["editor"]),
        "RUNNER_USER_EMAIL": "editor@example.test",
        "RUNNER_ORGANIZATION": "Org A",
        "RUNNER_PROJECT": "Shop",
    }
    result = _record(pytester, monkeypatch, PASSING, env, "--runner-record")
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    runs = _rows(
        migrated_db,
        "select r.id::text, r.status, r.total_tests, r.completed_tests, r.created_by, o.slug, "
        "p.slug from test_runs r join organizations o on o.id = r.organization_id "
        "join projects p on p.id = r.project_id where r.trigger = 'pytest'",
    )
    assert [r[1:] for r in runs] == [("passed", 2, 2, world.users["editor"], "org-a", "shop")]
    assert _runner_lines(result) == [f"runner: recorded run {runs[0][0]}"]
    variables = _rows(
        migrated_db,
        "select shared_variables from test_execution_context where run_id = %s",
        (runs[0][0],),
    )
    assert variables == [({"who": "me"},)]
    assert {e["type"] for e in _events(migrated_db, runs[0][0])} >= {
        "run_started",
        "test_completed",
        "run_completed",
    }


def test_a_refused_user_loses_the_results_and_says_so_once(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member may not record: tests still pass, one line says why, exit status 3."""
    world = seed(migrated_db)
    env = {
        "RUNNER_DATABASE_URL": migrated_db,
        "RUNNER_DATABASE_ROLE": "authenticated",
        "RUNNER_USER_ID": str(world.users["member"]),
        "RUNNER_USER_EMAIL": "member@example.test",
        "RUNNER_ORGANIZATION": "Org A",
    }
    result = _record(pytester, monkeypatch, PASSING, env, "--runner-record")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == 3
    lines = _runner_lines(result)
    assert len(lines) == 1
    assert lines[0].startswith("runner: recording failed: cannot record the run: ")
    assert "needs the editor role" in lines[0]
    assert lines[0].endswith("; 2 results not recorded")
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert _rows(migrated_db, "select count(*) from test_runs where trigger = 'pytest'") == [(0,)]


def test_an_unreachable_database_leaves_the_tests_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on the port: tests pass and fail as usual, one line at the end."""
    url = f"postgresql://runner@127.0.0.1:{free_port()}/nowhere"
    result = _record(pytester, monkeypatch, MIXED, {"RUNNER_DATABASE_URL": url}, "--runner-record")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    assert result.ret == 1  # the tests' own verdict
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    lines = _runner_lines(result)
    assert len(lines) == 1
    assert lines[0].startswith(f"runner: recording failed: cannot connect to {url}")
    assert lines[0].endswith("; 3 results not recorded")


def test_stopped_early_every_test_still_has_a_result(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With -x the tests pytest never ran are skipped (bailed), so the run is complete.

    The teardown error stops the session; xfail and teardown errors map as documented.
    """
    result = _record(
        pytester,
        monkeypatch,
        EDGES,
        {"RUNNER_DATABASE_URL": migrated_db},
        "--runner-record",
        "-x",
    )
    result.assert_outcomes(passed=1, xfailed=1, errors=1)
    runs = _rows(migrated_db, "select status, total_tests, completed_tests from test_runs")
    assert runs == [("failed", 4, 4)]
    results = _rows(
        migrated_db,
        "select test_key, status, error_category, message from test_results order by started_at",
    )
    assert results[:2] == [
        ("test_sample.py::test_xfail", "skipped", None, "xfail: known bug"),
        (
            "test_sample.py::test_teardown_error",
            "error",
            "internal",
            "teardown: RuntimeError: teardown broke",
        ),
    ]
    assert sorted(results[2:]) == [
        (
            "test_sample.py::test_after_the_error",
            "skipped",
            "bailed",
            "not run: pytest stopped early",
        ),
        ("test_sample.py::test_never_run", "skipped", "bailed", "not run: pytest stopped early"),
    ]


def test_a_failed_session_notifies_the_webhook(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RUNNER_WEBHOOK_URL gets run_failed for a failed session, as after run-suite."""
    got: queue.Queue[dict[str, Any]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.put(json.loads(body))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            "RUNNER_DATABASE_URL": migrated_db,
            "RUNNER_WEBHOOK_URL": f"http://127.0.0.1:{server.server_address[1]}/hook",
            "RUNNER_WEBHOOK_EVENTS": "run_failed",
        }
        result = _record(pytester, monkeypatch, MIXED, env, "--runner-record")
        result.assert_outcomes(passed=2, failed=1)
        payload = got.get(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    (run_id,) = _rows(migrated_db, "select id::text from test_runs")[0]
    assert (payload["event"], payload["run"]["id"], payload["run"]["status"]) == (
        "run_failed",
        run_id,
        "failed",
    )
    assert got.empty()


def test_subtests_are_checks_of_their_test(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each subtest is a check; one failing subtest fails the test (pytest >= 9)."""
    if not hasattr(pytest, "SubtestReport"):
        pytest.skip("subtests are built into pytest from version 9")
    result = _record(
        pytester, monkeypatch, SUBTESTS, {"RUNNER_DATABASE_URL": migrated_db}, "--runner-record"
    )
    assert result.ret == 1
    results = _rows(migrated_db, "select status, error_category, message from test_results")
    assert results == [("failed", "assertion", "contains 1 failed subtest")]
    checks = _rows(
        migrated_db,
        "select ordinal, name, passed from test_result_details "
        "where kind = 'assertion' order by ordinal",
    )
    assert checks == [
        (1, "subtest test_each_item [item] (n=1)", True),
        (2, "subtest test_each_item [item] (n=2)", False),
        (3, "subtest test_each_item [item] (n=3)", True),
    ]


def test_a_connection_cut_mid_session_is_replaced_and_nothing_is_lost(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's connection is killed: it reconnects and records every result, no spill."""
    result = _record(
        pytester, monkeypatch, CUT_OFF, {"RUNNER_DATABASE_URL": migrated_db}, "--runner-record"
    )
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    (run_id,) = _rows(migrated_db, "select id::text from test_runs")[0]
    assert _runner_lines(result) == [f"runner: recorded run {run_id}"]
    assert _rows(migrated_db, "select status, completed_tests from test_runs") == [("passed", 2)]
    assert _rows(migrated_db, "select count(*) from test_results") == [(2,)]
    assert not list((pytester.path / ".runner" / "spill").glob("*.jsonl"))


def test_a_database_gone_past_the_outage_limit_fails_the_session_with_exit_3(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreachable past RUNNER_DB_OUTAGE_S: the results go to the spill file and exit is 3."""
    env = {"RUNNER_DATABASE_URL": migrated_db, "RUNNER_DB_OUTAGE_S": "1"}
    try:
        result = _record(pytester, monkeypatch, LOCKED_OUT, env, "--runner-record")
    finally:
        with psycopg.connect(migrated_db.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute(f'alter database "{migrated_db.rsplit("/", 1)[1]}" allow_connections true')
    result.assert_outcomes(passed=2)
    assert result.ret == 3
    (run_id,) = _rows(migrated_db, "select id::text from test_runs")[0]
    spill = pytester.path / ".runner" / "spill" / f"run-{run_id}.jsonl"
    (line,) = _runner_lines(result)
    # test_first's result may have been written before the lock-out, or kept with the other
    assert line.startswith(
        f"runner: recording failed: writes of run {run_id} kept in {spill} until the database "
        "is back; "
    )
    assert line.endswith(("; 1 result not recorded", "; 2 results not recorded"))
    assert "test_sample.py::test_locks_the_store_out" in spill.read_text(encoding="utf-8")


def test_plugin_is_inert_without_the_option(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --runner-record nothing is recorded and runner_context skips its test."""
    result = _record(pytester, monkeypatch, MIXED, {"RUNNER_DATABASE_URL": migrated_db})
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    assert _runner_lines(result) == []
    assert _rows(migrated_db, "select count(*) from test_runs") == [(0,)]
