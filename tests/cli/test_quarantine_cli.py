"""``quarantine add|remove|list`` and what a quarantine does to ``run-suite``, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.db

SUITE = """\
name: qcli
base_url: {url}
tests:
  - id: login
    request: {{method: POST, url: /login}}
    checks: {{status: 200}}
  - id: cart
    request: {{url: /cart}}
    checks:
      json: [{{path: $.total, value: 30}}]
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _send(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send({"access_token": "t"})

    def do_GET(self) -> None:
        self._send({"total": 25})  # the cart check expects 30: it always fails


@pytest.fixture
def target_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}"
    server.shutdown()
    server.server_close()


def _cli(db: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(RUNNER_DATABASE_URL=db, RUNNER_DATA_DIR=str(tmp_path / "data"), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_a_quarantined_failure_is_recorded_but_does_not_fail_the_run(
    migrated_db: str, tmp_path: Path, target_url: str
) -> None:
    """Quarantined cart fails, the run passes (exit 0); summary and database say so."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(url=target_url), encoding="utf-8")
    first = _cli(migrated_db, tmp_path, "run-suite", str(suite))
    assert first.returncode == 1, first.stdout + first.stderr

    added = _cli(migrated_db, tmp_path, "quarantine", "add", "qcli", "cart", "--reason", "BUG-7")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "quarantined qcli/cart: BUG-7\n"
    listed = _cli(migrated_db, tmp_path, "quarantine", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("qcli/qcli/cart  since ")
    assert listed.stdout.rstrip().endswith(": BUG-7")

    second = _cli(migrated_db, tmp_path, "run-suite", str(suite))
    assert second.returncode == 0, second.stdout + second.stderr
    out = second.stdout.splitlines()
    assert "FAIL  cart" in second.stdout
    assert "  FAILED cart (quarantined) [assertion]: $.total: expected 30 (eq), got 25" in out
    summary = out.index("1 passed, 1 failed, 0 errors, 0 skipped, 2 total, 1 quarantined")
    assert out[summary + 1 :] == ["quarantined (not failing the run):", "  FAILED cart — BUG-7"]

    with psycopg.connect(migrated_db) as conn:
        runs = conn.execute(
            "select r.status, r.metadata -> 'quarantined_tests', t.status from test_runs r "
            "join test_results t on t.run_id = r.id and t.test_key = 'cart' order by r.started_at"
        ).fetchall()
    assert runs == [("failed", None, "failed"), ("passed", ["cart"], "failed")]


def test_add_remove_and_their_errors(migrated_db: str, tmp_path: Path, target_url: str) -> None:
    """Remove lifts a quarantine; unknown tests and double removes are one-line errors (exit 2)."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(url=target_url), encoding="utf-8")
    assert _cli(migrated_db, tmp_path, "run-suite", str(suite)).returncode == 1

    unknown = _cli(migrated_db, tmp_path, "quarantine", "add", "qcli", "nope", "--reason", "x")
    assert unknown.returncode == 2
    assert "no stored test 'nope' in suite 'qcli'" in _one_line_error(unknown)

    assert (
        _cli(migrated_db, tmp_path, "quarantine", "add", "qcli", "cart", "--reason", "a").returncode
        == 0
    )
    again = _cli(migrated_db, tmp_path, "quarantine", "add", "qcli", "cart", "--reason", "b")
    assert again.stdout == "updated the quarantine of qcli/cart: b\n"
    removed = _cli(migrated_db, tmp_path, "quarantine", "remove", "qcli", "cart")
    assert removed.returncode == 0 and removed.stdout == "lifted the quarantine of qcli/cart\n"
    twice = _cli(migrated_db, tmp_path, "quarantine", "remove", "qcli", "cart")
    assert twice.returncode == 2
    assert "qcli/cart is not quarantined" in _one_line_error(twice)
    assert _cli(migrated_db, tmp_path, "quarantine", "list").stdout == "no quarantined tests\n"
    # lifted: the failure fails the run again
    assert _cli(migrated_db, tmp_path, "run-suite", str(suite)).returncode == 1


def test_the_summary_lists_regressions_against_the_baseline(
    migrated_db: str, tmp_path: Path, target_url: str
) -> None:
    """With a week of 0.001 ms p95 for login, the next run's summary lists login's regression."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(url=target_url), encoding="utf-8")
    assert _cli(migrated_db, tmp_path, "run-suite", str(suite)).returncode == 1
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "insert into performance_metrics (test_case_id, environment_id, metric_date, "
            "total_runs, successful_runs, p95_response_ms) "
            "select c.id, null, (now() at time zone 'UTC')::date - d, 1, 1, 0.001 "
            "from test_cases c, generate_series(1, 7) as d where c.stable_id = 'login'"
        )
    proc = _cli(migrated_db, tmp_path, "run-suite", str(suite))
    assert proc.returncode == 1
    out = proc.stdout.splitlines()
    block = out.index("regressions against the baseline:")
    assert out[block - 1] == "1 passed, 1 failed, 0 errors, 0 skipped, 2 total"
    assert out[block + 1].startswith("  login  p95 ") and "vs 0.0 ms" in out[block + 1]
    assert "baseline 7 days, 7 results" in out[block + 1]
