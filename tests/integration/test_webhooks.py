"""Webhook notifications, received by a real HTTP server on a local port."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.api import run_suite
from runner.models import ErrorCategory, RunResult, RunStatus, Status, TestResult
from runner.reporting.webhooks import notify_run, signature
from runner.settings import Settings
from runner.suite.load import load_suite_text
from support import free_port, sample_analysis

SECRET = "whsec-test-0123456789"
T0 = datetime(2025, 6, 7, 8, 9, 10, tzinfo=UTC)


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local webhook receiver: answers with ``statuses`` in turn (then 200)."""

    url: str
    got: queue.Queue[Received] = field(default_factory=queue.Queue)
    statuses: list[int] = field(default_factory=list)

    def next(self) -> Received:
        return self.got.get(timeout=10)

    def all(self, n: int) -> list[Received]:
        out = [self.next() for _ in range(n)]
        assert self.got.empty()
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.statuses.pop(0) if state.statuses else 200
            # recorded before answering: once the sender has its answer, the test sees it
            state.got.put(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0K3N-in-path"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def settings(url: str, **more: Any) -> Settings:
    return Settings(_env_file=None, webhook_url=url, **more)  # type: ignore[call-arg]


def failed_run() -> RunResult:
    return RunResult(
        run_id="7d1f0000-0000-4000-8000-000000000007",
        suite="shop",
        environment="staging",
        status=RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        results=(
            TestResult(test_id="login", key="login", name="login", status=Status.PASSED),
            TestResult(
                test_id="cart",
                key="cart",
                name="cart",
                status=Status.FAILED,
                error_category=ErrorCategory.ASSERTION,
                message="$.total: expected 30 (eq), got 25",
                status_code=200,
            ),
        ),
    )


ANALYSIS = sample_analysis(regression="login", flaky="cart")


async def no_sleep(_: float) -> None:
    return None


async def test_run_failed_payload_and_headers(receiver: Receiver) -> None:
    """A failed run sends run_failed with the run, its counts and each failure."""
    deliveries = await notify_run(failed_run(), settings=settings(receiver.url))
    got = receiver.all(1)[0]
    assert [d.delivered for d in deliveries] == [True]
    assert got.path == "/hooks/T0K3N-in-path"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-runner-event"] == "run_failed"
    assert "x-runner-signature" not in got.headers  # no secret, no signature
    payload = got.json
    assert payload["event"] == "run_failed"
    assert payload["run"]["id"] == "7d1f0000-0000-4000-8000-000000000007"
    assert payload["run"]["status"] == "failed" and payload["run"]["ok"] is False
    assert payload["run"]["counts"] == {
        "passed": 1,
        "failed": 1,
        "error": 0,
        "skipped": 0,
        "total": 2,
    }
    assert payload["failures"] == [
        {
            "test": "cart",
            "status": "failed",
            "category": "assertion",
            "message": "$.total: expected 30 (eq), got 25",
            "status_code": 200,
            "attempts": 0,
        }
    ]


async def test_each_trigger_sends_its_event(receiver: Receiver) -> None:
    """Failure, flaky test and regression each send one payload with their fields."""
    await notify_run(failed_run(), settings=settings(receiver.url), analysis=ANALYSIS)
    by_event = {r.headers["x-runner-event"]: r.json for r in receiver.all(3)}
    assert set(by_event) == {"run_failed", "flaky_test_detected", "performance_degradation"}
    assert all(p["event"] == e for e, p in by_event.items())
    assert by_event["flaky_test_detected"]["flaky_tests"] == [
        {
            "test": "cart",
            "environment": "staging",
            "runs": 10,
            "failure_rate": 0.3,
            "flip_rate": 0.4,
            "recovered_rate": 0.1,
            "reason": "failure_rate, flip_rate",
        }
    ]
    assert by_event["performance_degradation"]["regressions"] == [
        {
            "test": "login",
            "environment": "staging",
            "p95_ms": 130.0,
            "baseline_p95_ms": 100.0,
            "ratio": 1.3,
            "threshold": 0.2,
            "explanation": "p95 130 > 100",
        }
    ]


async def test_only_the_configured_events_are_sent(receiver: Receiver) -> None:
    """RUNNER_WEBHOOK_EVENTS filters; a passing run without analytics sends nothing."""
    s = settings(receiver.url, webhook_events="performance_degradation")
    await notify_run(failed_run(), settings=s, analysis=ANALYSIS)
    assert [r.headers["x-runner-event"] for r in receiver.all(1)] == ["performance_degradation"]
    passing = failed_run().model_copy(
        update={"status": RunStatus.PASSED, "results": failed_run().results[:1]}
    )
    assert await notify_run(passing, settings=settings(receiver.url)) == []
    assert receiver.got.empty()


async def test_hmac_signature_verifies(receiver: Receiver) -> None:
    """With a secret, X-Runner-Signature is HMAC-SHA256 of "<timestamp>.<body>"."""
    await notify_run(failed_run(), settings=settings(receiver.url, webhook_secret=SECRET))
    got = receiver.next()
    timestamp = got.headers["x-runner-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
    assert got.headers["x-runner-signature"] == "sha256=" + expected.hexdigest()
    assert hmac.compare_digest(
        got.headers["x-runner-signature"], signature(SECRET, timestamp, got.body)
    )
    assert SECRET not in got.body.decode()
    tampered = signature(SECRET, timestamp, got.body + b" ")
    assert tampered != got.headers["x-runner-signature"]


async def test_a_5xx_is_retried_with_the_same_delivery_id(receiver: Receiver) -> None:
    """A 503 then a 200: delivered at the second attempt, one delivery id for both."""
    receiver.statuses = [503]
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    (d,) = await notify_run(failed_run(), settings=settings(receiver.url), sleep=sleep)
    first, second = receiver.all(2)
    assert (d.delivered, d.attempts, d.status_code) == (True, 2, 200)
    assert first.headers["x-runner-delivery"] == second.headers["x-runner-delivery"]
    assert delays == [0.5]


async def test_a_4xx_is_not_retried_and_warns(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A receiver refusing the payload (400) is told once; the warning names the status."""
    receiver.statuses = [400]
    with caplog.at_level(logging.WARNING, logger="runner.reporting.webhooks"):
        (d,) = await notify_run(failed_run(), settings=settings(receiver.url), sleep=no_sleep)
    receiver.all(1)
    assert (d.delivered, d.attempts, d.error) == (False, 1, "HTTP 400")
    assert "run_failed not delivered after 1 attempt(s): HTTP 400" in caplog.text


async def test_receiver_down_is_a_warning_without_the_url_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Connection refused: every attempt made, one warning, the URL's path (a token) hidden."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/SECRET-PATH-TOKEN"
    s = settings(url, webhook_retries=2)
    with caplog.at_level(logging.WARNING, logger="runner.reporting.webhooks"):
        (d,) = await notify_run(failed_run(), settings=s, sleep=no_sleep)
    assert (d.delivered, d.attempts, d.status_code) == (False, 3, None)
    (record,) = [r for r in caplog.records if r.name == "runner.reporting.webhooks"]
    message = record.getMessage()
    assert message.startswith(f"webhook http://127.0.0.1:{port}/…: run_failed not delivered")
    assert "ConnectError" in message and "SECRET-PATH-TOKEN" not in caplog.text


async def test_payload_template(receiver: Receiver, tmp_path: Path) -> None:
    """RUNNER_WEBHOOK_TEMPLATE renders the body (sandboxed); JSON output is sent as JSON."""
    template = tmp_path / "slack.j2"
    template.write_text(
        '{"text": {{ (event ~ ": " ~ run.suite ~ " " ~ run.counts.failed ~ " failed") | tojson }},'
        ' "first": {{ failures[0].test | tojson }}}'
    )
    await notify_run(failed_run(), settings=settings(receiver.url, webhook_template=template))
    got = receiver.next()
    assert got.headers["content-type"] == "application/json"
    assert got.json == {"text": "run_failed: shop 1 failed", "first": "cart"}


async def test_broken_payload_template_warns_and_sends_nothing(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A template that does not compile: a warning with its line, no request."""
    template = tmp_path / "bad.j2"
    template.write_text('{"a": 1,\n {% if %}}')
    with caplog.at_level(logging.WARNING, logger="runner.reporting.webhooks"):
        assert (
            await notify_run(
                failed_run(), settings=settings(receiver.url, webhook_template=template)
            )
            == []
        )
    assert f"webhook template {template} line 2:" in caplog.text
    assert receiver.got.empty()


SUITE = """\
name: hooks
base_url: http://api.test
tests:
  - id: a
    request: {url: /a}
    checks: {status: 201}
"""


async def test_run_suite_notifies_after_the_run(receiver: Receiver) -> None:
    """run_suite() sends run_failed once the run is over; the result is unchanged."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    async with client:
        result = await run_suite(
            load_suite_text(SUITE, file="hooks.yaml"),
            client=client,
            services=(),
            environ={},
            settings=settings(receiver.url),
        )
    assert result.status is RunStatus.FAILED
    payload = receiver.next().json
    assert payload["event"] == "run_failed" and payload["run"]["suite"] == "hooks"
    assert [f["test"] for f in payload["failures"]] == ["a"]


def run_cli(tmp_path: Path, status: int, **env: str) -> subprocess.CompletedProcess[str]:
    """run-suite --no-store of a one-test suite against a local target answering ``status``."""

    class Target(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    suite = tmp_path / "hooks.yaml"
    suite.write_text(
        SUITE.replace("http://api.test", f"http://127.0.0.1:{server.server_address[1]}")
    )
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("RUNNER_") and not k.lower().endswith("_proxy")
    }
    try:
        return subprocess.run(
            [sys.executable, "-m", "runner", "run-suite", str(suite), "--no-store"],
            cwd=tmp_path,
            env={**environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()


def test_cli_receiver_down_warns_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """A failing run with its receiver down: exit 1 as without webhooks, one warning line."""
    url = f"http://127.0.0.1:{free_port()}/hook"
    proc = run_cli(tmp_path, 500, RUNNER_WEBHOOK_URL=url, RUNNER_WEBHOOK_RETRIES="0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 passed, 0 failed, 1 errors, 0 skipped, 1 total"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("webhook ")]
    assert len(warnings) == 1 and "run_failed not delivered" in warnings[0]
    assert "Traceback" not in proc.stderr


def test_cli_passing_run_exits_0_and_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    """A passing run triggers no event: exit 0, nothing received, nothing on stderr."""
    proc = run_cli(tmp_path, 201, RUNNER_WEBHOOK_URL=receiver.url)
    assert proc.returncode == 0 and proc.stderr == ""
    assert receiver.got.empty()


def test_cli_failing_run_is_delivered_signed(tmp_path: Path, receiver: Receiver) -> None:
    """From the command line, a failing run reaches the receiver, signed."""
    proc = run_cli(tmp_path, 500, RUNNER_WEBHOOK_URL=receiver.url, RUNNER_WEBHOOK_SECRET=SECRET)
    assert proc.returncode == 1 and proc.stderr == ""
    got = receiver.next()
    ts = got.headers["x-runner-timestamp"]
    assert got.headers["x-runner-signature"] == signature(SECRET, ts, got.body)
    assert got.json["failures"][0]["category"] == "http_5xx"


@pytest.mark.db
async def test_flaky_test_found_by_the_database_is_sent(
    receiver: Receiver, migrated_db: str, tmp_path: Path
) -> None:
    """Pass, fail, pass: the third run's finish finds the test flaky, and a webhook says so."""
    from runner.db.connect import Target
    from runner.store.postgres import PostgresStore

    answers = iter([201, 500, 201])
    s = settings(receiver.url)
    events = []
    for _ in range(3):
        status = next(answers)
        transport = httpx.MockTransport(lambda r, status=status: httpx.Response(status))
        store = PostgresStore(Target(migrated_db, embedded=True), spill_dir=tmp_path / "spill")
        async with store, httpx.AsyncClient(transport=transport) as client:
            result = await run_suite(
                load_suite_text(SUITE, file="hooks.yaml"),
                store=store,
                client=client,
                services=(),
                environ={},
                settings=s,
            )
        while not receiver.got.empty():
            got = receiver.got.get_nowait()
            events.append((got.headers["x-runner-event"], got.json))
        assert result.run_id is not None
    assert [e for e, _ in events] == ["run_failed", "flaky_test_detected"]
    flaky = events[1][1]
    assert flaky["run"]["id"] == result.run_id and flaky["run"]["status"] == "passed"
    (test,) = flaky["flaky_tests"]
    assert test["test"] == "a" and test["runs"] == 3
    assert test["failure_rate"] == pytest.approx(1 / 3)
    assert "failure_rate" in test["reason"]
