"""``run-suite`` refuses what it cannot handle before the first request and the first row.

Hostile suite files (alias bomb, deep nesting, huge file) and report paths that cannot be
written: exit 2, one line on stderr, no request sent, nothing recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.db


class CountingTarget:
    """A local API answering 200 to everything, counting the requests it gets."""

    def __init__(self) -> None:
        self.requests = 0
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                with target.lock:
                    target.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}"


@pytest.fixture
def target() -> Iterator[CountingTarget]:
    state = CountingTarget()
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


def run_suite(db_url: str, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m runner run-suite ARGS`` recording into ``db_url``; also its wall time."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(RUNNER_DATABASE_URL=db_url, RUNNER_DATA_DIR=str(cwd / ".runner"), NO_COLOR="1")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "run-suite", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc, time.monotonic() - started


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def recorded_runs(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("select count(*) from test_runs").fetchone()
    assert row is not None
    return int(row[0])


def suite_head(url: str) -> str:
    return f"base_url: {url}\ntests:\n  - id: a\n    request: {{url: /a}}\n"


def alias_bomb(url: str) -> str:
    lines = ["name: bomb", suite_head(url).rstrip("\n"), "x: &a [x,x,x,x,x,x,x,x,x]"]
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def deep_yaml(url: str) -> str:
    return "name: deep\n" + suite_head(url) + "x: " + "[" * 10_000 + "]" * 10_000 + "\n"


def deep_json(url: str) -> str:
    tests = f'"base_url": "{url}", "tests": [{{"id": "a", "request": {{"url": "/a"}}}}]'
    return '{"name": "deep", ' + tests + ',\n"x": ' + "[" * 10_000 + "]" * 10_000 + "}"


@pytest.mark.parametrize(
    ("name", "make", "line"),
    [
        ("bomb.yaml", alias_bomb, 11),
        ("deep.yaml", deep_yaml, 6),
        ("deep.json", deep_json, 2),
        ("huge.yaml", None, None),
    ],
    ids=["alias-bomb", "yaml-10000-deep", "json-10000-deep", "200MB"],
)
def test_a_hostile_suite_is_one_line_exit_2_and_records_nothing(
    migrated_db: str,
    tmp_path: Path,
    target: CountingTarget,
    name: str,
    make: object,
    line: int | None,
) -> None:
    """Alias bomb, 10,000-level nesting, 200 MB: exit 2, one file:line, no request, no row."""
    path = tmp_path / name
    if callable(make):
        path.write_text(make(target.url))
    else:  # sparse: 200 MB to stat, nothing to write
        with path.open("wb") as handle:
            handle.truncate(200 * 1024 * 1024)
    proc, elapsed = run_suite(migrated_db, tmp_path, str(path))
    error = one_error_line(proc)
    where = f"error: {path}:{line}: " if line else f"error: {path}: "
    assert error.startswith(where), error
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert target.requests == 0
    assert recorded_runs(migrated_db) == 0


def test_missing_report_folders_are_created(
    migrated_db: str, tmp_path: Path, target: CountingTarget
) -> None:
    """--junit/--json/--html/--markdown under folders that do not exist yet: created, written."""
    path = tmp_path / "s.yaml"
    path.write_text("name: out\n" + suite_head(target.url))
    reports = ["missing/dir/x.xml", "a/r.json", "b/c/r.html", "d/r.md"]
    options = ["--junit", "--json", "--html", "--markdown"]
    args = [arg for pair in zip(options, reports, strict=True) for arg in pair]
    proc, _ = run_suite(migrated_db, tmp_path, str(path), *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for report in reports:
        assert (tmp_path / report).stat().st_size > 0, report
    assert "<testsuite" in (tmp_path / "missing/dir/x.xml").read_text()
    assert target.requests == 1 and recorded_runs(migrated_db) == 1


@pytest.mark.parametrize("option", ["--junit", "--json", "--html", "--markdown"])
def test_an_unwritable_report_path_fails_before_any_request(
    migrated_db: str, tmp_path: Path, target: CountingTarget, option: str
) -> None:
    """A report path under a regular file: exit 2 and one line, before any request or row."""
    path = tmp_path / "s.yaml"
    path.write_text("name: out\n" + suite_head(target.url))
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    proc, _ = run_suite(migrated_db, tmp_path, str(path), option, "blocker/sub/report.out")
    error = one_error_line(proc)
    assert error == f"error: cannot write {option} blocker/sub/report.out: a parent is not a folder"
    assert target.requests == 0 and proc.stdout == ""
    assert recorded_runs(migrated_db) == 0


def test_a_report_path_that_is_a_folder_fails_and_an_existing_file_is_kept(
    migrated_db: str, tmp_path: Path, target: CountingTarget
) -> None:
    """--json naming a folder fails up front; an existing --junit file is not touched by it."""
    path = tmp_path / "s.yaml"
    path.write_text("name: out\n" + suite_head(target.url))
    (tmp_path / "folder").mkdir()
    (tmp_path / "old.xml").write_text("previous report\n")
    proc, _ = run_suite(migrated_db, tmp_path, str(path), "--junit", "old.xml", "--json", "folder")
    assert "cannot write --json folder: Is a directory" in one_error_line(proc)
    assert (tmp_path / "old.xml").read_text() == "previous report\n"
    assert target.requests == 0 and recorded_runs(migrated_db) == 0
