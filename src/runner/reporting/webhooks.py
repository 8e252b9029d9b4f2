"""Webhook notifications after a run: run failed, flaky test detected, regression.

Sent once the run has finished and been recorded, to every ``RUNNER_WEBHOOK_URL``,
for the events in ``RUNNER_WEBHOOK_EVENTS``. Delivery never fails or blocks a run
beyond its bounded retries: a receiver that is down costs a warning line on the
``runner.reporting.webhooks`` logger, and the run's result and exit code stay what they were.

Each delivery is a POST of the default JSON payload (docs/reports.md) or of
``RUNNER_WEBHOOK_TEMPLATE`` rendered in a jinja2 sandbox, with ``X-Runner-Event``,
``X-Runner-Delivery``, ``X-Runner-Timestamp`` and, when ``RUNNER_WEBHOOK_SECRET`` is
set, ``X-Runner-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from runner.models import RunResult, RunStatus, Status
from runner.reporting.analytics.model import RunAnalysis
from runner.secrets.redact import Redactor
from runner.settings import Settings
from runner.store.base import Store

log = logging.getLogger("runner.reporting.webhooks")

EVENTS = ("run_failed", "flaky_test_detected", "performance_degradation")
MAX_FAILURES = 50
"""Failures listed in one payload; the rest are counted in ``failures_omitted``."""
SIGNATURE_HEADER = "X-Runner-Signature"
USER_AGENT = "supabase-api-runner-webhooks/1"

Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class Delivery:
    """What happened to one POST: delivered or not, after how many attempts."""

    url: str
    event: str
    delivered: bool
    attempts: int
    status_code: int | None = None
    error: str = ""


def enabled_events(text: str) -> tuple[str, ...]:
    """The events named in ``RUNNER_WEBHOOK_EVENTS`` (unknown names are warned about)."""
    names = [n.strip() for n in text.replace(";", ",").split(",") if n.strip()]
    unknown = [n for n in names if n not in EVENTS]
    if unknown:
        log.warning(
            "RUNNER_WEBHOOK_EVENTS: ignoring unknown event(s) %s (known: %s)",
            ", ".join(unknown),
            ", ".join(EVENTS),
        )
    return tuple(n for n in EVENTS if n in names)


def triggered(run: RunResult, analysis: RunAnalysis, enabled: Sequence[str]) -> list[str]:
    """The events this run triggers, among ``enabled``."""
    out = []
    if "run_failed" in enabled and run.status in (RunStatus.FAILED, RunStatus.ERROR):
        out.append("run_failed")
    if "flaky_test_detected" in enabled and analysis.flaky:
        out.append("flaky_test_detected")
    if "performance_degradation" in enabled and analysis.regressions:
        out.append("performance_degradation")
    return out


def default_payload(
    event: str, run: RunResult, analysis: RunAnalysis, *, now: datetime | None = None
) -> dict[str, Any]:
    """The JSON payload of ``event`` (the same shape for every event; docs/reports.md)."""
    failures = [r for r in run.results if r.status in (Status.FAILED, Status.ERROR)]
    return {
        "event": event,
        "sent_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "run": {
            "id": run.run_id,
            "suite": run.suite,
            "environment": run.environment,
            "status": run.status.value,
            "ok": run.ok,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat(),
            "duration_s": round((run.finished_at - run.started_at).total_seconds(), 3),
            "counts": run.counts,
        },
        "failures": [
            {
                "test": r.key,
                "status": r.status.value,
                "category": r.error_category.value if r.error_category else None,
                "message": r.message,
                "status_code": r.status_code,
                "attempts": len(r.attempts),
            }
            for r in failures[:MAX_FAILURES]
        ],
        "failures_omitted": max(len(failures) - MAX_FAILURES, 0),
        "flaky_tests": [
            {
                "test": f.test,
                "environment": f.environment,
                "runs": f.runs,
                "failure_rate": f.failure_rate,
                "flip_rate": f.flip_rate,
                "recovered_rate": f.recovered_rate,
                "reason": f.reason,
            }
            for f in analysis.flaky
        ],
        "regressions": [
            {
                "test": g.test,
                "environment": g.environment,
                "p95_ms": g.p95_ms,
                "baseline_p95_ms": g.baseline_p95_ms,
                "ratio": g.ratio,
                "threshold": g.threshold,
                "explanation": g.explanation,
            }
            for g in analysis.regressions
        ],
        "quarantined": list(analysis.quarantined),
    }


def render_body(payload: dict[str, Any], template: str | None) -> tuple[bytes, str]:
    """The body and its content type: the payload as JSON, or ``template`` rendered.

    A template sees ``payload`` and each of its keys (``event``, ``run``, ...); its
    output is sent as ``application/json`` when it parses as JSON, else as text.
    Raises ``ValueError`` naming the line when the template is broken.
    """
    if template is None:
        return json.dumps(payload, ensure_ascii=False).encode(), "application/json"
    from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    # JSON, not HTML: autoescape would corrupt quotes; values go through |tojson
    env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
    try:
        text = env.from_string(template).render({**payload, "payload": payload})
    except TemplateSyntaxError as exc:
        raise ValueError(f"line {exc.lineno}: {exc.message}") from None
    except TemplateError as exc:
        raise ValueError(f"{exc.message or exc}") from None
    try:
        json.loads(text)
        content_type = "application/json"
    except ValueError:
        content_type = "text/plain; charset=utf-8"
    return text.encode(), content_type


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def display_url(url: str) -> str:
    """A webhook URL safe to print: scheme and host only (paths often hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path.strip("/") else "")


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    event: str,
    body: bytes,
    content_type: str,
    *,
    secret: str | None,
    attempt_timeout: float,
    retries: int,
    sleep: Sleep = asyncio.sleep,
) -> Delivery:
    """POST one payload, retrying connection errors, timeouts, 429 and 5xx."""
    delivery_id = str(uuid.uuid4())
    error = ""
    status: int | None = None
    attempt = 0
    for attempt in range(1, retries + 2):
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "X-Runner-Event": event,
            "X-Runner-Delivery": delivery_id,
            "X-Runner-Timestamp": timestamp,
        }
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
        try:
            response = await client.post(
                url, content=body, headers=headers, timeout=attempt_timeout
            )
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        else:
            status = response.status_code
            if status < 300:
                return Delivery(url, event, True, attempt, status)
            error = f"HTTP {status}"
            if status != 429 and status < 500:
                break  # the receiver refused this payload: sending it again will not help
        if attempt <= retries:
            await sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
    return Delivery(url, event, False, attempt, status, error)


async def notify_run(
    run: RunResult,
    *,
    settings: Settings,
    store: Store | None = None,
    analysis: RunAnalysis | None = None,
    client: httpx.AsyncClient | None = None,
    sleep: Sleep = asyncio.sleep,
) -> list[Delivery]:
    """Send the run's notifications; never raises. Returns what happened to each POST.

    ``analysis`` defaults to the analytics of the run read through ``store`` (a
    store that recorded it, either kind); without one only ``run_failed`` can fire.
    """
    urls = settings.webhook_urls
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    hide = Redactor([*urls, *([secret] if secret else [])])
    try:
        return await _notify(run, settings, store, analysis, client, sleep, hide)
    except Exception as exc:  # a notification must never break a finished run
        log.warning("webhooks not sent: %s", hide.text(f"{type(exc).__name__}: {exc}"))
        return []


async def _notify(
    run: RunResult,
    settings: Settings,
    store: Store | None,
    analysis: RunAnalysis | None,
    client: httpx.AsyncClient | None,
    sleep: Sleep,
    hide: Redactor,
) -> list[Delivery]:
    urls = settings.webhook_urls
    enabled = enabled_events(settings.webhook_events)
    if not urls or not enabled:
        return []
    if analysis is None:
        analysis = await _analysis_of(run, store)
    events = triggered(run, analysis, enabled)
    if not events:
        return []
    template: str | None = None
    if settings.webhook_template is not None:
        try:
            template = settings.webhook_template.read_text(encoding="utf-8")
        except OSError as exc:
            log.warning(
                "webhook template %s cannot be read (%s); nothing sent",
                settings.webhook_template,
                exc.strerror or exc,
            )
            return []
    bodies: list[tuple[str, bytes, str]] = []
    for event in events:
        payload = default_payload(event, run, analysis)
        try:
            body, content_type = render_body(payload, template)
        except ValueError as exc:
            log.warning(
                "webhook template %s %s; %s not sent",
                settings.webhook_template,
                hide.text(str(exc)),
                event,
            )
            continue
        bodies.append((event, body, content_type))
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    async with _client(client) as http:
        deliveries = await asyncio.gather(
            *(
                deliver(
                    http,
                    url,
                    event,
                    body,
                    content_type,
                    secret=secret,
                    attempt_timeout=settings.webhook_timeout,
                    retries=settings.webhook_retries,
                    sleep=sleep,
                )
                for url in urls
                for event, body, content_type in bodies
            )
        )
    for d in deliveries:
        if not d.delivered:
            log.warning(
                "webhook %s: %s not delivered after %d attempt(s): %s",
                display_url(d.url),
                d.event,
                d.attempts,
                hide.text(d.error),
            )
    return list(deliveries)


class _client:
    """The injected client as is, or a new one closed afterwards."""

    def __init__(self, client: httpx.AsyncClient | None) -> None:
        self._given = client
        self._own: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        if self._given is not None:
            return self._given
        self._own = httpx.AsyncClient(follow_redirects=False)
        return self._own

    async def __aexit__(self, *exc: object) -> None:
        if self._own is not None:
            await self._own.aclose()


async def _analysis_of(run: RunResult, store: Store | None) -> RunAnalysis:
    """The run's analytics read through the store that recorded it (either store)."""
    from runner.reporting.analytics import analysis_for_store

    found = await analysis_for_store(store, run.run_id)
    if found is None:
        return RunAnalysis.unavailable(run.run_id or "")
    return found.in_environment(run.environment)
