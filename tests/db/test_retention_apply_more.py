"""apply() guards: its arguments, the one-run-per-database lock, and async hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from helpers import seed
from retention_data import add_result, add_run, connection, ids, run_retention

from runner.errors import DatabaseError
from runner.retention import apply
from runner.retention.apply import LOCK_KEY, Chunk, Hooks
from runner.retention.archive import LocalArchive

pytestmark = pytest.mark.db


async def test_bad_arguments_are_refused_before_any_work(migrated_db: str, tmp_path: Path) -> None:
    """A chunk size below 1 or a connection in transaction mode is a ValueError."""
    archive = LocalArchive(tmp_path)
    now = datetime.now(UTC)
    async with connection(migrated_db) as conn:
        with pytest.raises(ValueError, match="chunk_size must be >= 1"):
            await apply(conn, archive, as_of=now, projects=None, chunk_size=0)
    plain = await psycopg.AsyncConnection.connect(migrated_db)
    try:
        with pytest.raises(ValueError, match="autocommit"):
            await apply(plain, archive, as_of=now, projects=None, chunk_size=10)
    finally:
        await plain.close()


async def test_a_second_run_on_the_same_database_is_refused(
    migrated_db: str, tmp_path: Path
) -> None:
    """While another session holds the retention lock, apply() refuses; afterwards it runs."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        doomed = add_result(cur, add_run(cur, world.project, days_ago=200), "old", days_ago=100)
    with psycopg.connect(migrated_db, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        with pytest.raises(DatabaseError, match="another retention run is in progress"):
            await run_retention(migrated_db, LocalArchive(tmp_path))
        assert doomed in ids(migrated_db, "test_results")
        holder.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    await run_retention(migrated_db, LocalArchive(tmp_path))
    assert doomed not in ids(migrated_db, "test_results")


async def test_async_hooks_are_awaited(migrated_db: str, tmp_path: Path) -> None:
    """A coroutine hook runs to completion for every chunk, before and after its archive."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=200)
        for n in range(3):
            add_result(cur, run, f"r{n}", days_ago=100)
    calls: list[tuple[str, int]] = []

    async def before(chunk: Chunk) -> None:
        calls.append(("before", chunk.seq))

    async def after(chunk: Chunk) -> None:
        calls.append(("after", chunk.seq))

    report = await run_retention(
        migrated_db,
        LocalArchive(tmp_path),
        chunk_size=2,
        hooks=Hooks(before_archive=before, after_archive=after),
    )
    chunks = sum(t.chunks for t in report.phases.values())
    assert chunks >= 2
    assert [kind for kind, _ in calls] == ["before", "after"] * chunks
