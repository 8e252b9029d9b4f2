"""`db reset` drops the runner's schemas and re-applies the migrations, carefully."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


def _cli(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNNER_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def _org_count(url: str) -> int:
    """Organisations besides the default ``local``, which the migrations create (0033)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*) from public.organizations where slug <> 'local'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_reset_of_a_configured_database_needs_force(migrated_db: str) -> None:
    """Without --force a non-embedded database is refused (exit 2) and left untouched."""
    with psycopg.connect(migrated_db) as conn:
        conn.execute("insert into public.organizations (name, slug) values ('Keep', 'keep')")
    result = _cli(["db", "reset"], migrated_db)
    assert result.returncode == 2
    assert "refusing to reset" in result.stderr and "--force" in result.stderr
    assert _org_count(migrated_db) == 1


def test_reset_with_force_drops_data_and_reapplies(migrated_db: str) -> None:
    """With --force the data is gone, the schema is back, and auth is kept."""
    with psycopg.connect(migrated_db) as conn:
        conn.execute("insert into public.organizations (name, slug) values ('Gone', 'gone')")
        conn.execute("insert into auth.users (id, email) values (gen_random_uuid(), 'k@x.io')")
    result = _cli(["db", "reset", "--force"], migrated_db)
    assert result.returncode == 0, result.stderr
    assert "applied" in result.stdout
    assert _org_count(migrated_db) == 0
    with psycopg.connect(migrated_db) as conn:
        users = conn.execute("select count(*) from auth.users").fetchone()
    assert users == (1,)
