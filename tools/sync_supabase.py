"""Mirror ``sql/`` into the Supabase CLI project in ``supabase/``.

``sql/migrations/0001_name.sql`` appears as ``supabase/migrations/20260101000001_name.sql``,
a relative symlink, so the two can never hold different SQL and nothing is written
twice (the Supabase CLI reads through symlinks); ``tests/test_supabase_project.py``
fails when a file is missing or extra.
Run: ``python tools/sync_supabase.py``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def supabase_name(sql_name: str) -> str:
    """``0001_tables.sql`` -> ``20260101000001_tables.sql``."""
    version, _, rest = sql_name.partition("_")
    return f"20260101{int(version):06d}_{rest}"


def main() -> None:
    """Replace supabase/migrations with copies of sql/migrations."""
    target = ROOT / "supabase" / "migrations"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.sql"):
        old.unlink()
    for src in sorted((ROOT / "sql" / "migrations").glob("[0-9]*.sql")):
        (target / supabase_name(src.name)).symlink_to(Path("../../sql/migrations") / src.name)
        print(f"{src.relative_to(ROOT)} -> {(target / supabase_name(src.name)).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
