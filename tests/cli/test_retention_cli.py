"""``python -m runner retention`` as a user runs it: a subprocess against a migrated database."""

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
from retention_data import add_context, add_result, add_run, ids, snapshot  # noqa: E402


def _cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["RUNNER_DATABASE_URL"] = url
    env["RUNNER_DATA_DIR"] = str(tmp_path / "data")
    env.pop("RUNNER_ARCHIVE_BUCKET", None)
    return subprocess.run(
        [sys.executable, "-m", "runner", "retention", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _history(url: str) -> set[object]:
    world = seed(url)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        run = add_run(cur, world.project, days_ago=200)
        add_context(cur, run, hours_ago=30)
        return {add_result(cur, run, f"r{n}", days_ago=100) for n in range(5)}


def test_dry_run_prints_counts_and_changes_nothing(migrated_db: str, tmp_path: Path) -> None:
    """--dry-run lists what each phase would take, exits 0 and leaves rows and disk alone."""
    _history(migrated_db)
    before = snapshot(migrated_db)
    proc = _cli(tmp_path, migrated_db, "--dry-run", "--archive-dir", str(tmp_path / "arch"))
    assert proc.returncode == 0, proc.stderr
    assert "nothing was changed" in proc.stdout
    assert "         5  results" in proc.stdout
    assert "         1  execution contexts" in proc.stdout
    assert snapshot(migrated_db) == before
    assert not (tmp_path / "arch").exists()


def test_archive_in_chunks_then_restore(migrated_db: str, tmp_path: Path) -> None:
    """The command archives and deletes in chunks; `retention restore DIR` brings the rows back."""
    doomed = _history(migrated_db)
    before = snapshot(migrated_db, ("test_results", "test_result_details"))
    arch = tmp_path / "arch"
    proc = _cli(tmp_path, migrated_db, "--archive-dir", str(arch), "--chunk-size", "2")
    assert proc.returncode == 0, proc.stderr
    assert "5  results (with their checks and attempts) deleted (3 chunk(s))" in proc.stdout
    assert not doomed & ids(migrated_db, "test_results")
    assert len(list(arch.rglob("chunk.json"))) == 4  # 1 context chunk + 3 result chunks

    proc = _cli(tmp_path, migrated_db, "restore", str(arch))
    assert proc.returncode == 0, proc.stderr
    assert "restored 4 chunk(s)" in proc.stdout
    assert snapshot(migrated_db, ("test_results", "test_result_details")) == before


def test_default_archive_is_under_the_data_dir(migrated_db: str, tmp_path: Path) -> None:
    """Without --archive-dir or a bucket, archives go to <RUNNER_DATA_DIR>/archive."""
    _history(migrated_db)
    proc = _cli(tmp_path, migrated_db)
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "data" / "archive").rglob("manifest.json"))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["restore", "nowhere"], 5, "error: no retention archive at "),
        (["--project", "no-such-project"], 2, "error: no project named 'no-such-project'"),
        (["--chunk-size", "0"], 2, "error: --chunk-size must be a whole number >= 1"),
    ],
)
def test_mistakes_are_one_line_with_their_exit_code(
    migrated_db: str, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    """A bad archive path (exit 5), an unknown project or a bad chunk size (exit 2): one line."""
    proc = _cli(tmp_path, migrated_db, *args)
    assert proc.returncode == code
    assert proc.stderr.startswith(message)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
