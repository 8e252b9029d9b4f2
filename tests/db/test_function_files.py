"""sql/functions/ holds each SQL function's current definition, as the migrations leave it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from runner.db.migrate import MigrationFile

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "dump_functions", ROOT / "tools" / "dump_functions.py"
)
assert spec and spec.loader
dump = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = dump  # its dataclasses look their module up
spec.loader.exec_module(dump)


async def test_function_files_match_the_migrated_database(bare_db: str) -> None:
    """Every function the migrations define has its file in sql/functions/, every file a
    function, and each file is that function's definition after the last migration."""
    files = dump.render(await dump.migrated_functions(bare_db))
    problems = dump.differences(files)
    assert not problems, (
        "sql/functions/ is out of date with sql/migrations/:\n  "
        + "\n  ".join(problems)
        + f"\nregenerate with: {dump.COMMAND}"
    )


async def test_files_name_the_migrations_that_defined_each_function(
    bare_db: str, tmp_path: Path
) -> None:
    """A redefined function's file shows its last definition and the migrations behind it;
    a function dropped again has no file; overloads share their name's file."""
    sources = {
        "0001_one.sql": (
            "create schema private;\n"
            "create function public.answer() returns int language sql as $$ select 41 $$;\n"
            "create function private.gone() returns int language sql as $$ select 0 $$;"
        ),
        "0002_two.sql": (
            "create or replace function public.answer() returns int language sql"
            " as $$ select 42 $$;\n"
            "create function public.answer(n int) returns int language sql as $$ select n $$;"
        ),
        "0003_three.sql": "drop function private.gone();",
    }
    for name, text in sources.items():
        (tmp_path / name).write_text(text)
    migrations = [MigrationFile.read(tmp_path / name) for name in sorted(sources)]
    files = dump.render(await dump.migrated_functions(bare_db, migrations))
    assert sorted(files) == ["public.answer.sql"]
    text = files["public.answer.sql"]
    assert "-- public.answer(): from 0002_two.sql; earlier in 0001_one.sql\n" in text
    assert "-- public.answer(n integer): from 0002_two.sql\n" in text
    assert "select 42" in text and "select 41" not in text
    assert text.index("public.answer()") < text.index("public.answer(n integer)")


def test_differences_name_each_kind_of_mismatch(tmp_path: Path) -> None:
    """A missing file, a file without a function and a stale file are each named."""
    (tmp_path / "public.same.sql").write_text("same")
    (tmp_path / "public.stale.sql").write_text("old")
    (tmp_path / "public.orphan.sql").write_text("x")
    expected = {"public.same.sql": "same", "public.stale.sql": "new", "public.new.sql": "y"}
    assert dump.differences(expected, tmp_path) == [
        "public.new.sql: no file for this function",
        "public.orphan.sql: no such function after the migrations",
        "public.stale.sql: differs from the migrated database",
    ]
