"""Canary: a planted secret and token appear nowhere in the database, logs or reports."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from runner.api import run_suite
from runner.db.connect import Target
from runner.reporting.files import write_json, write_junit
from runner.secrets.crypto import SecretBox, SecretKeyError, generate_key, sealed_in
from runner.settings import Settings
from runner.store.postgres import PostgresStore
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

CANARY_SECRET = "canarySecretQ7x9Zk"
CANARY_TOKEN = "canaryTokenM3p8Wv"
CANARY_SESSION = "canarySessionR5t2Ld"
CANARIES = (CANARY_SECRET, CANARY_TOKEN, CANARY_SESSION)

SUITE = """
name: canary
base_url: http://canary.test
default_env: test
environments:
  test:
    secrets:
      password: {env: CANARY_PASSWORD}
tests:
  - id: login
    request:
      method: POST
      url: /login
      json: {email: a@example.test, password: "{{ secrets.password }}"}
    captures:
      token: {from: json, path: $.access_token, as_token: main}
      session: {from: json, path: $.session, secret: true, as_variable: sess}
      user_id: $.user_id
    checks: {status: 200}
  - id: me
    request:
      url: "/me?t={{ shared_auth_tokens.main }}&s={{ shared_variables.sess }}"
      headers:
        Authorization: "Bearer {{ shared_auth_tokens.main }}"
        X-Session: "{{ captured_data.login.session }}"
        X-Plain: "{{ secrets.password }}"
    checks:
      status: 200
      json:
        - {path: $.echo, value: "not what the server says"}
"""


def _target(request: httpx.Request) -> httpx.Response:
    """Issues the canary token for the canary password and echoes it back on /me."""
    if request.url.path == "/login":
        body = json.loads(request.content)
        if body["password"] != CANARY_SECRET:
            return httpx.Response(401, json={"error": "bad password"})
        return httpx.Response(
            200,
            json={"access_token": CANARY_TOKEN, "session": CANARY_SESSION, "user_id": 7},
            headers={"Set-Cookie": f"sid={CANARY_SESSION}; Path=/"},
        )
    if request.headers.get("authorization") != f"Bearer {CANARY_TOKEN}":
        return httpx.Response(401, json={"error": "no token"})
    echo = f"{CANARY_TOKEN}/{request.headers['x-session']}/{request.headers['x-plain']}"
    return httpx.Response(200, json={"echo": echo, "user_id": 7})


def _scan_database(url: str) -> list[str]:
    """Every (table, canary) pair where a canary occurs in a row's text form."""
    hits: list[str] = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select schemaname, tablename from pg_tables "
            "where schemaname = 'public' or (schemaname, tablename) = ('realtime', 'messages') "
            "order by 1, 2"
        ).fetchall()
        assert len(tables) > 20
        for schema, table in tables:
            scan = sql.SQL("select t::text from {}.{} as t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            for (text,) in conn.execute(scan):
                hits.extend(f"{schema}.{table}: {c}" for c in CANARIES if c in text)
    return hits


@pytest.mark.parametrize("keyed", [True, False], ids=["with-key", "without-key"])
async def test_canary_secrets_never_stored_logged_or_reported(
    migrated_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, keyed: bool
) -> None:
    """No canary value is found in any table, log line or report, with or without a key."""
    caplog.set_level(logging.DEBUG)
    box = SecretBox.from_base64(generate_key()) if keyed else None
    loaded = load_suite_text(SUITE, file="canary.yaml")
    store = PostgresStore(
        Target(migrated_db, embedded=True), spill_dir=tmp_path / "spill", cipher=box
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(_target))
    async with store, client:
        result = await run_suite(
            loaded,
            store=store,
            client=client,
            services=(),
            seed=1,
            environ={"CANARY_PASSWORD": CANARY_SECRET},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
        )
    # the suite really used the canaries: login passed, /me answered and failed its check
    statuses = {r.key: r.status.value for r in result.results}
    assert statuses == {"login": "passed", "me": "failed"}, [r.message for r in result.results]
    if box is not None:
        async with PostgresStore(Target(migrated_db, embedded=True), cipher=box) as keeper:
            await keeper.set_environment_secret("canary", "test", "password", CANARY_SECRET)
    write_junit(result, tmp_path / "junit.xml")
    write_json(result, tmp_path / "run.json")

    assert _scan_database(migrated_db) == []
    for report in ("junit.xml", "run.json"):
        text = (tmp_path / report).read_text()
        assert "[REDACTED]" in text
        assert [c for c in CANARIES if c in text] == [], report
    for spilled in (tmp_path / "spill").glob("*"):
        assert [c for c in CANARIES if c in spilled.read_text()] == [], spilled
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert [c for c in CANARIES if c in logged] == []

    with psycopg.connect(migrated_db) as conn:
        tokens, variables, captured = conn.execute(
            "select shared_auth_tokens, shared_variables, captured_data "
            "from test_execution_context where run_id = %s",
            (result.run_id,),
        ).fetchone() or ({}, {}, {})
    assert captured["login"]["user_id"] == 7
    if box is None:
        assert tokens == {"main": "[REDACTED]"}
        assert variables == {"sess": "[REDACTED]"}
        assert captured["login"]["token"] == captured["login"]["session"] == "[REDACTED]"
    else:
        # sealed, and only the key opens them
        assert box.unseal(tokens["main"]) == CANARY_TOKEN
        opened: dict[str, Any] = {}
        for name in ("token", "session"):
            sealed = sealed_in(captured["login"][name])
            assert sealed is not None
            opened[name] = box.unseal(sealed)
        assert opened == {"token": CANARY_TOKEN, "session": CANARY_SESSION}
        sealed_var = sealed_in(variables["sess"])
        assert sealed_var is not None and box.unseal(sealed_var) == CANARY_SESSION


async def test_a_secret_stored_in_the_database_is_used_by_a_run(
    migrated_db: str, tmp_path: Path
) -> None:
    """A stored secret fills in for a missing one; one under another key is a SecretKeyError."""
    box = SecretBox.from_base64(generate_key())
    loaded = load_suite_text(SUITE, file="canary.yaml")
    target = Target(migrated_db, embedded=True)

    async def run(environ: dict[str, str], cipher: SecretBox = box) -> Any:
        store = PostgresStore(target, spill_dir=tmp_path / "spill", cipher=cipher)
        client = httpx.AsyncClient(transport=httpx.MockTransport(_target))
        async with store, client:
            return await run_suite(
                loaded,
                store=store,
                client=client,
                services=(),
                seed=1,
                environ=environ,
                settings=Settings(_env_file=None),  # type: ignore[call-arg]
            )

    first = await run({"CANARY_PASSWORD": CANARY_SECRET})  # stores the environment
    assert first.results[0].status.value == "passed"
    async with PostgresStore(target, cipher=box) as keeper:
        await keeper.set_environment_secret("canary", "test", "password", CANARY_SECRET)
    second = await run({})
    assert second.results[0].status.value == "passed"
    other = SecretBox.from_base64(generate_key())
    with pytest.raises(SecretKeyError, match=f"encrypted with key {box.key_id}"):
        await run({}, other)
