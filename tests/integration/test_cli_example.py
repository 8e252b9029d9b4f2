"""The README's main job: `run-suite examples/shop.yaml` end to end, recorded in Postgres."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


def test_example_suite_runs_and_is_recorded(migrated_db: str, tmp_path: Path) -> None:
    """The CLI starts the demo API, runs every test, prints a summary, stores the run."""
    junit, report = tmp_path / "junit.xml", tmp_path / "run.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "run-suite",
            "examples/shop.yaml",
            "--junit",
            str(junit),
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "RUNNER_DATABASE_URL": migrated_db, "RUNNER_DATA_DIR": str(tmp_path)},
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(report.read_text())
    total = len(data["results"])
    assert total > 10
    assert ET.parse(junit).getroot().iter("testcase").__next__() is not None
    with psycopg.connect(migrated_db) as conn:
        runs = conn.execute(
            "select status, total_tests, passed_tests, suite_name from test_runs"
        ).fetchall()
        metrics = conn.execute("select count(*) from performance_metrics").fetchone()
    assert runs == [("passed", total, total, data["suite"])]
    assert metrics is not None and metrics[0] > 0

    by_name = subprocess.run(
        [sys.executable, "-m", "runner", "run-suite", data["suite"]],
        capture_output=True,
        text=True,
        env={**os.environ, "RUNNER_DATABASE_URL": migrated_db, "RUNNER_DATA_DIR": str(tmp_path)},
        cwd=tmp_path,  # not the repo: the stored suite must carry what it needs
        timeout=300,
        check=False,
    )
    assert by_name.returncode == 0, by_name.stdout + by_name.stderr
    with psycopg.connect(migrated_db) as conn:
        statuses = conn.execute("select status from test_runs order by started_at").fetchall()
    assert statuses == [("passed",), ("passed",)]
