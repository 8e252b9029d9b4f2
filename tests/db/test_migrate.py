"""The migrator: order, bookkeeping, idempotence, refusal of edited files, atomicity."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from runner.db.connect import Target
from runner.db.migrate import MigrationFile, available, migrate
from runner.errors import MigrationError

pytestmark = pytest.mark.db


def _files(tmp_path: Path, contents: dict[str, str]) -> list[MigrationFile]:
    paths = []
    for name, text in contents.items():
        p = tmp_path / name
        p.write_text(text)
        paths.append(p)
    return [MigrationFile.read(p) for p in sorted(paths)]


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('public', 'private')"
        ).fetchall()
    return {r[0] for r in rows}


async def test_migrate_applies_all_files_in_order_and_records_them(bare_db: str) -> None:
    """A fresh database gets the bootstrap and every shipped migration, recorded with checksums."""
    report = await migrate(Target(bare_db, embedded=True))
    assert report.bootstrapped
    assert report.applied == [m.path.name for m in available()]
    with psycopg.connect(bare_db) as conn:
        rows = conn.execute(
            "select version, checksum from runner_meta.schema_migrations order by version"
        ).fetchall()
    assert rows == [(m.version, m.checksum) for m in available()]


async def test_second_migrate_is_a_no_op(migrated_db: str) -> None:
    """Re-running migrate on an up-to-date database applies nothing and skips the bootstrap."""
    report = await migrate(Target(migrated_db, embedded=True))
    assert report.applied == []
    assert not report.bootstrapped
    assert len(report.already) == len(available())


async def test_changed_applied_file_is_refused_by_name(bare_db: str, tmp_path: Path) -> None:
    """An applied migration whose content changed is refused, naming the file."""
    target = Target(bare_db, embedded=True)
    first = _files(tmp_path, {"0001_one.sql": "create table public.one (id int);"})
    await migrate(target, first)
    (tmp_path / "0001_one.sql").write_text("create table public.one (id bigint);")
    with pytest.raises(MigrationError, match=r"0001_one\.sql was changed"):
        await migrate(target, [MigrationFile.read(tmp_path / "0001_one.sql")])


async def test_failing_migration_leaves_database_as_it_was(bare_db: str, tmp_path: Path) -> None:
    """A file failing half-way rolls back every pending file and names file and line."""
    target = Target(bare_db, embedded=True)
    files = _files(
        tmp_path,
        {
            "0001_ok.sql": "create table public.ok_table (id int);",
            "0002_bad.sql": "create table public.half (id int);\n\nselect * from nowhere;\n",
        },
    )
    with pytest.raises(MigrationError, match=r"0002_bad\.sql:3 failed: .*nowhere"):
        await migrate(target, files)
    assert "public.ok_table" not in _tables(bare_db)
    assert "public.half" not in _tables(bare_db)
    with psycopg.connect(bare_db) as conn:
        has_auth = conn.execute(
            "select exists(select 1 from pg_namespace where nspname = 'auth')"
        ).fetchone()
    assert has_auth == (False,)


async def test_bootstrap_is_skipped_where_auth_exists(bare_db: str, tmp_path: Path) -> None:
    """A database that already has an auth schema (a Supabase project) gets no bootstrap."""
    with psycopg.connect(bare_db, autocommit=True) as conn:
        conn.execute("create schema auth")
    report = await migrate(Target(bare_db, embedded=True), [])
    assert not report.bootstrapped
    with psycopg.connect(bare_db) as conn:
        realtime = conn.execute(
            "select exists(select 1 from pg_namespace where nspname = 'realtime')"
        ).fetchone()
    assert realtime == (False,)
