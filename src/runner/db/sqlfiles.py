"""SQL lives in ``.sql`` files, loaded by name; never assembled from user strings."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def sql_root() -> Path:
    """The ``sql/`` folder: packaged as ``runner/_sql`` in a wheel, the repo's in a checkout."""
    packaged = Path(__file__).resolve().parents[1] / "_sql"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "sql"


def migration_files() -> list[Path]:
    """Ordered migration files (``NNNN_name.sql``)."""
    return sorted((sql_root() / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))


def bootstrap_file() -> Path:
    """The Supabase compatibility bootstrap for plain PostgreSQL."""
    return sql_root() / "bootstrap" / "supabase_compat.sql"


@cache
def query(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``."""
    return (sql_root() / "queries" / f"{name}.sql").read_text(encoding="utf-8")


@cache
def serve_sql(name: str) -> str:
    """The text of ``sql/serve/<name>.sql``: local-only SQL of ``serve``, never a migration."""
    return (sql_root() / "serve" / f"{name}.sql").read_text(encoding="utf-8")
