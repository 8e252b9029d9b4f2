"""The Supabase CLI project in supabase/ holds exactly the SQL in sql/."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("sync_supabase", ROOT / "tools" / "sync_supabase.py")
assert spec and spec.loader
sync = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync)


def test_supabase_migrations_equal_sql_migrations() -> None:
    """Every sql/migrations file has a byte-identical supabase/migrations twin, and no extras."""
    sql_files = sorted((ROOT / "sql" / "migrations").glob("[0-9]*.sql"))
    assert sql_files, "no migrations found"
    expected = {sync.supabase_name(p.name): p.read_bytes() for p in sql_files}
    actual = {p.name: p.read_bytes() for p in (ROOT / "supabase" / "migrations").glob("*.sql")}
    assert sorted(actual) == sorted(expected), "run: python tools/sync_supabase.py"
    for name, content in expected.items():
        assert actual[name] == content, f"{name} differs from sql/; run tools/sync_supabase.py"


def test_supabase_names_keep_order() -> None:
    """Supabase timestamps sort in the same order as the sql/ version numbers."""
    names = [p.name for p in sorted((ROOT / "sql" / "migrations").glob("[0-9]*.sql"))]
    mapped = [sync.supabase_name(n) for n in names]
    assert mapped == sorted(mapped)


def test_supabase_config_is_valid_toml() -> None:
    """supabase/config.toml parses and names the project."""
    config = tomllib.loads((ROOT / "supabase" / "config.toml").read_text())
    assert config["project_id"]
    assert (ROOT / "supabase" / "seed.sql").exists()
