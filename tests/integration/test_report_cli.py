"""``python -m runner report RUN_ID`` on a run recorded in a real database, and
``run-suite --html/--markdown``: every test, coloured graph, checks, no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from runner.api import run_suite
from runner.db.connect import Target
from runner.models import RunResult
from runner.reporting.html.graph import STATUS_COLOURS
from runner.settings import Settings
from runner.store.postgres import PostgresStore
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

TOKEN = "tok-report-7f3a9c"
PASSWORD = "hunter2-report"

SUITE = """\
name: shop-report
base_url: http://shop.test
environments:
  dev:
    secrets: {password: {env: REPORT_PASSWORD, default: PW_DEFAULT}}
tests:
  - id: login
    request: {method: POST, url: /login, json: {user: ann, pw: '{{ secrets.password }}'}}
    captures: {token: {path: $.access_token, as_token: main}, user_id: $.user_id}
    checks: {status: 200}
  - id: cart
    request: {url: /cart, headers: {Authorization: 'Bearer {{ shared_auth_tokens.main }}'}}
    checks: {status: 200, json: [{path: $.total, value: 30}]}
  - id: checkout
    request: {method: POST, url: '/checkout?user={{ captured_data.login.user_id }}'}
    depends_on: [cart]
  - id: flaky
    request: {url: /flaky}
    retries: {count: 2, backoff: 0, jitter: 0, on_status: [503]}
    checks: {status: 200}
""".replace("PW_DEFAULT", PASSWORD)


def shop() -> httpx.MockTransport:
    """The target API (a third-party edge): echoes what it was sent into its bodies."""
    calls = {"flaky": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(200, json={"access_token": TOKEN, "user_id": 7})
        if request.url.path == "/cart":
            echo = request.headers.get("authorization", "")
            return httpx.Response(200, json={"total": 25, "seen": echo})
        if request.url.path == "/flaky":
            calls["flaky"] += 1
            return httpx.Response(503 if calls["flaky"] == 1 else 200, json={})
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handle)


async def record(url: str, tmp_path: Path) -> RunResult:
    loaded = load_suite_text(SUITE, file="shop-report.yaml")
    store = PostgresStore(Target(url, embedded=True), spill_dir=tmp_path / "spill")
    async with store, httpx.AsyncClient(transport=shop()) as client:
        return await run_suite(
            loaded,
            env="dev",
            store=store,
            client=client,
            services=(),
            seed=3,
            environ={},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
        )


def cli(
    tmp_path: Path, url: str | None, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUNNER_", "SUPABASE_")) and not k.lower().endswith("_proxy")
    }
    if url:
        environ["RUNNER_DATABASE_URL"] = url
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Parsed(HTMLParser):
    """Graph nodes (test -> status, fill) and test sections (key -> status)."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, tuple[str, str]] = {}
        self.tests: dict[str, str] = {}
        self._node: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "g" and "node" in classes:
            self._node = (a["data-test"] or "", a["data-status"] or "")
        elif tag == "rect" and self._node is not None:
            self.nodes[self._node[0]] = (self._node[1], a.get("fill") or "")
            self._node = None
        elif tag == "details" and "test" in classes:
            self.tests[a["data-test"] or ""] = a["data-status"] or ""


def parse(html: str) -> Parsed:
    p = Parsed()
    p.feed(html)
    return p


@pytest.fixture
async def recorded(migrated_db: str, tmp_path: Path) -> RunResult:
    return await record(migrated_db, tmp_path)


async def test_html_and_markdown_of_a_stored_run(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """Every test with its status, graph nodes coloured by status, checks and attempts."""
    proc = cli(
        tmp_path,
        migrated_db,
        "report",
        str(recorded.run_id),
        "--html",
        "r.html",
        "--markdown",
        "r.md",
    )
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "r.html").read_text()
    parsed = parse(html)
    assert parsed.tests == {
        "login": "passed",
        "cart": "failed",
        "checkout": "skipped",
        "flaky": "passed",
    }
    assert parsed.nodes == {
        test: (status, STATUS_COLOURS[status]) for test, status in parsed.tests.items()
    }
    assert 'data-from="cart" data-to="checkout"' in html  # the explicit edge
    assert 'data-from="login" data-to="cart"' in html  # inferred from the token template
    assert "$.total" in html and "<code>30</code>" in html and "<code>25</code>" in html
    assert "attempt" in html and "503" in html and "passed after retry" in html
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("## ❌ shop-report: failed")
    assert "| cart | failed | assertion |" in md


async def test_no_secret_captured_in_the_run_reaches_a_report(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """The token the login returned (and the cart echoed) and the password never show."""
    proc = cli(
        tmp_path,
        migrated_db,
        "report",
        str(recorded.run_id),
        "--html",
        "r.html",
        "--markdown",
        "r.md",
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("r.html", "r.md"):
        text = (tmp_path / name).read_text()
        assert TOKEN not in text and PASSWORD not in text
    assert "[REDACTED]" in (tmp_path / "r.html").read_text()


async def test_summary_to_stdout_without_options(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """With neither --html nor --markdown the Markdown summary is printed."""
    proc = cli(tmp_path, migrated_db, "report", str(recorded.run_id))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("## ❌ shop-report: failed")


def add_template(url: str, run_id: str, name: str, fmt: str, source: str, *, project: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into public.report_templates (organization_id, project_id, name, format, "
            "template) select organization_id, case when %s then project_id end, %s, %s, %s "
            "from public.test_runs where id = %s",
            (project, name, fmt, source, run_id),
        )


async def test_stored_template_is_used_project_first(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """--template NAME renders the organisation's template; the project's own wins."""
    run_id = str(recorded.run_id)
    add_template(migrated_db, run_id, "acme", "markdown", "org {{ run.suite }}", project=False)
    proc = cli(tmp_path, migrated_db, "report", run_id, "--template", "acme")
    assert (proc.returncode, proc.stdout) == (0, "org shop-report"), proc.stderr
    add_template(
        migrated_db,
        run_id,
        "acme",
        "markdown",
        "project {{ run.counts.failed }} {% for t in failures %}{{ t.key }}{% endfor %}",
        project=True,
    )
    proc = cli(tmp_path, migrated_db, "report", run_id, "--template", "acme")
    assert (proc.returncode, proc.stdout) == (0, "project 1 cart"), proc.stderr
    add_template(
        migrated_db,
        run_id,
        "page",
        "html",
        "<p>{{ tests | length }}</p>{{ graph_svg }}",
        project=False,
    )
    proc = cli(tmp_path, migrated_db, "report", run_id, "--template", "page", "--html", "p.html")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "p.html").read_text()
    assert page.startswith("<p>4</p><svg") and TOKEN not in page


async def test_broken_template_is_one_line_with_its_name_and_line(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """A template that does not compile: exit 2, one line naming template and line."""
    run_id = str(recorded.run_id)
    add_template(migrated_db, run_id, "bad", "html", "<p>\n{% if %}\n</p>", project=False)
    proc = cli(tmp_path, migrated_db, "report", run_id, "--template", "bad", "--html", "x.html")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: report template 'bad' line 2: ")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.html").exists()


async def test_unknown_run_template_or_bad_id_exit_2(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """No such run, no such template, not a UUID: each one line, exit 2."""
    missing = str(uuid.uuid4())
    cases = [
        (["report", missing], f"error: no run {missing}"),
        (["report", str(recorded.run_id), "--template", "nope"], "error: no report template"),
        (["report", "not-a-run"], "error: 'not-a-run' is not a run id"),
    ]
    for args, start in cases:
        proc = cli(tmp_path, migrated_db, *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(start) and len(proc.stderr.strip().splitlines()) == 1


async def test_a_non_member_cannot_report_the_run(
    migrated_db: str, recorded: RunResult, tmp_path: Path
) -> None:
    """As a signed-in user outside the organisation, RLS hides the run: no report."""
    uid = uuid.uuid4()
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, email, aud, role) "
            "values (%s, 'eve@example.test', 'authenticated', 'authenticated')",
            (uid,),
        )
    proc = cli(
        tmp_path,
        migrated_db,
        "report",
        str(recorded.run_id),
        RUNNER_DATABASE_ROLE="authenticated",
        RUNNER_USER_ID=str(uid),
    )
    assert proc.returncode == 2
    assert "not visible to this user" in proc.stderr and TOKEN not in proc.stdout


@pytest.fixture
def target() -> Iterator[str]:
    """The same API on a real local port, for the run-suite subprocess."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def _send(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._send({"access_token": TOKEN, "user_id": 7} if self.path == "/login" else {})

        def do_GET(self) -> None:
            self._send({"total": 25, "seen": self.headers.get("Authorization", "")})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_run_suite_writes_html_and_markdown(tmp_path: Path, target: str) -> None:
    """run-suite --html/--markdown report the in-memory run, graph included, no token."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace("http://shop.test", target))
    proc = cli(
        tmp_path,
        None,
        "run-suite",
        str(suite),
        "--no-store",
        "--env",
        "dev",
        "--html",
        "out.html",
        "--markdown",
        "out.md",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    html = (tmp_path / "out.html").read_text()
    parsed = parse(html)
    assert parsed.tests == {
        "login": "passed",
        "cart": "failed",
        "checkout": "skipped",
        "flaky": "passed",
    }
    assert parsed.nodes["cart"] == ("failed", STATUS_COLOURS["failed"])
    assert 'data-from="cart" data-to="checkout"' in html
    md = (tmp_path / "out.md").read_text()
    assert md.startswith("## ❌ shop-report: failed")
    for text in (html, md):
        assert TOKEN not in text and PASSWORD not in text


def test_run_suite_unwritable_report_path_is_one_line(tmp_path: Path, target: str) -> None:
    """An --html path that cannot be written (its parent is a file): one error line, exit 2."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace("http://shop.test", target))
    (tmp_path / "missing").write_text("a file, not a folder")
    proc = cli(
        tmp_path,
        None,
        "run-suite",
        str(suite),
        "--no-store",
        "--env",
        "dev",
        "--html",
        str(tmp_path / "missing" / "out.html"),
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot write ") and "Traceback" not in proc.stderr


async def test_flaky_tests_found_by_the_analytics_are_reported(
    migrated_db: str, tmp_path: Path
) -> None:
    """Passing only after a retry in three runs makes the test flaky; the report lists it."""
    for _ in range(3):
        last = await record(migrated_db, tmp_path)
    proc = cli(tmp_path, migrated_db, "report", str(last.run_id), "--html", "r.html")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "r.html").read_text()
    flaky = html[html.index('id="flaky"') : html.index('id="tests"')]
    assert "<td>flaky</td>" in flaky and "recovered_rate" in flaky and "100.0 %" in flaky
    md = cli(tmp_path, migrated_db, "report", str(last.run_id)).stdout
    assert "### Flaky tests" in md and "| flaky | 0.0 % |" in md


def test_run_suite_report_of_a_stored_run_has_its_analytics(
    migrated_db: str, tmp_path: Path, target: str
) -> None:
    """A stored run's --html and --markdown carry the analytics read when it finished."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace("http://shop.test", target))
    proc = cli(
        tmp_path, migrated_db, "run-suite", str(suite), "--env", "dev",
        "--html", "out.html", "--markdown", "out.md",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    html = (tmp_path / "out.html").read_text()
    assert "No analytics for this run" not in html
    assert "None: no test is slower than its baseline" in html
    md = (tmp_path / "out.md").read_text()
    assert "Full report: `python -m runner report " in md
    assert TOKEN not in html + md
