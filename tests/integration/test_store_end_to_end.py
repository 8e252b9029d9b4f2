"""End to end through ``open_store``: a suite that needs a stored secret, a personal
credential and a quarantined test works with RUNNER_STORE=supabase through ``serve``
exactly as with a database URL; a capability a store lacks is one line and exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from runner.api import run_suite
from runner.models import RunStatus, Status
from runner.reporting.analytics import analysis_for_store
from runner.secrets.crypto import generate_key
from runner.store.factory import open_store
from runner.suite.load import load_suite_text
from support_rest import PASSWORD
from support_serve import serving
from support_stores import KINDS, StoreWorld, make_world

pytestmark = pytest.mark.db

SUITE = """
name: shopper
base_url: http://api.test
default_env: staging
environments:
  staging:
    secrets:
      password: {env: SHOPPER_PASSWORD}
tests:
  - id: login
    request:
      method: POST
      url: /login
      json: {password: "{{ secrets.password }}"}
    checks: {status: 200}
  - id: items
    request:
      url: /items
      headers: {X-Api-Key: "{{ credentials.shop.key }}"}
    checks: {status: 200}
  - id: cart
    request: {url: /cart}
    checks: {status: 200}
"""


def _api(request: httpx.Request) -> httpx.Response:
    """Login wants the stored password, /items the user's key; /cart is always broken."""
    if request.url.path == "/login":
        ok = json.loads(request.content) == {"password": "pw-stored"}
        return httpx.Response(200 if ok else 401, json={})
    if request.url.path == "/items":
        return httpx.Response(200 if request.headers.get("x-api-key") == "k-42" else 403)
    return httpx.Response(418, json={"error": "teapot"})


@pytest.fixture(params=KINDS)
async def world(
    request: pytest.FixtureRequest, migrated_db: str, tmp_path: Path
) -> AsyncIterator[StoreWorld]:
    """An admin user of ``acme``; the store kind is ``request.param``."""
    with serving(migrated_db) as handle:
        yield await make_world(request.param, handle, tmp_path / "spill")


async def test_secret_credential_and_quarantine_work_on_either_store(
    world: StoreWorld, tmp_path: Path
) -> None:
    """The second run reads the secret and the credential from the store and passes
    although its quarantined test fails; the analysis names that failure."""
    settings = world.user_settings(tmp_path / "data")
    suite = load_suite_text(SUITE, file="shopper.yaml")

    async def run(environ: dict[str, str]) -> tuple[object, object]:
        async with (
            open_store(settings) as store,
            httpx.AsyncClient(transport=httpx.MockTransport(_api)) as client,
        ):
            assert store.name == world.kind
            result = await run_suite(
                suite, store=store, client=client, services=(), environ=environ, settings=settings
            )
            return result, await analysis_for_store(store, result.run_id)

    async with open_store(settings) as store:
        await store.save_credential("shop", "api_key", {"key": "k-42"})
    first, _ = await run({"SHOPPER_PASSWORD": "pw-stored"})  # stores suite and environment
    assert [r.status for r in first.results] == [Status.PASSED, Status.PASSED, Status.FAILED]  # type: ignore[attr-defined]

    async with open_store(settings) as store:
        await store.set_environment_secret("shopper", "staging", "password", "pw-stored")
        assert await store.add_quarantine("shopper", "cart", "BUG-7")

    second, analysis = await run({})  # nothing from the environment: all from the store
    statuses = {r.test_id: r.status for r in second.results}  # type: ignore[attr-defined]
    assert statuses == {"login": Status.PASSED, "items": Status.PASSED, "cart": Status.FAILED}
    assert second.status == RunStatus.PASSED  # type: ignore[attr-defined]
    assert [q.test_key for q in analysis.quarantined_failures] == ["cart"]  # type: ignore[attr-defined]
    with psycopg.connect(world.serve.db_url) as conn:
        row = conn.execute(
            "select r.status, r.metadata -> 'quarantined_tests', "
            "(select string_agg(request_snapshot::text, ' ') from test_results t "
            " where t.run_id = r.id) from test_runs r where r.id = %s",
            (second.run_id,),  # type: ignore[attr-defined]
        ).fetchone()
    assert row is not None and row[:2] == ("passed", ["cart"])
    assert "pw-stored" not in row[2] and "k-42" not in row[2]


def _cli(
    tmp_path: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    base.update(env, RUNNER_DATA_DIR=str(tmp_path / "data"), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=tmp_path,
        env=base,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_refused_capability_is_one_line_and_exit_2(migrated_db: str, tmp_path: Path) -> None:
    """`secrets rotate` with RUNNER_STORE=supabase names the store and the capability."""
    with serving(migrated_db) as handle:
        env = {
            "RUNNER_STORE": "supabase",
            "SUPABASE_URL": handle.url,
            "SUPABASE_KEY": handle.service_role_key,
            "RUNNER_SECRET_KEY": generate_key(),
        }
        proc = _cli(tmp_path, env, "secrets", "rotate", "--old-key", generate_key())
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: the supabase store cannot rotate the secret key: "
        "use a database URL (RUNNER_DATABASE_URL)"
    ]


def test_quarantine_commands_work_through_the_supabase_store(
    migrated_db: str, tmp_path: Path
) -> None:
    """`quarantine list` goes through RUNNER_STORE=supabase (RPC), like any other store."""
    with serving(migrated_db) as handle:
        env = {
            "RUNNER_STORE": "supabase",
            "SUPABASE_URL": handle.url,
            "SUPABASE_KEY": handle.service_role_key,
        }
        listed = _cli(tmp_path, env, "quarantine", "list")
        unknown = _cli(tmp_path, env, "quarantine", "add", "nope", "t", "--reason", "x")
    assert (listed.returncode, listed.stdout) == (0, "no quarantined tests\n"), listed.stderr
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        "error: no stored test 't' in suite 'nope' (run the suite once to store it)"
    ]


class _Shop(BaseHTTPRequestHandler):
    """The API of ``SUITE`` over real HTTP, for the CLI."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(200 if json.loads(body) == {"password": "pw-stored"} else 401)

    def do_GET(self) -> None:
        if self.path == "/items":
            self._answer(200 if self.headers.get("X-Api-Key") == "k-42" else 403)
        else:
            self._answer(418)


async def test_the_cli_records_through_serve_with_stored_secret_credential_and_quarantine(
    migrated_db: str, tmp_path: Path
) -> None:
    """run-suite, secrets set, quarantine add and run-suite NAME, all with RUNNER_STORE=supabase."""
    api = ThreadingHTTPServer(("127.0.0.1", 0), _Shop)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    host, port = api.server_address[:2]
    suite = tmp_path / "shopper.yaml"
    suite.write_text(SUITE.replace("http://api.test", f"http://{host!s}:{port}"), "utf-8")
    try:
        with serving(migrated_db) as handle:
            world = await make_world("supabase", handle, tmp_path / "spill")
            async with open_store(world.user_settings(tmp_path / "data")) as store:
                await store.save_credential("shop", "api_key", {"key": "k-42"})
            env = {
                "RUNNER_STORE": "supabase",
                "SUPABASE_URL": handle.url,
                "SUPABASE_KEY": handle.anon_key,
                "RUNNER_SUPABASE_EMAIL": world.email,
                "RUNNER_SUPABASE_PASSWORD": PASSWORD,
                "RUNNER_ORGANIZATION": "acme",
                "RUNNER_SECRET_KEY": world.key,
            }
            first = _cli(
                tmp_path, {**env, "SHOPPER_PASSWORD": "pw-stored"}, "run-suite", "shopper.yaml"
            )
            assert first.returncode == 1, first.stdout + first.stderr
            stored = _cli(
                tmp_path,
                env,
                "secrets", "set", "password", "--project", "shopper", "--env", "staging",
                stdin="pw-stored\n",
            )  # fmt: skip
            assert stored.returncode == 0, stored.stderr
            added = _cli(tmp_path, env, "quarantine", "add", "shopper", "cart", "--reason", "BUG-7")
            assert added.stdout == "quarantined shopper/cart: BUG-7\n", added.stderr
            second = _cli(tmp_path, env, "run-suite", "shopper.yaml")
            by_name = _cli(tmp_path, env, "run-suite", "shopper")
    finally:
        api.shutdown()
        api.server_close()
    for proc in (second, by_name):
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = proc.stdout.splitlines()
        assert out[-2:] == ["quarantined (not failing the run):", "  FAILED cart — BUG-7"]
