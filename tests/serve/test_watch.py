"""Watching a run over Realtime: watch_run, `watch RUN_ID` and `run-suite --watch` via serve."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from runner.cli.watch import Connection, watch_run
from support import load_example, record_example_run
from support_serve import ServeHandle

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop.yaml"
shop_api = load_example("shop_api")


async def record_shop(db_url: str, tmp_path: Path, started: asyncio.Event, ids: list[str]) -> None:
    """Run the example suite into ``db_url``, announcing the run id once it exists."""

    def on_run_id(run_id: str) -> None:
        ids.append(run_id)
        started.set()

    transport = httpx.ASGITransport(app=shop_api.create_app())
    result, _ = await record_example_run(db_url, tmp_path / "spill", transport, on_run_id=on_run_id)
    assert result.ok


async def test_watch_follows_a_live_run_to_the_end(serve: ServeHandle, tmp_path: Path) -> None:
    """Every result of a run being recorded shows up once, then the closing summary."""
    started, ids = asyncio.Event(), []
    lines: list[str] = []
    recording = asyncio.create_task(record_shop(serve.db_url, tmp_path, started, ids))
    await asyncio.wait_for(started.wait(), 30)
    connection = Connection(serve.url, serve.service_role_key)
    view = await asyncio.wait_for(watch_run(connection, ids[0], emit=lines.append), 60)
    await recording
    with psycopg.connect(serve.db_url) as conn:
        stored = {r[0] for r in conn.execute("select test_key from test_results").fetchall()}
    assert view.status == "passed"
    assert set(view.results) == stored
    result_lines = [line for line in lines if line.startswith("  PASS")]
    assert len(result_lines) == len(stored)  # each result printed exactly once
    assert lines[-1].startswith(f"run {ids[0]} passed: {len(stored)} passed")


async def test_watch_refuses_a_user_of_another_organisation(
    serve: ServeHandle, tmp_path: Path
) -> None:
    """The anon key cannot join the private run topic: a clear DatabaseError, no hang."""
    from runner.errors import DatabaseError

    started, ids = asyncio.Event(), []
    await record_shop(serve.db_url, tmp_path, started, ids)
    with pytest.raises(DatabaseError, match="refused"):
        await asyncio.wait_for(watch_run(Connection(serve.url, serve.anon_key), ids[0]), 30)


def test_run_suite_watch_shows_the_run_live(serve: ServeHandle, tmp_path: Path) -> None:
    """`run-suite --watch` records through the database and prints the run from Realtime."""
    env = {
        **os.environ,
        "RUNNER_DATABASE_URL": serve.db_url,
        "RUNNER_DATA_DIR": str(tmp_path),
        "SUPABASE_URL": serve.url,
        "SUPABASE_KEY": serve.service_role_key,
    }
    result = subprocess.run(
        [sys.executable, "-m", "runner", "run-suite", "examples/shop.yaml", "--watch"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "watching run" in result.stdout
    assert " passed: " in result.stdout and "warning" not in result.stderr
    run_id = result.stdout.split("watching run ")[1].split()[0]
    again = subprocess.run(
        [sys.executable, "-m", "runner", "watch", run_id, "--timeout", "60"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"run {run_id} passed" in again.stdout


def test_watch_needs_a_url_and_key(tmp_path: Path) -> None:
    """Without SUPABASE_URL/KEY and no serve.env, `watch` exits 2 with one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPABASE")}
    env["RUNNER_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "runner", "watch", "00000000-0000-0000-0000-000000000001"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: watching needs SUPABASE_URL")
    assert "Traceback" not in result.stderr
