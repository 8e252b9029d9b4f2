"""``python -m runner run-suite`` as a user runs it: a subprocess against a local target."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import free_port


@dataclass
class Target:
    """A tiny HTTP API on 127.0.0.1 that the runner subprocess can reach."""

    url: str
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None  # keep pytest output clean

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(length)
            if self.path == "/login":
                self._send(200, {"access_token": "tok-cli-1"})
            else:
                self._send(404, {})

        def do_GET(self) -> None:
            if self.path == "/hang":
                target.hanging.set()
                target.release.wait(30)
                self._send(200, {})
            elif self.headers.get("Authorization") != "Bearer tok-cli-1":
                self._send(401, {"error": "no token"})
            elif self.path == "/cart":
                self._send(200, {"total": 25, "items": ["a", "b"]})
            else:
                self._send(404, {})

    return Handler


@pytest.fixture
def target() -> Iterator[Target]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Target("")))
    host, port = server.server_address[:2]
    state = Target(f"http://{host!s}:{port}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def suite_file(tmp_path: Path, body: str, base_url: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(f"name: cli\nbase_url: {base_url}\n{body}", encoding="utf-8")
    return path


LOGIN_AND_CART = """\
tests:
  - id: login
    request: {method: POST, url: /login, json: {user: ann}}
    captures: {token: {path: $.access_token, as_token: main}}
    checks: {status: 200}
  - id: cart
    request: {url: /cart, headers: {Authorization: 'Bearer {{ shared_auth_tokens.main }}'}}
    checks:
      status: 200
      json: [{path: $.total, value: TOTAL}]
"""


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "runner", "run-suite", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_all_passing_exits_0_and_writes_reports(tmp_path: Path, target: Target) -> None:
    """Exit 0; per-test lines, the counts line, and JUnit and JSON reports."""
    path = suite_file(tmp_path, LOGIN_AND_CART.replace("TOTAL", "25"), target.url)
    proc = run_cli(
        tmp_path, str(path), "--no-store", "--junit", "out.xml", "--json", "out.json", "--seed", "5"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "running cli (seed 5)"
    assert lines[1].startswith("PASS  login") and lines[2].startswith("PASS  cart")
    assert lines[-1] == "2 passed, 0 failed, 0 errors, 0 skipped, 2 total"
    assert proc.stderr == ""
    root = ET.parse(tmp_path / "out.xml").getroot()
    assert [c.get("name") for c in root.iter("testcase")] == ["login", "cart"]
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["counts"]["passed"] == 2
    assert "tok-cli-1" not in (tmp_path / "out.json").read_text()


def test_a_failing_check_exits_1_with_its_message(tmp_path: Path, target: Target) -> None:
    """Exit 1; the failure's message shows expected and actual."""
    path = suite_file(tmp_path, LOGIN_AND_CART.replace("TOTAL", "30"), target.url)
    proc = run_cli(tmp_path, str(path), "--no-store")
    assert proc.returncode == 1
    assert "FAIL  cart" in proc.stdout
    assert "$.total: expected 30 (eq), got 25" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "1 passed, 1 failed, 0 errors, 0 skipped, 2 total"


def test_a_cycle_exits_2_and_prints_it(tmp_path: Path, target: Target) -> None:
    """A dependency cycle is a usage error (exit 2) printed as one line naming the cycle."""
    body = """\
tests:
  - id: a
    request: {url: /a}
    depends_on: [b]
  - id: b
    request: {url: /b}
    depends_on: [a]
"""
    path = suite_file(tmp_path, body, target.url)
    proc = run_cli(tmp_path, str(path), "--no-store")
    assert proc.returncode == 2
    line = assert_one_line_error(proc)
    assert str(path) in line and "a -> b -> a" in line
    assert not target.hanging.is_set() and proc.stdout == ""


def test_an_unknown_reference_exits_2(tmp_path: Path, target: Target) -> None:
    """A dependency on a test that does not exist is a usage error before any request."""
    body = "tests:\n  - id: a\n    request: {url: /a}\n    depends_on: [nope]\n"
    proc = run_cli(tmp_path, str(suite_file(tmp_path, body, target.url)), "--no-store")
    assert proc.returncode == 2
    assert "unknown test 'nope'" in assert_one_line_error(proc)


def test_malformed_yaml_exits_2_with_file_and_line(tmp_path: Path, target: Target) -> None:
    """YAML that does not parse is reported as file:line in one line."""
    body = "tests:\n  - id: a\n    request: {url: /a\n  - id: b\n"
    path = suite_file(tmp_path, body, target.url)
    proc = run_cli(tmp_path, str(path), "--no-store")
    assert proc.returncode == 2
    line = assert_one_line_error(proc)
    assert line.startswith(f"error: {path}:")
    assert line.split(":")[2].strip().isdigit()


def test_a_missing_variable_is_a_template_error_exit_1(tmp_path: Path, target: Target) -> None:
    """A name no one defines errors the test (exit 1), naming test, field and name."""
    body = "tests:\n  - id: a\n    request: {url: /cart, headers: {X-Page: '{{ env.page }}'}}\n"
    proc = run_cli(tmp_path, str(suite_file(tmp_path, body, target.url)), "--no-store")
    assert proc.returncode == 1
    assert "[template] test a: request.headers.X-Page: 'env.page' is undefined" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_var_sets_an_environment_variable(tmp_path: Path, target: Target) -> None:
    """--var KEY=VALUE provides env.KEY to templates."""
    body = "tests:\n  - id: a\n    request: {url: '/{{ env.page }}'}\n    checks: {status: 401}\n"
    path = suite_file(tmp_path, body, target.url)
    proc = run_cli(tmp_path, str(path), "--no-store", "--var", "page=cart")
    assert proc.returncode == 0, proc.stdout


def test_an_unreachable_target_exits_1_as_a_connection_error(tmp_path: Path) -> None:
    """Nothing listening: each test errors with category connection (exit 1)."""
    body = "tests:\n  - id: a\n    request: {url: /a}\n"
    path = suite_file(tmp_path, body, f"http://127.0.0.1:{free_port()}")
    proc = run_cli(tmp_path, str(path), "--no-store")
    assert proc.returncode == 1
    assert "[connection] connection error: ConnectError" in proc.stdout.splitlines()[1]
    assert "Traceback" not in proc.stderr


def test_an_unknown_environment_exits_2(tmp_path: Path, target: Target) -> None:
    """--env naming no environment is a usage error listing the known ones."""
    body = "environments: {dev: {}}\ntests:\n  - id: a\n    request: {url: /a}\n"
    path = suite_file(tmp_path, body, target.url)
    proc = run_cli(tmp_path, str(path), "--no-store", "--env", "prod")
    assert proc.returncode == 2
    assert "unknown environment 'prod' (known: dev)" in assert_one_line_error(proc)


def test_sigterm_marks_the_run_interrupted_and_exits_130(tmp_path: Path, target: Target) -> None:
    """SIGTERM is handled like Ctrl-C: one line, exit 130, partial reports written."""
    body = "tests:\n  - id: slow\n    request: {url: /hang}\n"
    path = suite_file(tmp_path, body, target.url)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "run-suite", str(path), "--no-store", "--json", "o.json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert target.hanging.wait(30), "the runner never sent its request"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert err.strip() == "interrupted"
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["status"] == "interrupted"
    assert data["results"][0]["error_category"] == "interrupted"


def test_help_imports_nothing_heavy() -> None:
    """`run-suite --help` loads no HTTP, template or model library (start-up stays fast)."""
    code = (
        "import sys\n"
        "from runner.cli.main import build_parser\n"
        "build_parser()\n"
        "heavy = {'httpx', 'jinja2', 'pydantic', 'rich', 'networkx', 'yaml', 'jsonschema'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_service_cmd_starts_the_target_for_the_run(tmp_path: Path) -> None:
    """--service-cmd/--service-url start a service, wait for it, run, and stop it."""
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello.txt").write_text("hello from the service\n")
    body = (
        "tests:\n  - id: hello\n    request: {url: /hello.txt}\n"
        "    captures: {word: {from: regex, pattern: 'hello (\\w+)'}}\n"
        "    checks: {status: 200}\n"
    )
    path = suite_file(tmp_path, body, f"http://127.0.0.1:{port}")
    command = f"{{python}} -m http.server {port} --bind 127.0.0.1 --directory {tmp_path / 'www'}"
    proc = run_cli(
        tmp_path,
        str(path),
        "--no-store",
        "--service-cmd",
        command,
        "--service-url",
        f"http://127.0.0.1:{port}/",
        "--json",
        "out.json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["results"][0]["captured"] == {"word": "from"}
    with pytest.raises(ConnectionRefusedError):  # stopped afterwards: nothing listens
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
