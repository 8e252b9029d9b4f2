"""Apply the retention policy: archive what expired, then delete it, chunk by chunk.

Each chunk goes through three short transactions, recorded in
``private.retention_journal``:

1. take the next ``chunk_size`` expired ids of a phase (journal row ``pending``);
2. read their rows, write the chunk's files and ``chunk.json`` to the archive
   (``archived``);
3. delete them, re-checking the rule, and mark the chunk ``deleted`` -- in one
   transaction, so a chunk is deleted (and rolled up, for metrics) exactly once.

A run that crashes leaves at most one unfinished chunk per phase; the next run
finishes those first: a ``pending`` chunk is archived again to the same keys (the
same rows give the same files), an ``archived`` one is only deleted. No transaction
holds more than one chunk.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.retention.archive import (
    FORMAT,
    TABLE_ORDER,
    ArchiveStore,
    TableFile,
    dump_json,
    encode_rows,
    sha256,
)
from runner.retention.phases import BY_NAME, PHASES, Phase

LOCK_KEY = 0x72756E_7265746E  # "run" "retn": one retention run per database at a time

Hook = Callable[["Chunk"], Awaitable[None] | None]


@dataclass
class Chunk:
    """One journalled chunk."""

    id: uuid.UUID
    batch: str
    seq: int
    phase: Phase
    as_of: datetime
    project_ids: list[uuid.UUID] | None
    ids: list[uuid.UUID]
    key: str
    state: str = "pending"


@dataclass
class Hooks:
    """Test seams: called after a chunk is journalled, and after it is archived."""

    before_archive: Hook | None = None
    after_archive: Hook | None = None


@dataclass
class PhaseTotals:
    """What one phase did."""

    chunks: int = 0
    deleted: int = 0
    archived: dict[str, int] = field(default_factory=dict)


@dataclass
class RetentionReport:
    """What a retention run did (or, dry, would do)."""

    batch: str
    as_of: datetime
    location: str
    dry_run: bool
    resumed: int = 0
    phases: dict[str, PhaseTotals] = field(default_factory=dict)
    would_delete: dict[str, int] = field(default_factory=dict)

    @property
    def deleted(self) -> int:
        """Root rows deleted over all phases."""
        return sum(p.deleted for p in self.phases.values())


def new_batch(as_of: datetime) -> str:
    """A batch name that sorts by time: ``20261123T221500Z-1a2b3c``."""
    return f"{as_of.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


async def project_ids(conn: psycopg.AsyncConnection[Any], name: str) -> list[uuid.UUID]:
    """Ids of the projects called (or slugged) ``name``; empty when none."""
    cur = await conn.execute(query("retention_projects"), {"name": name})
    return [row[0] for row in await cur.fetchall()]


async def plan(
    conn: psycopg.AsyncConnection[Any],
    *,
    as_of: datetime,
    projects: list[uuid.UUID] | None,
    location: str,
) -> RetentionReport:
    """The dry run: how many rows each phase would take; nothing is written."""
    report = RetentionReport(new_batch(as_of), as_of, location, dry_run=True)
    async with conn.transaction():
        await conn.execute(query("transaction_read_only"))
        cur = await conn.execute(query("retention_count"), _scope(as_of, projects))
        for phase, count in await cur.fetchall():
            report.would_delete[phase] = int(count)
        cur = await conn.execute(query("retention_journal_open"))
        report.resumed = len(await cur.fetchall())
    return report


async def apply(
    conn: psycopg.AsyncConnection[Any],
    archive: ArchiveStore,
    *,
    as_of: datetime,
    projects: list[uuid.UUID] | None,
    chunk_size: int,
    hooks: Hooks | None = None,
) -> RetentionReport:
    """Finish interrupted chunks, then archive and delete every expired row."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    if not conn.autocommit:
        raise ValueError("apply() needs an autocommit connection (one transaction per step)")
    hooks = hooks or Hooks()
    report = RetentionReport(new_batch(as_of), as_of, archive.location, dry_run=False)
    cur = await conn.execute(query("retention_try_lock"), {"key": LOCK_KEY})
    row = await cur.fetchone()
    if not row or not row[0]:
        raise DatabaseError("another retention run is in progress on this database")
    try:
        for chunk in await _open_chunks(conn):
            report.resumed += 1
            await _finish(conn, archive, chunk, report, hooks)
        seq = 0
        for phase in PHASES:
            report.phases.setdefault(phase.name, PhaseTotals())
            after = uuid.UUID(int=0)
            while True:
                seq += 1
                taken = await _take(conn, phase, report, seq, projects, after, chunk_size)
                if taken is None:
                    break
                after = taken.ids[-1]
                await _finish(conn, archive, taken, report, hooks)
    finally:
        # a broken connection releases the lock anyway; never mask the real error
        with contextlib.suppress(psycopg.Error):
            await conn.execute(query("retention_unlock"), {"key": LOCK_KEY})
    return report


def _scope(as_of: datetime, projects: Sequence[uuid.UUID] | None) -> dict[str, Any]:
    return {"as_of": as_of, "project_ids": list(projects) if projects is not None else None}


async def _open_chunks(conn: psycopg.AsyncConnection[Any]) -> list[Chunk]:
    cur = await conn.execute(query("retention_journal_open"))
    chunks = []
    for cid, batch, seq, phase, state, as_of, pids, ids, key, _manifest in await cur.fetchall():
        chunks.append(Chunk(cid, batch, seq, BY_NAME[phase], as_of, pids, list(ids), key, state))
    return chunks


async def _take(
    conn: psycopg.AsyncConnection[Any],
    phase: Phase,
    report: RetentionReport,
    seq: int,
    projects: list[uuid.UUID] | None,
    after: uuid.UUID,
    limit: int,
) -> Chunk | None:
    params = _scope(report.as_of, projects) | {"after": after, "limit": limit}
    async with conn.transaction():
        cur = await conn.execute(query(phase.candidates), params)
        ids = [r[0] for r in await cur.fetchall()]
        if not ids:
            return None
        key = f"{report.batch}/{seq:05d}-{phase.name}"
        cur = await conn.execute(
            query("retention_journal_insert"),
            {
                "batch": report.batch,
                "seq": seq,
                "phase": phase.name,
                "as_of": report.as_of,
                "project_ids": projects,
                "ids": ids,
                "archive_root": report.location,
                "archive_key": key,
            },
        )
        row = await cur.fetchone()
        assert row is not None
    return Chunk(row[0], report.batch, seq, phase, report.as_of, projects, ids, key)


async def _finish(
    conn: psycopg.AsyncConnection[Any],
    archive: ArchiveStore,
    chunk: Chunk,
    report: RetentionReport,
    hooks: Hooks,
) -> None:
    totals = report.phases.setdefault(chunk.phase.name, PhaseTotals())
    if chunk.state == "pending":
        if hooks.before_archive is not None:
            await _call(hooks.before_archive, chunk)
        files = await _archive(conn, archive, chunk)
        for f in files:
            totals.archived[f.table] = totals.archived.get(f.table, 0) + f.rows
        if hooks.after_archive is not None:
            await _call(hooks.after_archive, chunk)
    async with conn.transaction():
        params = _scope(chunk.as_of, chunk.project_ids) | {"ids": chunk.ids}
        cur = await conn.execute(query(chunk.phase.delete), params)
        if chunk.phase.name == "metrics_daily":
            row = await cur.fetchone()
            deleted = int(row[0]) if row and row[0] is not None else 0
        else:
            deleted = cur.rowcount
        await conn.execute(query("retention_journal_deleted"), {"id": chunk.id, "deleted": deleted})
    totals.chunks += 1
    totals.deleted += deleted


async def _call(hook: Hook, chunk: Chunk) -> None:
    result = hook(chunk)
    if result is not None:
        await result


async def _archive(
    conn: psycopg.AsyncConnection[Any], archive: ArchiveStore, chunk: Chunk
) -> list[TableFile]:
    """Write the chunk's rows and chunk.json; mark it archived; refresh the batch manifest."""
    lines: dict[str, list[str]] = {}
    async with conn.transaction():
        await conn.execute(query("transaction_snapshot"))
        cur = await conn.execute(query(chunk.phase.fetch), {"ids": chunk.ids})
        for table, row_json in await cur.fetchall():
            lines.setdefault(table, []).append(row_json)
    files: list[TableFile] = []
    for table in TABLE_ORDER:
        if table not in lines and table != chunk.phase.root_table:
            continue
        data, count = encode_rows(sorted(lines.pop(table, [])))
        name = f"{table}.jsonl.gz"
        await archive.put(f"{chunk.key}/{name}", data)
        files.append(TableFile(table, name, count, sha256(data)))
    manifest = {
        "format": FORMAT,
        "batch": chunk.batch,
        "seq": chunk.seq,
        "phase": chunk.phase.name,
        "as_of": chunk.as_of.isoformat(),
        "project_ids": [str(p) for p in chunk.project_ids] if chunk.project_ids else None,
        "files": [f.__dict__ for f in files],
    }
    await archive.put(f"{chunk.key}/chunk.json", dump_json(manifest))
    async with conn.transaction():
        await conn.execute(
            query("retention_journal_archived"),
            {"id": chunk.id, "manifest": Jsonb(manifest), "archive_root": archive.location},
        )
    chunk.state = "archived"
    await _write_batch_manifest(conn, archive, chunk.batch)
    return files


async def _write_batch_manifest(
    conn: psycopg.AsyncConnection[Any], archive: ArchiveStore, batch: str
) -> None:
    cur = await conn.execute(query("retention_journal_batch"), {"batch": batch})
    chunks = [
        {"seq": seq, "phase": phase, "chunk": f"{key.split('/', 1)[1]}/chunk.json"}
        for seq, phase, key, _state in await cur.fetchall()
    ]
    manifest = {"format": FORMAT, "batch": batch, "chunks": chunks}
    await archive.put(f"{batch}/manifest.json", dump_json(manifest))
