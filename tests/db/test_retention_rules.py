"""Which rows retention removes (results by status and age, contexts, runs); never pinned ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from helpers import seed
from retention_data import (
    add_context,
    add_result,
    add_run,
    archived_rows,
    connection,
    files,
    ids,
    run_retention,
    snapshot,
)

from runner.retention import LocalArchive, plan

pytestmark = pytest.mark.db


async def test_results_expire_by_status(migrated_db: str, tmp_path: Path) -> None:
    """Passed/skipped go after 90 days, failed/error after 180; younger and pinned ones stay."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=200)
        pinned = add_run(cur, world.project, days_ago=200, pinned=True)
        gone = {
            add_result(cur, run, "passed_91", status="passed", days_ago=91),
            add_result(cur, run, "skipped_91", status="skipped", days_ago=91),
            add_result(cur, run, "failed_181", status="failed", days_ago=181),
            add_result(cur, run, "error_181", status="error", days_ago=181),
        }
        kept = {
            add_result(cur, run, "passed_89", status="passed", days_ago=89),
            add_result(cur, run, "failed_179", status="failed", days_ago=179),
            add_result(cur, run, "error_100", status="error", days_ago=100),
            add_result(cur, pinned, "pinned_199", status="passed", days_ago=199),
            add_result(cur, pinned, "pinned_failed", status="failed", days_ago=199),
        }
    before = ids(migrated_db, "test_results")
    report = await run_retention(migrated_db, LocalArchive(tmp_path))
    after = ids(migrated_db, "test_results")
    assert before - after == gone
    assert kept <= after
    assert report.phases["results"].deleted == 4
    archived = archived_rows(tmp_path)
    assert {r["id"] for r in archived["test_results"]} == {str(g) for g in gone}
    # each result took its check and attempt with it
    assert len(archived["test_result_details"]) == 8
    with psycopg.connect(migrated_db) as conn:
        left = conn.execute(
            "select count(*) from test_result_details where result_id = any(%s)", (list(gone),)
        ).fetchone()
    assert left == (0,)


async def test_contexts_go_after_24_hours_unless_pinned(migrated_db: str, tmp_path: Path) -> None:
    """A context older than 24 h (or past expires_at) is removed; a younger or pinned one is not."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        old = add_context(cur, add_run(cur, world.project), hours_ago=25, ttl_hours=100)
        expired = add_context(cur, add_run(cur, world.project), hours_ago=2, ttl_hours=1)
        young = add_context(cur, add_run(cur, world.project), hours_ago=23)
        pinned = add_context(cur, add_run(cur, world.project, pinned=True), hours_ago=48)
    (await run_retention(migrated_db, LocalArchive(tmp_path)))
    left = ids(migrated_db, "test_execution_context")
    assert old not in left and expired not in left
    assert {young, pinned, world.context} <= left
    assert {r["id"] for r in archived_rows(tmp_path)["test_execution_context"]} == {
        str(old),
        str(expired),
    }


async def test_context_tokens_are_never_archived(migrated_db: str, tmp_path: Path) -> None:
    """An expired context's token names are archived with "[redacted]" values, never the values."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        ctx = add_context(cur, add_run(cur, world.project), hours_ago=30)
        cur.execute(
            "update test_execution_context set shared_auth_tokens = "
            '\'{"bearer": "sealed:v1:abc123-secret"}\' where id = %s',
            (ctx,),
        )
    (await run_retention(migrated_db, LocalArchive(tmp_path)))
    (row,) = archived_rows(tmp_path)["test_execution_context"]
    assert row["shared_auth_tokens"] == {"bearer": "[redacted]"}
    for path in files(tmp_path):
        assert b"abc123-secret" not in path.read_bytes()


async def test_runs_go_after_a_year_and_their_daily_history_stays(
    migrated_db: str, tmp_path: Path
) -> None:
    """Runs started over 365 days ago go with all below them; test_run_history keeps their day."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        old = add_run(cur, world.project, days_ago=366, suite=world.suite)
        add_result(cur, old, "late", days_ago=1)  # a young result does not save an old run
        add_context(cur, old, hours_ago=1)
        recent = add_run(cur, world.project, days_ago=364, suite=world.suite)
        pinned = add_run(cur, world.project, days_ago=800, pinned=True, suite=world.suite)
        kept_result = add_result(cur, pinned, "kept", days_ago=800)
        history = conn.execute(
            "select count(*), sum(total_runs) from test_run_history where project_id = %s",
            (world.project,),
        ).fetchone()
    (await run_retention(migrated_db, LocalArchive(tmp_path)))
    runs = ids(migrated_db, "test_runs")
    assert old not in runs
    assert {recent, pinned, world.run, world.finished_run} <= runs
    assert kept_result in ids(migrated_db, "test_results")
    with psycopg.connect(migrated_db) as conn:
        assert (
            conn.execute(
                "select count(*), sum(total_runs) from test_run_history where project_id = %s",
                (world.project,),
            ).fetchone()
            == history
        )
    archived = archived_rows(tmp_path)
    assert [r["id"] for r in archived["test_runs"]] == [str(old)]
    assert [r["test_key"] for r in archived["test_results"]] == ["late"]
    assert len(archived["test_execution_context"]) == 1


async def test_project_policy_overrides_the_defaults(migrated_db: str, tmp_path: Path) -> None:
    """A retention_policies row changes the ages of its project only; projects= limits the scope."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        cur.execute(
            "update retention_policies set passed_results_days = 10 where project_id = %s",
            (world.project,),
        )
        short = add_result(cur, add_run(cur, world.project), "short", days_ago=11)
        other = add_result(cur, add_run(cur, world.project_b), "other", days_ago=11)
        other_old = add_result(cur, add_run(cur, world.project_b), "other_old", days_ago=91)
    (await run_retention(migrated_db, LocalArchive(tmp_path), projects=[world.project_b]))
    left = ids(migrated_db, "test_results")
    assert short in left and other in left and other_old not in left
    (await run_retention(migrated_db, LocalArchive(tmp_path)))
    assert short not in ids(migrated_db, "test_results")


async def test_effective_policy_defaults_match_the_column_defaults(migrated_db: str) -> None:
    """A project without a row gets the same numbers a row with every default would hold."""
    world = seed(migrated_db)
    cols = (
        "passed_results_days, failed_results_days, metrics_daily_days, metrics_days, "
        "run_history_days, context_hours"
    )
    with psycopg.connect(migrated_db) as conn:
        implied = conn.execute(
            f"select {cols}, customised from retention_policy_effective where project_id = %s",  # noqa: S608
            (world.project_b,),
        ).fetchone()
        conn.execute("insert into retention_policies (project_id) values (%s)", (world.project_b,))
        stored = conn.execute(
            f"select {cols} from retention_policies where project_id = %s",  # noqa: S608
            (world.project_b,),
        ).fetchone()
    assert implied == (90, 180, 90, 730, 365, 24, False)
    assert stored == implied[:6]


async def test_dry_run_counts_and_changes_nothing(migrated_db: str, tmp_path: Path) -> None:
    """The dry run reports what would go and leaves every row, the journal and the folder alone."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=400)
        for n in range(3):
            add_result(cur, run, f"r{n}", days_ago=200)
        add_context(cur, run, hours_ago=30)
    before = snapshot(migrated_db)
    async with connection(migrated_db) as conn:
        report = await plan(conn, as_of=datetime.now(UTC), projects=None, location=str(tmp_path))
    assert report.would_delete == {
        "contexts": 1,
        "results": 3,
        "runs": 1,
        "metrics_daily": 0,
        "metrics_monthly": 0,
        "versions": 0,
        "cases": 0,
    }
    assert snapshot(migrated_db) == before
    assert files(tmp_path) == []
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute("select count(*) from private.retention_journal").fetchone() == (0,)
