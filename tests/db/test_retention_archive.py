"""Archiving in chunks: each row archived once, crash and resume, restore round trip."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

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
    journal,
    run_retention,
    snapshot,
)

from runner.retention import ArchiveError, Chunk, Hooks, LocalArchive, restore
from runner.retention.restore import locate_local

pytestmark = pytest.mark.db


class Crash(Exception):
    """Stands in for the process dying between two steps of a chunk."""


def _old_history(url: str, project: uuid.UUID, results: int) -> set[uuid.UUID]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        run = add_run(cur, project, days_ago=200)
        return {add_result(cur, run, f"r{n:03d}", days_ago=100) for n in range(results)}


async def test_small_chunks_archive_every_row_exactly_once(
    migrated_db: str, tmp_path: Path
) -> None:
    """23 expired results with --chunk-size 5 make 5 chunks; each row is in the archive once."""
    world = seed(migrated_db)
    doomed = _old_history(migrated_db, world.project, 23)
    report = await run_retention(migrated_db, LocalArchive(tmp_path), chunk_size=5)
    assert report.phases["results"].chunks == 5
    assert [n for phase, _, n in journal(migrated_db) if phase == "results"] == [5, 5, 5, 5, 3]
    assert {state for _, state, _ in journal(migrated_db)} == {"deleted"}
    archived = Counter(r["id"] for r in archived_rows(tmp_path)["test_results"])
    assert set(archived) == {str(d) for d in doomed}
    assert set(archived.values()) == {1}
    assert not doomed & ids(migrated_db, "test_results")
    (manifest,) = files(tmp_path, "manifest.json")
    batch = json.loads(manifest.read_bytes())
    assert [c["phase"] for c in batch["chunks"]] == ["results"] * 5


@pytest.mark.parametrize("step", ["before_archive", "after_archive"])
async def test_crash_then_resume_archives_each_row_once(
    migrated_db: str, tmp_path: Path, step: str
) -> None:
    """A crash before or after a chunk's archive is finished by the next run, nothing twice."""
    world = seed(migrated_db)
    doomed = _old_history(migrated_db, world.project, 12)
    seen: list[int] = []

    def crash_on_second(chunk: Chunk) -> None:
        seen.append(chunk.seq)
        if len(seen) == 2:
            raise Crash(f"died at chunk {chunk.seq}")

    hooks = Hooks(**{step: crash_on_second})
    with pytest.raises(Crash):
        await run_retention(migrated_db, LocalArchive(tmp_path), chunk_size=5, hooks=hooks)
    expected_state = "pending" if step == "before_archive" else "archived"
    assert [s for _, s, _ in journal(migrated_db)] == ["deleted", expected_state]
    assert len(ids(migrated_db, "test_results") & doomed) == 7  # chunk 2 not deleted yet

    report = await run_retention(migrated_db, LocalArchive(tmp_path), chunk_size=5)
    assert report.resumed == 1
    assert not doomed & ids(migrated_db, "test_results")
    assert {s for _, s, _ in journal(migrated_db)} == {"deleted"}
    archived = Counter(r["id"] for r in archived_rows(tmp_path)["test_results"])
    assert set(archived) == {str(d) for d in doomed}
    assert set(archived.values()) == {1}, "a row was archived twice"


async def test_run_pinned_between_archive_and_delete_is_kept(
    migrated_db: str, tmp_path: Path
) -> None:
    """The delete re-checks the rule: rows archived before their run was pinned are not deleted."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=200)
        result = add_result(cur, run, "late_pin", days_ago=100)

    def pin(chunk: Chunk) -> None:
        with psycopg.connect(migrated_db) as conn:
            conn.execute("update test_runs set pinned = true where id = %s", (run,))

    report = await run_retention(
        migrated_db, LocalArchive(tmp_path), hooks=Hooks(after_archive=pin)
    )
    assert result in ids(migrated_db, "test_results")
    assert report.phases["results"].deleted == 0


async def test_archive_then_restore_gives_identical_rows(migrated_db: str, tmp_path: Path) -> None:
    """Every column of every archived row comes back unchanged, and counters are not recounted."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        old_run = add_run(cur, world.project, days_ago=400, suite=world.suite)
        for n in range(4):
            add_result(cur, old_run, f"old{n}", status=("passed", "failed")[n % 2], days_ago=399)
        add_context(cur, old_run, hours_ago=400 * 24)
        run = add_run(cur, world.project, days_ago=200)
        for n in range(7):
            add_result(cur, run, f"r{n}", status=("passed", "error")[n % 2], days_ago=190)
        add_context(cur, run, hours_ago=48)
        cur.execute(
            "insert into performance_metrics (test_case_id, environment_id, metric_date, "
            "total_runs, successful_runs, avg_response_ms, p50_response_ms, p95_response_ms, "
            "p99_response_ms, min_response_ms, max_response_ms, success_rate) values "
            "(%s, %s, current_date - 120, 3, 2, 10.5, 10, 12, 13, 9, 13.25, 0.6666666666666666)",
            (world.login, world.environment),
        )
    before = snapshot(migrated_db)
    report = await run_retention(migrated_db, LocalArchive(tmp_path), chunk_size=3)
    assert report.deleted > 0
    assert snapshot(migrated_db) != before

    async with connection(migrated_db) as conn:
        archive, entries = locate_local(tmp_path)
        restored = await restore(conn, archive, entries)
    after = snapshot(migrated_db)
    # the monthly roll-up written by retention stays; everything else is as it was
    after_monthly = after.pop("performance_metrics_monthly")
    assert len(set(after_monthly) - set(before.pop("performance_metrics_monthly"))) == 1
    assert after == before
    assert restored.inserted["test_results"] == 11
    assert restored.inserted["test_runs"] == 1
    assert sum(restored.not_inserted.values()) == 0

    # restoring again inserts nothing and changes nothing
    async with connection(migrated_db) as conn:
        again = await restore(conn, archive, entries)
    assert sum(again.inserted.values()) == 0
    assert snapshot(migrated_db)["test_results"] == before["test_results"]


async def test_restore_single_chunk_and_refuses_tampered_files(
    migrated_db: str, tmp_path: Path
) -> None:
    """One chunk folder restores alone; a file changed after archiving is refused by checksum."""
    world = seed(migrated_db)
    doomed = _old_history(migrated_db, world.project, 4)
    await run_retention(migrated_db, LocalArchive(tmp_path), chunk_size=2)
    chunk_dirs = [p.parent for p in files(tmp_path, "chunk.json")]
    async with connection(migrated_db) as conn:
        archive, entries = locate_local(chunk_dirs[0])
        report = await restore(conn, archive, entries)
    assert report.inserted["test_results"] == 2
    assert len(ids(migrated_db, "test_results") & doomed) == 2

    target = chunk_dirs[1] / "test_results.jsonl.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    async with connection(migrated_db) as conn:
        archive, entries = locate_local(chunk_dirs[1])
        with pytest.raises(ArchiveError, match="checksum"):
            await restore(conn, archive, entries)


def test_locate_refuses_a_folder_without_an_archive(tmp_path: Path) -> None:
    """A path that is no archive is an ArchiveError naming the path."""
    with pytest.raises(ArchiveError, match="no retention archive"):
        locate_local(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveError, match="no retention archive"):
        locate_local(tmp_path / "empty")


async def test_restore_skips_rows_whose_parent_is_gone(migrated_db: str, tmp_path: Path) -> None:
    """Results whose run was deleted since are skipped and counted, never orphaned."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=100)
        add_result(cur, run, "orphan", days_ago=95)
    await run_retention(migrated_db, LocalArchive(tmp_path))
    with psycopg.connect(migrated_db) as conn:
        conn.execute("delete from test_runs where id = %s", (run,))
    async with connection(migrated_db) as conn:
        archive, entries = locate_local(tmp_path)
        report: Any = await restore(conn, archive, entries)
    assert report.inserted.get("test_results", 0) == 0
    assert report.not_inserted["test_results"] == 1
