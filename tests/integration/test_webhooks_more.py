"""Webhook edges with an injected HTTP transport standing in for the receiver."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from runner.models import ErrorCategory, RunResult, RunStatus, Status, TestResult
from runner.reporting.analytics.model import RunAnalysis
from runner.reporting.webhooks import enabled_events, notify_run, render_body
from runner.settings import Settings

URL = "https://hooks.example/services/T0K3N-in-path"
T0 = datetime(2025, 6, 7, 8, 9, 10, tzinfo=UTC)


def settings(**more: Any) -> Settings:
    return Settings(_env_file=None, webhook_url=URL, **more)  # type: ignore[call-arg]


def run(status: RunStatus = RunStatus.FAILED) -> RunResult:
    failed = TestResult(
        test_id="cart",
        key="cart",
        name="cart",
        status=Status.FAILED,
        error_category=ErrorCategory.ASSERTION,
        message="nope",
    )
    return RunResult(
        run_id="7d1f0000-0000-4000-8000-000000000008",
        suite="shop",
        environment="staging",
        status=status,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        results=(failed,),
    )


def analysis() -> RunAnalysis:
    return RunAnalysis.unavailable("7d1f0000-0000-4000-8000-000000000008")


def receiver(seen: list[httpx.Request], status: int = 200) -> httpx.AsyncClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def test_unknown_event_names_are_warned_about_and_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unknown names in RUNNER_WEBHOOK_EVENTS are ignored with a warning listing the known ones."""
    with caplog.at_level(logging.WARNING, logger="runner.reporting.webhooks"):
        assert enabled_events("run_failed; run_pased ,flaky_test_detected") == (
            "run_failed",
            "flaky_test_detected",
        )
    assert "ignoring unknown event(s) run_pased" in caplog.text
    assert "performance_degradation" in caplog.text


def test_templates_rendering_text_or_failing_at_render_time() -> None:
    """Non-JSON output is sent as text; an undefined name or unsafe access is a ValueError."""
    body, content_type = render_body({"event": "run_failed"}, "run {{ event }} failed")
    assert (body, content_type) == (b"run run_failed failed", "text/plain; charset=utf-8")
    with pytest.raises(ValueError, match="'nothing' is undefined"):
        render_body({"event": "e"}, "{{ nothing }}")
    with pytest.raises(ValueError, match="unsafe"):
        render_body({"event": "e"}, "{{ event.__class__.__mro__ }}")


async def test_nothing_is_sent_without_events_or_triggers() -> None:
    """No enabled event, or a passing run for run_failed only, sends nothing at all."""
    seen: list[httpx.Request] = []
    async with receiver(seen) as client:
        none_enabled = settings(webhook_events=" , ")
        assert (
            await notify_run(run(), settings=none_enabled, analysis=analysis(), client=client) == []
        )
        passing = run(RunStatus.PASSED)
        assert (
            await notify_run(passing, settings=settings(), analysis=analysis(), client=client) == []
        )
    assert seen == []


async def test_an_unreadable_template_sends_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A template path that cannot be read is a warning and no request."""
    seen: list[httpx.Request] = []
    folder = tmp_path / "templates"
    folder.mkdir()
    with caplog.at_level(logging.WARNING, logger="runner.reporting.webhooks"):
        async with receiver(seen) as client:
            sent = await notify_run(
                run(),
                settings=settings(webhook_template=folder),
                analysis=analysis(),
                client=client,
            )
    assert sent == [] and seen == []
    assert f"webhook template {folder} cannot be read" in caplog.text


async def test_an_injected_client_is_used_and_left_open() -> None:
    """The caller's client carries the POST and is still usable afterwards."""
    seen: list[httpx.Request] = []
    async with receiver(seen) as client:
        (delivery,) = await notify_run(
            run(), settings=settings(), analysis=analysis(), client=client
        )
        assert delivery.delivered and delivery.attempts == 1
        assert json.loads(seen[0].content)["event"] == "run_failed"
        assert not client.is_closed


async def test_an_unexpected_error_never_escapes_and_hides_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client failing in an unforeseen way: nothing raised, one warning, the URL redacted."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"transport broke while posting to {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(explode)) as client:
        with caplog.at_level(logging.WARNING, logger="runner.reporting.webhooks"):
            sent = await notify_run(run(), settings=settings(), analysis=analysis(), client=client)
    assert sent == []
    assert "webhooks not sent: RuntimeError: transport broke" in caplog.text
    assert "T0K3N" not in caplog.text
