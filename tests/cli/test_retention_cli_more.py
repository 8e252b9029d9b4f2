"""``python -m runner retention`` edges as a user meets them: settings, projects, bad archives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "db"))

from helpers import seed  # noqa: E402
from retention_data import add_result, add_run, ids  # noqa: E402

KEY = "service-role-key-never-printed"


def _cli(tmp_path: Path, url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    for name in ("RUNNER_ARCHIVE_BUCKET", "SUPABASE_URL", "SUPABASE_KEY"):
        env.pop(name, None)
    env["RUNNER_DATABASE_URL"] = url
    env["RUNNER_DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "runner", "retention", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_nothing_expired_says_so(migrated_db: str, tmp_path: Path) -> None:
    """With no expired rows the command exits 0, says nothing has expired and writes nothing."""
    proc = _cli(tmp_path, migrated_db, "--archive-dir", str(tmp_path / "arch"))
    assert proc.returncode == 0, proc.stderr
    assert "nothing has expired" in proc.stdout
    assert not list((tmp_path / "arch").rglob("chunk.json"))


def test_an_invalid_setting_is_one_usage_line(migrated_db: str, tmp_path: Path) -> None:
    """A malformed RUNNER_RETENTION_CHUNK_SIZE exits 2 with 'invalid settings', no traceback."""
    proc = _cli(tmp_path, migrated_db, RUNNER_RETENTION_CHUNK_SIZE="lots")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: invalid settings")
    assert "Traceback" not in proc.stderr


def test_project_filter_limits_what_expires(migrated_db: str, tmp_path: Path) -> None:
    """--project NAME only touches that project's runs; an unknown name is a usage error."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        shop = add_result(cur, add_run(cur, world.project, days_ago=200), "s", days_ago=100)
        other = add_result(cur, add_run(cur, world.project_b, days_ago=200), "b", days_ago=100)
    unknown = _cli(tmp_path, migrated_db, "--project", "no-such-project")
    assert unknown.returncode == 2
    assert "no project named 'no-such-project'" in unknown.stderr
    arch = str(tmp_path / "arch")
    proc = _cli(tmp_path, migrated_db, "--project", "Shop", "--archive-dir", arch)
    assert proc.returncode == 0, proc.stderr
    left = ids(migrated_db, "test_results")
    assert shop not in left and other in left


def test_restore_from_an_unreachable_bucket_is_an_archive_error(
    migrated_db: str, tmp_path: Path
) -> None:
    """storage://… with Storage down exits 5 with one line that never shows the key."""
    proc = _cli(
        tmp_path,
        migrated_db,
        "restore",
        "storage://archives/batch-1",
        SUPABASE_URL="http://127.0.0.1:9",
        SUPABASE_KEY=KEY,
    )
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr.startswith("error: cannot download batch-1/manifest.json")
    assert KEY not in proc.stderr + proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1


def test_restore_of_a_path_without_an_archive(migrated_db: str, tmp_path: Path) -> None:
    """A folder holding no batch, chunk or manifest exits 5 naming what was expected."""
    (tmp_path / "empty").mkdir()
    proc = _cli(tmp_path, migrated_db, "restore", str(tmp_path / "empty"))
    assert proc.returncode == 5
    assert "expected manifest.json, chunk.json, or folders of batches" in proc.stderr
    bad = _cli(tmp_path, migrated_db, "restore", "storage://archives")
    assert bad.returncode == 5
    assert "expected storage://<bucket>/<batch>[/<chunk>]" in bad.stderr


def test_database_errors_are_one_line_exit_3(
    migrated_db: str, bare_db: str, tmp_path: Path
) -> None:
    """A dry run or a restore against a database without the schema fails with exit 3, one line."""
    dry = _cli(tmp_path, bare_db, "--dry-run")
    assert dry.returncode == 3, dry.stderr
    assert dry.stderr.startswith("error: retention failed: ")
    assert len(dry.stderr.strip().splitlines()) == 1
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        add_result(cur, add_run(cur, world.project, days_ago=200), "old", days_ago=100)
    arch = tmp_path / "arch"
    assert _cli(tmp_path, migrated_db, "--archive-dir", str(arch)).returncode == 0
    restored = _cli(tmp_path, bare_db, "restore", str(arch))
    assert restored.returncode == 3, restored.stderr
    assert restored.stderr.startswith("error: restore failed: ")
    assert "Traceback" not in restored.stderr
