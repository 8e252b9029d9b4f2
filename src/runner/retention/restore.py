"""Bring archived rows back: ``python -m runner retention restore ARCHIVE_PATH``.

ARCHIVE_PATH is a batch (a folder with ``manifest.json``, or that file), a chunk (a
folder with ``chunk.json``, or that file), or an archive root holding batches;
``storage://<bucket>/<key>`` names the same things in a Storage bucket. Each chunk
is restored in one transaction with triggers off (``session_replication_role =
replica``), so counters, analytics and events are not counted twice and every
column comes back as archived. Rows already present are kept; rows whose parent is
gone are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from runner.db.sqlfiles import query
from runner.retention.archive import (
    TABLE_ORDER,
    ArchiveError,
    ArchiveStore,
    LocalArchive,
    decode_rows,
    load_json,
    sha256,
)
from runner.retention.phases import PHASES

BATCH_ROWS = 1000  # rows per INSERT: bounded statements whatever the chunk size
# what others refer to first: cases and versions (runs name them), runs, then below runs
PHASE_RANK = {
    name: i for i, name in enumerate(("cases", "versions", "runs", "contexts", "results"))
}


@dataclass
class RestoreReport:
    """Rows per table: inserted, and given but not inserted (present, or parent gone)."""

    chunks: int = 0
    inserted: dict[str, int] = field(default_factory=dict)
    not_inserted: dict[str, int] = field(default_factory=dict)


def locate_local(path: Path) -> tuple[LocalArchive, list[str]]:
    """The local archive holding ``path`` and the chunk manifests it names."""
    path = path.expanduser().resolve()
    if path.is_file() and path.name in ("manifest.json", "chunk.json"):
        folder = path.parent
    elif path.is_dir():
        folder = path
    else:
        raise ArchiveError(f"no retention archive at {path}")
    if (folder / "chunk.json").is_file():
        return LocalArchive(folder.parent.parent), [
            f"{folder.parent.name}/{folder.name}/chunk.json"
        ]
    if (folder / "manifest.json").is_file():
        return LocalArchive(folder.parent), [f"{folder.name}/manifest.json"]
    batches = sorted(p.name for p in folder.iterdir() if (p / "manifest.json").is_file())
    if not batches:
        raise ArchiveError(
            f"no retention archive at {path} (expected manifest.json, chunk.json, "
            "or folders of batches)"
        )
    return LocalArchive(folder), [f"{b}/manifest.json" for b in batches]


def storage_key(path: str) -> tuple[str, str]:
    """``storage://bucket/key`` -> (bucket, key)."""
    rest = path.removeprefix("storage://")
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ArchiveError(f"expected storage://<bucket>/<batch>[/<chunk>], not {path!r}")
    return bucket, key.strip("/")


async def expand(archive: ArchiveStore, entries: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Chunk manifests (key, content) named by batch or chunk manifests, parents first."""
    chunks: list[tuple[str, dict[str, Any]]] = []
    for entry in entries:
        if entry.endswith(".json"):
            data = load_json(await archive.get(entry), name=entry)
        else:
            # a chunk folder has chunk.json, a batch folder manifest.json
            try:
                raw = await archive.get(f"{entry}/chunk.json")
                entry = f"{entry}/chunk.json"
            except ArchiveError:
                entry = f"{entry}/manifest.json"
                raw = await archive.get(entry)
            data = load_json(raw, name=entry)
        folder = entry.rsplit("/", 1)[0]
        if entry.endswith("manifest.json"):
            for item in data.get("chunks", []):
                key = f"{folder}/{item['chunk']}"
                chunks.append((key, load_json(await archive.get(key), name=key)))
        else:
            chunks.append((entry, data))
    order = {p.name: i for i, p in enumerate(PHASES)}
    # runs before what hangs below them; then by batch and sequence
    chunks.sort(
        key=lambda c: (
            PHASE_RANK.get(c[1]["phase"], len(PHASE_RANK)),
            order.get(c[1]["phase"], 9),
            c[1]["batch"],
            c[1]["seq"],
        )
    )
    return chunks


async def restore(
    conn: psycopg.AsyncConnection[Any], archive: ArchiveStore, entries: list[str]
) -> RestoreReport:
    """Restore every chunk named by ``entries`` (one transaction per chunk)."""
    report = RestoreReport()
    for key, manifest in await expand(archive, entries):
        folder = key.rsplit("/", 1)[0]
        files = {f["table"]: f for f in manifest.get("files", [])}
        unknown = set(files) - set(TABLE_ORDER)
        if unknown:
            raise ArchiveError(f"{key} names unknown tables: {', '.join(sorted(unknown))}")
        contents: dict[str, list[str]] = {}
        for table, info in files.items():
            name = f"{folder}/{info['file']}"
            data = await archive.get(name)
            if sha256(data) != info["sha256"]:
                raise ArchiveError(f"{name} does not match its checksum in {key}")
            contents[table] = decode_rows(data, name=name)
        async with conn.transaction():
            await conn.execute(query("retention_replica_role"))
            for table in TABLE_ORDER:
                rows = contents.get(table, [])
                for start in range(0, len(rows), BATCH_ROWS):
                    part = rows[start : start + BATCH_ROWS]
                    cur = await conn.execute(
                        query(f"retention_restore_{table}"), {"rows": "[" + ",".join(part) + "]"}
                    )
                    row = await cur.fetchone()
                    done = int(row[0]) if row else 0
                    report.inserted[table] = report.inserted.get(table, 0) + done
                    report.not_inserted[table] = (
                        report.not_inserted.get(table, 0) + len(part) - done
                    )
        report.chunks += 1
    return report
