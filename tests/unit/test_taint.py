"""Issue 15 items 2-3: secrets hidden from their first sight, in every sink, by name too."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from runner.api import run_suite
from runner.errors import ConfigError
from runner.execute.logsafe import redacting_logs
from runner.models import RunResult, Suite
from runner.secrets.names import (
    capture_is_secret,
    redact_header_lines,
    redact_query_values,
    secret_name,
)
from runner.secrets.redact import REDACTED
from runner.settings import Settings
from runner.store.base import NullStore, RunInfo
from runner.suite.credentials_lint import redacted_suite, resolve_secret_captures
from runner.suite.load import load_suite_text

TOKEN = "tokQ7x9Zk-first-sight"
REFRESH = "refR5t2Ld-by-name"
API = "apiM3p8Wv-in-a-check"


class InfoStore(NullStore):
    """Keeps the RunInfo the run starts with (the suite as stored)."""

    info: RunInfo | None = None

    async def start_run(self, info: RunInfo) -> str | None:
        self.info = info
        return None


def _target(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/down":
        raise httpx.ConnectError(f"cannot connect to {request.url}")
    if request.url.path == "/x" and request.headers["authorization"] != "Bearer litBearer12":
        return httpx.Response(401)
    body = {"access_token": TOKEN, "refresh_token": REFRESH, "api_token": API, "plain": "p-1"}
    return httpx.Response(200, json=body, headers={"Set-Cookie": "sid=cookieW8d2x; Path=/"})


async def _run(text: str, store: NullStore | None = None, **settings: Any) -> RunResult:
    loaded = load_suite_text(text, file="taint.yaml")
    async with httpx.AsyncClient(transport=httpx.MockTransport(_target)) as client:
        return await run_suite(
            loaded,
            client=client,
            store=store,
            services=(),
            seed=1,
            environ={},
            settings=Settings(_env_file=None, **settings),  # type: ignore[call-arg]
        )


SUITE = """
name: taint
base_url: http://t.test
tests:
  - id: login
    request: {url: /login}
    checks:
      json:
        - {path: $.access_token, value: nope}
        - {path: $.api_token, value: nope}
        - {path: $.plain, value: nope}
    captures:
      token: {path: $.access_token, as_token: main}
      refresh_token: $.refresh_token
      plain: {path: $.plain, secret: false}
      opted_out_session: {path: $.plain, secret: false}
"""


async def test_a_token_is_hidden_in_the_checks_that_read_it_before_its_capture() -> None:
    """Checks placed before the capture, and a check on $.api_token, say [REDACTED]."""
    result = await _run(SUITE)
    login = result.results[0]
    shown = json.dumps(login.model_dump(mode="json"))
    assert TOKEN not in shown and REFRESH not in shown and API not in shown
    by_name = {c.name: c for c in login.checks}
    for name in ("$.access_token", "$.api_token"):
        check = by_name[name]
        assert (check.expected, check.actual) == (REDACTED, REDACTED)
        assert check.message == f"{name}: expected {REDACTED}, got {REDACTED}"
    assert by_name["$.plain"].actual == "p-1"  # nothing secret: shown as it is
    assert "$.access_token: expected [REDACTED], got [REDACTED]" in login.message


async def test_captures_named_like_secrets_are_secret_unless_opted_out() -> None:
    """refresh_token (no `secret:`) is hidden; `secret: false` keeps a value in clear."""
    login = (await _run(SUITE)).results[0]
    assert login.captured["refresh_token"] == REDACTED
    assert login.captured["token"] == REDACTED
    assert login.captured["plain"] == "p-1"
    assert login.captured["opted_out_session"] == "p-1"


def test_capture_is_secret_by_name_flag_and_token() -> None:
    """The name decides only when `secret:` is unset; a token is always secret."""
    suite = load_suite_text(SUITE, file="s.yaml").suite
    caps = suite.tests[0].captures
    assert capture_is_secret("refresh_token", caps["refresh_token"])
    assert not capture_is_secret("opted_out_session", caps["opted_out_session"])
    assert capture_is_secret("token", caps["token"])
    assert secret_name("X-Api-Key") and secret_name("sessionId") and not secret_name("user_id")
    narrow = resolve_secret_captures(suite, "nothing-matches-this")
    assert narrow.tests[0].captures["refresh_token"].secret is False
    assert resolve_secret_captures(suite) is suite


async def test_transport_errors_hide_secret_query_values() -> None:
    """A connection error naming ?api_key=... is stored with the value redacted."""
    text = """
name: down
base_url: http://t.test
tests:
  - id: down
    request: {url: "/down?api_key={{ env.k }}&page=2"}
"""
    text = text.replace("{{ env.k }}", "k3yLiteral9")
    result = await _run(text)
    down = result.results[0]
    assert down.status.value == "error"
    assert "k3yLiteral9" not in down.message and "page=2" in down.message
    assert "api_key=[REDACTED]" in down.message


def test_redact_query_values_and_header_lines() -> None:
    """Secret-ish query values and credential headers are hidden by name, in any shape."""
    assert (
        redact_query_values("GET http://h/x?api_key=abc&page=2&access_token=t0k")
        == "GET http://h/x?api_key=[REDACTED]&page=2&access_token=[REDACTED]"
    )
    assert redact_query_values("author=me&page=2") == "author=me&page=2"
    httpcore = "return_value=(b'HTTP/1.1', 200, b'OK', [(b'Set-Cookie', b'sid=abc; Path=/')])"
    assert redact_header_lines(httpcore) == (
        "return_value=(b'HTTP/1.1', 200, b'OK', [(b'Set-Cookie', b'[REDACTED]')])"
    )
    assert redact_header_lines("{'authorization': 'Bearer x'}") == "{'authorization': '[REDACTED]'}"
    assert redact_header_lines("Authorization: Basic eHk=\nHost: h") == (
        "Authorization: [REDACTED]\nHost: h"
    )
    assert redact_header_lines("(b'Content-Type', b'text/plain')") == (
        "(b'Content-Type', b'text/plain')"
    )


def test_debug_records_of_http_clients_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """httpcore's child loggers at DEBUG: credential headers and known secrets hidden."""
    caplog.set_level(logging.DEBUG)
    with redacting_logs(["s3cretValue"]):
        logging.getLogger("httpcore.http11").debug(
            "receive_response_headers.complete return_value=%r",
            (b"HTTP/1.1", 200, b"OK", [(b"Set-Cookie", b"sid=unknownYet; Path=/")]),
        )
        logging.getLogger("httpx").info("GET http://h/?q=s3cretValue&token=t0k")
        try:
            raise ValueError("s3cretValue in a traceback")
        except ValueError:
            logging.getLogger("aiohttp.client").exception("failed")
    text = caplog.text
    assert "unknownYet" not in text and "s3cretValue" not in text and "t0k" not in text
    assert "(b'Set-Cookie', b'[REDACTED]')" in text


LITERAL = """
name: literal
base_url: http://t.test?api_key=litQuery77
tests:
  - id: call
    request:
      method: POST
      url: /x
      headers:
        Authorization: Bearer litBearer12
        X-Other: "{{ env.k }}"
        Cookie: "a=litCookie34; b={{ env.k }}"
      json: {user: me, password: litPassword56, nested: {api_key: litNested78}}
    checks:
      json: [{path: $.echo, value: litBearer12}]
  - id: clean
    request:
      url: /y
      headers: {Authorization: "Bearer {{ env.k }}"}
default_env: e
environments:
  e: {variables: {k: kval}}
"""


def test_literal_credentials_are_flagged_with_file_line_and_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each literal credential is warned about at its line; the warning holds no value."""
    caplog.set_level(logging.WARNING, logger="runner.suite")
    loaded = load_suite_text(LITERAL, file="lit.yaml")
    found = {c.value: c for c in loaded.credentials}
    assert set(found) == {
        "litQuery77",
        "litBearer12",
        "litCookie34",
        "litPassword56",
        "litNested78",
    }
    assert found["litBearer12"].line == 10 and found["litPassword56"].line == 13
    warnings = [r.getMessage() for r in caplog.records]
    assert any(w.startswith("lit.yaml:10: ") and "{{ secrets.<name> }}" in w for w in warnings)
    assert not any("lit" + "Bearer12" in w for w in warnings)


async def test_the_store_gets_the_suite_redacted_and_the_run_uses_the_original() -> None:
    """RunInfo.suite has no literal credential; the request still sent the real one."""
    store = InfoStore()
    result = await _run(LITERAL, store=store)
    assert store.info is not None
    stored = store.info.suite.model_dump_json(by_alias=True)
    for value in ("litQuery77", "litBearer12", "litCookie34", "litPassword56", "litNested78"):
        assert value not in stored
    assert "Bearer [REDACTED]" in stored
    assert store.info.suite.source_path == "taint.yaml"
    assert result.results[0].status_code == 200  # sent with the real values
    assert "litPassword56" not in json.dumps(result.results[0].model_dump(mode="json"))


def test_redacted_suite_is_the_suite_without_credentials() -> None:
    """No literal credential: the very same object (nothing rebuilt)."""
    loaded = load_suite_text(SUITE, file="s.yaml")
    assert loaded.credentials == ()
    assert redacted_suite(loaded.suite, loaded.credentials) is loaded.suite
    assert isinstance(loaded.suite, Suite)


def test_secret_name_pattern_must_compile() -> None:
    """RUNNER_SECRET_NAME_PATTERN is checked when settings are read."""
    with pytest.raises(ValueError, match="not a valid regex"):
        Settings(_env_file=None, secret_name_pattern="(")  # type: ignore[call-arg]
    assert Settings(_env_file=None, log_level="debug").log_level == "DEBUG"  # type: ignore[call-arg]
    assert ConfigError  # the CLI turns a bad setting into a ConfigError (exit 2)
