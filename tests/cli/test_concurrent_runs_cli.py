"""Runs that must not lose each other (issue 14): concurrent same-named suites, killed runs.

Real ``python -m runner run-suite`` subprocesses against a local HTTP target and the
embedded PostgreSQL. The target holds run A's second half until run B has sent its
first request, so B's sync happens while A is still recording: the case that used
to delete A's test cases under it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.db

TESTS = 400


@dataclass
class Target:
    """GET /a/<n> and /b/<n> answer 200 at once, except A's second half (held for B)."""

    url: str = ""
    b_started: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            part, _, number = self.path.strip("/").partition("/")
            if part == "b":
                target.b_started.set()
            elif part == "a" and int(number or 0) >= TESTS // 2:
                target.b_started.wait(60)
            elif part == "hang":
                target.hanging.set()
                target.release.wait(60)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass  # the killed runner's connection

    return Handler


@pytest.fixture
def target() -> Iterator[Target]:
    state = Target()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    host, port = server.server_address[:2]
    state.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    state.b_started.set()
    server.shutdown()
    server.server_close()


def _suite(path: Path, part: str, base_url: str, *, suite_id: str | None = None) -> Path:
    """400 independent tests named shop; 350 stable ids shared by both parts, 50 their own."""
    lines = ["name: shop", f"base_url: {base_url}"]
    if suite_id:
        lines.append(f"id: {suite_id}")
    lines.append("tests:")
    for n in range(TESTS):
        test_id = f"t{n}" if n < 350 else f"{part}{n}"
        status = 201 if (part == "b" and n == 10) else 200  # B has one failing test
        lines.append(
            f"  - {{id: {test_id}, request: {{url: /{part}/{n}}}, checks: {{status: {status}}}}}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env(db: str, data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(RUNNER_DATABASE_URL=db, RUNNER_DATA_DIR=str(data), NO_COLOR="1", **extra)
    return env


def _start(db: str, cwd: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "run-suite", *args, "--concurrency", "16"],
        cwd=cwd,
        env=_env(db, cwd / ".runner", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _one(db: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(db) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("suite_id", [None, "shop"], ids=["no-id", "same-id"])
def test_two_same_named_suites_recording_at_once_keep_all_results(
    migrated_db: str, tmp_path: Path, target: Target, suite_id: str | None
) -> None:
    """Both runs get 400/400 results, no case either used is deleted, exit codes 0 and 1."""
    a = _suite(tmp_path / "a.yaml", "a", target.url, suite_id=suite_id)
    b = _suite(tmp_path / "b.yaml", "b", target.url, suite_id=suite_id)
    run_a = _start(migrated_db, tmp_path, str(a))
    try:
        # B starts 1 s later (as the reproduction), while A is held mid-run
        assert not target.b_started.wait(1.0)
        run_b = _start(migrated_db, tmp_path, str(b))
        out_b, err_b = run_b.communicate(timeout=180)
        out_a, err_a = run_a.communicate(timeout=180)
    finally:
        for proc in (run_a,):
            if proc.poll() is None:
                proc.kill()
    assert run_a.returncode == 0, out_a + err_a
    assert run_b.returncode == 1, out_b + err_b
    with psycopg.connect(migrated_db) as conn:
        runs = conn.execute(
            "select r.id, r.status, r.completed_tests, r.suite_id, r.suite_version_id, "
            "(select count(*) from test_results x where x.run_id = r.id), "
            "(select count(*) from test_results x where x.run_id = r.id "
            "   and x.test_case_id is null) "
            "from test_runs r order by r.started_at"
        ).fetchall()
        assert [(r[1], r[2], r[5], r[6]) for r in runs] == [
            ("passed", TESTS, TESTS, 0),
            ("failed", TESTS, TESTS, 0),
        ]
        versions = {r[4] for r in runs}
        assert len(versions) == 2  # each run recorded the version it loaded
        # every case a run's version names is still there
        missing = conn.execute(
            "select count(*) from suite_versions v, unnest(v.case_ids) as c(id) "
            "where not exists (select 1 from test_cases t where t.id = c.id)"
        ).fetchone()
        assert missing == (0,)
    same_suite = runs[0][3] == runs[1][3]
    assert same_suite is (suite_id is not None)
    if suite_id is None:
        assert "recorded as a separate suite" in out_b and "id: shop" in out_b, out_b
    else:
        assert "separate suite" not in out_b


def _hanging_run(db: str, cwd: Path, target: Target) -> tuple[subprocess.Popen[str], str]:
    """A run whose one test hangs, with a 3 s stale limit; returns it and its run id."""
    path = cwd / "hang.yaml"
    path.write_text(
        f"name: hang\nbase_url: {target.url}\ntests:\n  - id: slow\n    request: {{url: /hang}}\n",
        encoding="utf-8",
    )
    proc = _start(db, cwd, str(path), RUNNER_STALE_RUN_S="3")
    assert target.hanging.wait(60), "the runner never sent its request"
    run_id = _one(db, "select id::text from test_runs where suite_name = 'hang'")
    return proc, str(run_id)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()  # SIGKILL: no handler, no finish_run
    proc.communicate(timeout=30)


def test_killed_run_is_reaped_by_the_sql_function_within_a_minute(
    migrated_db: str, tmp_path: Path, target: Target
) -> None:
    """SIGKILL leaves the run running; reap_stale_runs(3) marks it interrupted, runner lost."""
    proc, run_id = _hanging_run(migrated_db, tmp_path, target)
    try:
        # alive and beating: not stale for a limit longer than its life
        assert _one(migrated_db, "select public.reap_stale_runs(30)") == 0
    finally:
        _kill(proc)
    assert _one(migrated_db, "select status from test_runs where id = %s", (run_id,)) == "running"
    killed = time.monotonic()
    done = threading.Event()
    while not done.is_set():
        assert time.monotonic() - killed < 60, "not reaped within a minute"
        if _one(migrated_db, "select public.reap_stale_runs(3)") == 1:
            done.set()
        else:
            done.wait(0.25)  # the limit is a time: the heartbeat must grow 3 s old
    status, metadata = _one(
        migrated_db, "select array[status, metadata::text] from test_runs where id = %s", (run_id,)
    )
    assert status == "interrupted"
    assert '"interrupted_reason": "runner lost"' in metadata
    events = _one(
        migrated_db,
        "select count(*) from realtime.messages where topic = %s and event = 'run_completed'",
        (f"run:{run_id}",),
    )
    assert events == 1


def test_killed_run_is_reaped_when_the_next_command_opens_the_store(
    migrated_db: str, tmp_path: Path, target: Target
) -> None:
    """The next run-suite (its store opening) marks the killed run interrupted."""
    proc, run_id = _hanging_run(migrated_db, tmp_path, target)
    _kill(proc)
    target.release.set()
    other = tmp_path / "other.yaml"
    other.write_text(
        f"name: other\nbase_url: {target.url}\ntests:\n  - id: one\n    request: {{url: /a/1}}\n",
        encoding="utf-8",
    )
    # a limit shorter than the time the command takes to open its store
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run-suite", str(other)],
        cwd=tmp_path,
        env=_env(migrated_db, tmp_path / ".runner", RUNNER_STALE_RUN_S="0.05"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _one(migrated_db, "select status from test_runs where id = %s", (run_id,)) == (
        "interrupted"
    )
    assert _one(migrated_db, "select status from test_runs where suite_name = 'other'") == "passed"


def _small(path: Path, part: str, base_url: str) -> Path:
    path.write_text(
        f"name: shop\nbase_url: {base_url}\ntests:\n"
        f"  - {{id: t1, request: {{url: /{part}/1}}}}\n"
        f"  - {{id: {part}2, request: {{url: /{part}/2}}}}\n",
        encoding="utf-8",
    )
    return path


def test_suite_id_flag_joins_the_suite_of_another_file(
    migrated_db: str, tmp_path: Path, target: Target
) -> None:
    """`--suite-id shop` records b.yaml into the suite a.yaml made, sharing t1's history."""
    a = _small(tmp_path / "a.yaml", "a", target.url)
    b = _small(tmp_path / "b.yaml", "b", target.url)
    env = _env(migrated_db, tmp_path / ".runner")
    for args in ([str(a)], [str(b), "--suite-id", "shop"]):
        done = subprocess.run(
            [sys.executable, "-m", "runner", "run-suite", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "separate suite" not in done.stdout
    with psycopg.connect(migrated_db) as conn:
        suites = conn.execute("select count(distinct suite_id) from test_runs").fetchone()
        t1 = conn.execute(
            "select count(distinct test_case_id) from test_results where test_key = 't1'"
        ).fetchone()
    assert suites == (1,) and t1 == (1,)


def test_bad_suite_id_is_one_line_and_exit_2(
    migrated_db: str, tmp_path: Path, target: Target
) -> None:
    """An id that is not a slug is refused before anything runs or is recorded."""
    a = _small(tmp_path / "a.yaml", "a", target.url)
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run-suite", str(a), "--suite-id", "Not A Slug"],
        cwd=tmp_path,
        env=_env(migrated_db, tmp_path / ".runner"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().startswith("error: --suite-id 'Not A Slug'")
    assert len(done.stderr.strip().splitlines()) == 1
    assert _one(migrated_db, "select count(*) from test_runs") == 0
