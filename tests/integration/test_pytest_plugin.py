"""The pytest plugin, driven by pytester: a session recorded as a run, with its context."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.db

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


def test_shares_context(runner_context):
    async def publish():
        async with runner_context.manager() as contexts:
            await contexts.update_shared_variables(
                runner_context.run_id, {"from_pytest": 1}, produced_by="test_shares_context"
            )

    asyncio.run(publish())
"""


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_session_is_recorded_as_one_run(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --runner-record every test becomes a result of one pytest run, finished failed."""
    monkeypatch.setenv("RUNNER_DATABASE_URL", migrated_db)
    pytester.makepyfile(test_sample=SAMPLE)
    result = pytester.runpytest_subprocess("--runner-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    runs = _rows(migrated_db, "select id, status, trigger, completed_tests from test_runs")
    assert [(status, trigger, n) for _, status, trigger, n in runs] == [("failed", "pytest", 4)]
    result.stdout.fnmatch_lines([f"runner: recorded run {runs[0][0]}"])
    results = _rows(
        migrated_db, "select test_key, status, message from test_results order by test_key"
    )
    assert results == [
        ("test_sample.py::test_bad", "failed", "AssertionError: boom"),
        ("test_sample.py::test_later", "skipped", "Skipped: later"),
        ("test_sample.py::test_ok", "passed", ""),
        ("test_sample.py::test_shares_context", "passed", ""),
    ]
    variables = _rows(migrated_db, "select shared_variables from test_execution_context")
    assert variables == [({"from_pytest": 1},)]


def test_plugin_is_inert_without_the_option(
    pytester: pytest.Pytester, migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --runner-record nothing is recorded and runner_context skips its test."""
    monkeypatch.setenv("RUNNER_DATABASE_URL", migrated_db)
    pytester.makepyfile(test_sample=SAMPLE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    assert _rows(migrated_db, "select count(*) from test_runs") == [(0,)]
