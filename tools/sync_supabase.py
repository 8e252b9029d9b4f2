"""Mirror ``sql/`` into the Supabase CLI project in ``supabase/``.

``sql/migrations/0001_name.sql`` becomes ``supabase/migrations/20260101000001_name.sql``
with identical content; ``tests/test_supabase_project.py`` fails when they drift.
Run: ``python tools/sync_supabase.py``.
"""

from __future__ import annotations

import shutil
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
        shutil.copyfile(src, target / supabase_name(src.name))
        print(f"{src.relative_to(ROOT)} -> {(target / supabase_name(src.name)).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
