"""restore() refuses chunks it cannot trust before touching the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from retention_data import connection, snapshot

from runner.retention import ArchiveError, restore
from runner.retention.archive import FORMAT, LocalArchive, dump_json, encode_rows, sha256

pytestmark = pytest.mark.db


async def write_chunk(root: Path, table: str, lines: list[str], digest: str | None = None) -> None:
    archive = LocalArchive(root)
    data, rows = encode_rows(lines)
    manifest = {
        "format": FORMAT,
        "batch": "b1",
        "seq": 1,
        "phase": "results",
        "files": [
            {
                "table": table,
                "file": f"{table}.jsonl.gz",
                "rows": rows,
                "sha256": digest or sha256(data),
            }
        ],
    }
    await archive.put(f"b1/0001-results/{table}.jsonl.gz", data)
    await archive.put("b1/0001-results/chunk.json", dump_json(manifest))


async def test_a_chunk_naming_an_unknown_table_is_refused(migrated_db: str, tmp_path: Path) -> None:
    """A chunk listing a table outside the retention tables raises and restores nothing."""
    await write_chunk(tmp_path, "users", ['{"id": 1}'])
    before = snapshot(migrated_db)
    async with connection(migrated_db) as conn:
        with pytest.raises(ArchiveError, match="names unknown tables: users"):
            await restore(conn, LocalArchive(tmp_path), ["b1/0001-results/chunk.json"])
    assert snapshot(migrated_db) == before


async def test_a_file_not_matching_its_checksum_is_refused(
    migrated_db: str, tmp_path: Path
) -> None:
    """A table file whose SHA-256 differs from the manifest's is refused before any insert."""
    await write_chunk(tmp_path, "test_results", ['{"id": 1}'], digest="0" * 64)
    async with connection(migrated_db) as conn:
        with pytest.raises(ArchiveError, match="does not match its checksum"):
            await restore(conn, LocalArchive(tmp_path), ["b1/0001-results"])
