"""Canary scan (issue 15): a CLI run leaks no planted secret, in any encoding, anywhere.

Canaries are planted as an environment secret (with a space, a quote, a slash, a
plus and non-ASCII), a Basic credential, a captured token used in a query, a path,
a JSON body, a bearer header and a cookie, a capture named like a secret, a cookie
set by the target, a token-like field no capture names, and literal credentials
written in the suite file. ``python -m runner run-suite`` runs in a subprocess
with recording on, ``--junit``/``--json``/``--html``/``--markdown``, logs at DEBUG,
and a Realtime subscriber on ``run:<id>`` (and on every table's changes) through a
live ``serve``. Then ``pg_dump`` of the database, every output file, stdout,
stderr and every received frame are searched for every form of every canary.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest
from aiohttp import web
from realtime import RealtimePostgresChangesListenEvent as Ev
from realtime import RealtimeSubscribeStates

from runner.db.embedded import _bin_dir
from runner.secrets.forms import forms_of
from support_realtime import Inbox, make_user, realtime_client, sql, subscribe, user_token
from support_serve import serving

pytestmark = pytest.mark.db

SECRET = 'cnrySecret pw"q/x+\u00fc9'  # space, quote, slash, plus, non-ASCII
TOKEN = 'cnryTok 9/x+Q"z4'  # the access token: query, path, body, bearer, cookie
REFRESH = "cnryRefreshL5m8"  # capture named refresh_token, no `secret:`
COOKIE = "cnryCookieW8d2"  # Set-Cookie of the producer (httpcore DEBUG logs it)
API_TOKEN = "cnryApiTokZ3q7"  # a failing check reads it; no capture ever names it
LITERAL_KEY = "cnryLiteralK3y9"  # written literally in the suite file (a header)
LITERAL_QUERY = "cnryLiteralQ5v1"  # written literally in a URL that cannot connect
BASIC = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
CANARIES = (SECRET, TOKEN, REFRESH, COOKIE, API_TOKEN, LITERAL_KEY, LITERAL_QUERY)
PRIVATE: Any = {"config": {"broadcast": {"ack": False, "self": False}, "private": True}}

SUITE = """\
name: canary-scan
base_url: {base}
default_env: test
environments:
  test:
    secrets:
      password: CANARY_PASSWORD
      basic: CANARY_BASIC
tests:
  - id: peek
    request: {{url: /peek}}
    checks:
      json: [{{path: $.access_token, value: nope}}]
  - id: login
    request:
      method: POST
      url: /login
      json: {{user: alice, password: "{{{{ secrets.password }}}}"}}
    captures:
      token: {{path: $.access_token, as_token: main}}
      refresh_token: $.refresh_token
      session_cookie: {{from: cookie, name: sid}}
    checks: {{status: 200}}
  - id: use_query
    request:
      url: /echo/q
      query: {{t: "{{{{ shared_auth_tokens.main }}}}", pw: "{{{{ secrets.password }}}}"}}
    checks: {{status: 200, json: [{{path: $.ok, value: true}}]}}
  - id: use_path
    request: {{url: "/echo/p/{{{{ shared_auth_tokens.main }}}}"}}
    checks: {{status: 200, json: [{{path: $.ok, value: true}}]}}
  - id: use_body
    request:
      method: POST
      url: /echo/b
      json:
        t: "{{{{ shared_auth_tokens.main }}}}"
        r: "{{{{ captured_data.login.refresh_token }}}}"
    checks: {{status: 200, json: [{{path: $.ok, value: true}}]}}
  - id: use_headers
    request:
      url: /echo/h
      headers:
        Authorization: "Bearer {{{{ shared_auth_tokens.main }}}}"
        Cookie: >-
          sid={{{{ shared_auth_tokens.main }}}}; s2={{{{ captured_data.login.session_cookie }}}}
    checks: {{status: 200, json: [{{path: $.ok, value: true}}]}}
  - id: use_basic
    request:
      url: /echo/basic
      headers: {{Authorization: "{{{{ secrets.basic }}}}"}}
    checks: {{status: 200, json: [{{path: $.ok, value: true}}]}}
  - id: api_check
    depends_on: [login]
    request: {{url: /echo/a}}
    checks: {{json: [{{path: $.api_token, value: nope}}]}}
  - id: literal
    request:
      url: /echo/l
      headers: {{X-Api-Key: {literal_key}}}
    checks: {{status: 200, json: [{{path: $.ok, value: true}}]}}
  - id: broken
    request: {{url: "http://127.0.0.1:{closed}/down?api_key={literal_query}&page=2"}}
"""


def _needles(canary: str) -> set[str]:
    """Every form the redactor knows, and encodings computed here independently."""
    data = canary.encode()
    independent = {
        canary,
        quote(canary),
        quote(canary, safe=""),
        quote_plus(canary),
        json.dumps(canary)[1:-1],
        json.dumps(canary, ensure_ascii=False)[1:-1],
        html.escape(canary),
        html.escape(json.dumps(canary)[1:-1]),
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
        canary.encode("unicode_escape").decode(),
    }
    if canary == SECRET:
        independent.add(BASIC.split(" ", 1)[1])
    return forms_of(canary) | independent


NEEDLES = {canary: _needles(canary) for canary in CANARIES}


def _leaks(where: str, text: str) -> list[str]:
    return [
        f"{where}: {canary!r} as {form!r}"
        for canary, forms in NEEDLES.items()
        for form in sorted(forms)
        if form in text
    ]


async def _target(gate: asyncio.Event) -> web.Application:
    """Issues the token, sets a cookie, and echoes what it got (with ``ok`` if it was right)."""

    async def peek(request: web.Request) -> web.Response:
        await asyncio.wait_for(gate.wait(), 60)  # until the subscriber has joined
        return web.json_response({"access_token": TOKEN})

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("password") != SECRET:
            return web.json_response({"error": "bad password"}, status=401)
        response = web.json_response(
            {"access_token": TOKEN, "refresh_token": REFRESH, "user_id": 7}
        )
        response.headers["Set-Cookie"] = f"sid={COOKIE}; Path=/"
        return response

    async def echo(request: web.Request) -> web.Response:
        text = await request.text()
        kind = request.match_info["kind"]
        ok = {
            "q": request.query.get("t") == TOKEN and request.query.get("pw") == SECRET,
            "p": unquote(request.raw_path).endswith(TOKEN),
            "b": text and json.loads(text) == {"t": TOKEN, "r": REFRESH},
            "h": request.headers.get("Authorization") == f"Bearer {TOKEN}"
            and request.headers.get("Cookie") == f"sid={TOKEN}; s2={COOKIE}",
            "basic": request.headers.get("Authorization") == BASIC,
            "l": request.headers.get("X-Api-Key") == LITERAL_KEY,
        }.get(kind.split("/", 1)[0], True)
        return web.json_response(
            {
                "ok": bool(ok),
                "raw_path": request.raw_path,
                "path": request.path,
                "headers": dict(request.headers),
                "body": text,
                "api_token": API_TOKEN,
            }
        )

    app = web.Application()
    app.router.add_get("/peek", peek)
    app.router.add_post("/login", login)
    app.router.add_route("*", "/echo/{kind:.*}", echo)
    return app


@asynccontextmanager
async def _serving_target(gate: asyncio.Event) -> AsyncIterator[str]:
    runner = web.AppRunner(await _target(gate), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_dump(db_url: str) -> str:
    done = subprocess.run(
        [str(_bin_dir() / "pg_dump"), "--data-only", "--no-owner", db_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("transport", ["httpcore", "aiohttp"])
async def test_no_canary_in_any_form_reaches_any_sink(
    migrated_db: str, tmp_path: Path, transport: str
) -> None:
    """pg_dump, reports, stdout/stderr (DEBUG logs) and Realtime frames hold no canary form."""
    gate = asyncio.Event()
    out = tmp_path / "out"
    async with _serving_target(gate) as base:
        suite = tmp_path / "canary.yaml"
        suite.write_text(
            SUITE.format(
                base=base,
                closed=_closed_port(),
                literal_key=LITERAL_KEY,
                literal_query=LITERAL_QUERY,
            )
        )
        env = {
            **os.environ,
            "RUNNER_DATABASE_URL": migrated_db,
            "RUNNER_DATA_DIR": str(tmp_path / "data"),
            "RUNNER_LOG_LEVEL": "DEBUG",
            "RUNNER_HTTP_CLIENT": transport,
            "RUNNER_CONCURRENCY": "1",
            "CANARY_PASSWORD": SECRET,
            "CANARY_BASIC": BASIC,
            "PYTHONIOENCODING": "utf-8",
        }
        with serving(migrated_db) as serve:
            changes, events = Inbox(), Inbox()
            async with realtime_client(serve, serve.service_role_key) as admin:
                everything = admin.channel("all").on_postgres_changes(
                    Ev.All, changes, schema="public", table="*"
                )
                assert (await subscribe(everything))[0] == RealtimeSubscribeStates.SUBSCRIBED
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "runner",
                    "run-suite",
                    str(suite),
                    "--junit",
                    str(out / "junit.xml"),
                    "--json",
                    str(out / "run.json"),
                    "--html",
                    str(out / "report.html"),
                    "--markdown",
                    str(out / "summary.md"),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                    cwd=tmp_path,
                )
                frames: list[Any] = []
                try:
                    run = await _run_row(changes, frames)
                    bob = make_user(serve.db_url, "bob")
                    sql(
                        serve.db_url,
                        "insert into public.organization_members "
                        "(organization_id, user_id, role) values (%s, %s, 'member')",
                        (run["organization_id"], bob.id),
                    )
                    async with realtime_client(serve, user_token(serve, bob)) as watcher:
                        channel = watcher.channel(f"run:{run['id']}", PRIVATE)
                        state, err = await subscribe(channel.on_broadcast("*", events))
                        assert state == RealtimeSubscribeStates.SUBSCRIBED, err
                        gate.set()
                        while not frames or frames[-1].get("event") != "run_completed":
                            frames.append(await events.get(wait_s=120))
                    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
                finally:
                    gate.set()
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
                while not changes.queue.empty():
                    frames.append(changes.queue.get_nowait())
    out_text, err_text = stdout.decode(), stderr.decode()
    assert proc.returncode == 1, out_text + err_text  # failing checks, as planted

    # the canaries were really used: every use of a token or secret reached the target
    report = json.loads((out / "run.json").read_text())
    statuses = {r["key"]: r["status"] for r in report["results"]}
    assert statuses == {
        "peek": "failed",
        "login": "passed",
        "use_query": "passed",
        "use_path": "passed",
        "use_body": "passed",
        "use_headers": "passed",
        "use_basic": "passed",
        "api_check": "failed",
        "literal": "passed",
        "broken": "error",
    }, out_text + err_text
    assert "INFO httpx: HTTP Request" in err_text  # the client's own logs were on
    if transport == "httpcore":  # which logs the producer's Set-Cookie at DEBUG, hidden
        assert "(b'Set-Cookie', b'[REDACTED]')" in err_text
    assert "canary.yaml:" in err_text and "{{ secrets.<name> }}" in err_text  # the lint
    assert any(f.get("event") == "test_completed" for f in frames)

    leaks = _leaks("stdout", out_text) + _leaks("stderr", err_text)
    for path in sorted(out.iterdir()):
        leaks += _leaks(path.name, path.read_text())
    for index, frame in enumerate(frames):
        leaks += _leaks(f"frame {index}", json.dumps(frame))
        leaks += _leaks(f"frame {index}", json.dumps(frame, ensure_ascii=False))
    dump = _pg_dump(migrated_db)
    assert "test_results" in dump and "realtime" in dump
    leaks += _leaks("pg_dump", dump)
    assert leaks == [], "\n".join(leaks)


async def _run_row(changes: Inbox, frames: list[Any]) -> dict[str, Any]:
    """The test_runs row of the run, from the change feed (other changes are kept)."""
    while True:
        change = await changes.get(wait_s=120)
        frames.append(change)
        data = change.get("data", {})
        if data.get("table") == "test_runs" and data.get("type") == "INSERT":
            return dict(data["record"])
