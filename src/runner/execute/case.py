"""Runs one test case (a test, or one data row of it): render, send, check, capture.

Everything that goes wrong becomes a ``TestResult`` with a category; only a
cancellation escapes.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from runner.execute import checks
from runner.execute.capture import CaptureError, ResponseView, capture_all
from runner.execute.http.send import (
    Exchange,
    RequestBuildError,
    WireLimits,
    build,
    send,
    wire_limits,
)
from runner.execute.logsafe import redact_message
from runner.execute.refresh import TokenKeeper
from runner.models import (
    CheckResult,
    ErrorCategory,
    Snapshot,
    Status,
    Suite,
    TestResult,
    TestSpec,
)
from runner.secrets.names import capture_is_secret, secret_name
from runner.secrets.redact import REDACTED, Redactor
from runner.store.base import Store
from runner.suite.environment import ResolvedEnvironment
from runner.templating.render import RenderedRequest, Renderer, TemplateError

_EMPTY_ROW: Mapping[str, Any] = {}
# bytes no header may carry: they would end the header (injection) or the request
_HEADER_BREAKERS = frozenset(b"\r\n\x00")


def checked(request: httpx.Request) -> httpx.Request:
    """``request``, or ``RequestBuildError`` naming a header whose value has a CR, LF or NUL.

    The transports refuse such a header while sending, each its own way (aiohttp with a
    ValueError, which looked like a bug in the runner); this says which header it is.
    """
    for name, value in request.headers.raw:
        if _HEADER_BREAKERS.intersection(value) or _HEADER_BREAKERS.intersection(name):
            raise RequestBuildError(
                f"header {name.decode('latin-1')!r} contains a line break or NUL character "
                "(CR, LF or NUL are not allowed in header names or values)"
            )
    return request


class CaseRunner:
    """Runs test cases against one environment, sharing the run's context."""

    def __init__(
        self,
        *,
        suite: Suite,
        client: httpx.AsyncClient,
        environment: ResolvedEnvironment,
        renderer: Renderer,
        redactor: Redactor,
        retry_rng: random.Random,
        body_limit: int,
        store: Store,
        sleep: Callable[[float], Any],
    ) -> None:
        self.suite = suite
        self.client = client
        self.environment = environment
        self.renderer = renderer
        self.redactor = redactor
        self.retry_rng = retry_rng
        self.body_limit = body_limit
        self.store = store
        self.sleep = sleep
        # the shared execution context; templates read these dicts directly
        self.tokens: dict[str, str] = {}
        self.variables: dict[str, Any] = {}
        self.captured: dict[str, dict[str, Any]] = {}
        self.keeper = TokenKeeper(suite)
        # how a producer's re-run (``login#refresh1``) is recorded; the engine replaces it
        self.record_extra: Callable[[TestResult], Awaitable[None]] = store.record_result

    def context(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        """The names templates see."""
        return {
            "env": self.environment.variables,
            "secrets": self.environment.secrets,
            "credentials": self.environment.credentials,
            "shared_auth_tokens": self.tokens,
            "shared_variables": self.variables,
            "captured_data": self.captured,
            "row": _EMPTY_ROW if row is None else row,
        }

    # ------------------------------------------------------------------ run

    async def run(
        self,
        spec: TestSpec,
        *,
        key: str,
        row: Mapping[str, Any] | None = None,
        row_index: int | None = None,
    ) -> TestResult:
        """Run one case and return its (redacted) result."""
        started_at = datetime.now(UTC)
        try:
            return await self._run(spec, key, row, row_index, started_at)
        except Exception as exc:  # a bug must cost one result, not the whole run
            message = self.message(f"internal error: {type(exc).__name__}: {exc}")
            return self._result(
                spec, key, row_index, Status.ERROR, ErrorCategory.INTERNAL, message, started_at
            )

    async def _run(
        self,
        spec: TestSpec,
        key: str,
        row: Mapping[str, Any] | None,
        row_index: int | None,
        started_at: datetime,
    ) -> TestResult:
        renderer, context = self.renderer, self.context(row)
        limits = wire_limits(spec, self.suite.defaults)
        # a producer's re-run never renews tokens itself (it may hold a renewal lock)
        keeper = self.keeper
        refreshable = keeper.used_by(spec) if keeper.active and "#" not in key else ()
        seen: dict[str, int] = {}
        if refreshable:
            for name in refreshable:
                if keeper.expired(name):
                    await keeper.renew(name, keeper.seen((name,))[name], self._rerun)
            seen = keeper.seen(refreshable)
        try:
            rendered = renderer.request(
                spec.request,
                context,
                base_url=self.environment.base_url,
                default_headers=self.suite.defaults.headers,
            )
            prepared = checks.prepare(
                spec.checks, lambda value, field: renderer.value(value, context, field)
            )
            request = checked(build(self.client, rendered, limits))
        except TemplateError as exc:
            message = self.message(f"test {key}: {exc}")
            return self._result(
                spec, key, row_index, Status.ERROR, ErrorCategory.TEMPLATE, message, started_at
            )
        except RequestBuildError as exc:
            message = self.message(f"test {key}: request: {exc}")
            return self._result(
                spec, key, row_index, Status.ERROR, ErrorCategory.REQUEST, message, started_at
            )

        exchange = await send(
            self.client,
            request,
            policy=spec.retries or self.suite.defaults.retries,
            rng=self.retry_rng,
            redact=self.message,
            sleep=self.sleep,
            limits=limits,
        )
        if refreshable and exchange.response is not None:
            expired = keeper.expired_by_status(refreshable, exchange.response.status_code)
            renewed = [n for n in expired if await keeper.renew(n, seen[n], self._rerun)]
            if renewed:
                retried = await self._retry_renewed(spec, context, limits, exchange)
                if retried is not None:
                    exchange, request, rendered, prepared = retried
        response = exchange.response
        if response is None:
            return self._result(
                spec,
                key,
                row_index,
                Status.ERROR,
                exchange.error_category,
                exchange.error or "",
                started_at,
                exchange=exchange,
                request=self._request_snapshot(request, rendered),
            )

        view = ResponseView(response, exchange.elapsed_ms or 0.0)
        # taint first: a secret the response carries is known to the redactor (and so
        # to the log filter) before any check, message or snapshot can show it
        captured: dict[str, Any] = {}
        capture_problem = ""
        if spec.captures:
            try:
                captured = capture_all(spec.captures, view)
            except CaptureError as exc:
                captured, capture_problem = exc.values, str(exc)
            self._learn_secrets(spec, captured)
        # redacted before any message is made of them (a check on $.token says [REDACTED])
        check_results = tuple(map(self._redact_check, checks.evaluate(prepared, view)))

        failures = [c.message for c in check_results if not c.passed]
        code = response.status_code
        status_ok = next((c.passed for c in check_results if c.name == "status"), False)
        category: ErrorCategory | None
        if code >= 500 and not status_ok:
            # a server error nobody asked for is an error of the target, not a failed check
            status, category = Status.ERROR, ErrorCategory.HTTP_5XX
            message = "; ".join([f"HTTP {code} {response.reason_phrase}".rstrip(), *failures])
        elif failures:
            status, category = Status.FAILED, ErrorCategory.ASSERTION
            message = "; ".join(failures)
        elif capture_problem:
            status, category, message = Status.ERROR, ErrorCategory.CAPTURE, capture_problem
        else:
            status, category, message = Status.PASSED, None, ""
        if capture_problem and category is not ErrorCategory.CAPTURE:
            message = f"{message}; {capture_problem}"

        if status is Status.PASSED and spec.captures:
            await self._publish(spec, key, row_index, captured)

        redactor = self.redactor
        return self._result(
            spec,
            key,
            row_index,
            status,
            category,
            self.message(message) if message else message,
            started_at,
            exchange=exchange,
            request=self._request_snapshot(request, rendered),
            response=redactor.snapshot(
                status_code=code,
                headers=_decoded(response.headers.raw),
                body=view.text if self.body_limit > 0 else None,
                parsed_json=view.json() if view.is_json else None,
                is_json=view.is_json,
                body_limit=self.body_limit,
            ),
            checks=check_results,
            captured=self._shown_captures(spec, captured),
        )

    # ------------------------------------------------------------- refresh

    async def _rerun(self, producer: TestSpec, key: str) -> bool:
        """Run a token's producer again under ``key`` and record it; whether it passed."""
        await self.store.test_started(key)
        result = await self.run(producer, key=key)
        await self.record_extra(result)
        return result.status is Status.PASSED

    async def _retry_renewed(
        self, spec: TestSpec, context: dict[str, Any], limits: WireLimits, failed: Exchange
    ) -> tuple[Exchange, httpx.Request, RenderedRequest, Any] | None:
        """Send the request again with the renewed token; the failed attempts stay first."""
        try:
            rendered = self.renderer.request(
                spec.request,
                context,
                base_url=self.environment.base_url,
                default_headers=self.suite.defaults.headers,
            )
            prepared = checks.prepare(
                spec.checks, lambda value, field: self.renderer.value(value, context, field)
            )
            request = checked(build(self.client, rendered, limits))
        except (TemplateError, RequestBuildError):
            return None  # rendered fine a moment ago; keep the failed exchange as the answer
        again = await send(
            self.client,
            request,
            policy=spec.retries or self.suite.defaults.retries,
            rng=self.retry_rng,
            redact=self.message,
            sleep=self.sleep,
            limits=limits,
        )
        first = len(failed.attempts)
        attempts = failed.attempts + tuple(
            a.model_copy(update={"number": first + a.number}) for a in again.attempts
        )
        merged = Exchange(
            again.response, attempts, again.elapsed_ms, again.error_category, again.error
        )
        return merged, request, rendered, prepared

    # ------------------------------------------------------------- context

    def message(self, text: str) -> str:
        """``text`` as it may be stored: secrets, credential headers and query keys hidden."""
        return redact_message(self.redactor, text)

    def _learn_secrets(self, spec: TestSpec, captured: dict[str, Any]) -> None:
        for name, value in captured.items():
            if capture_is_secret(name, spec.captures[name]):
                self.redactor.add(value)

    async def _publish(
        self, spec: TestSpec, key: str, row_index: int | None, captured: dict[str, Any]
    ) -> None:
        """Merge a passed case's captures into the shared context and tell the store."""
        tokens: dict[str, str] = {}
        variables: dict[str, Any] = {}
        secret_keys: list[str] = []
        for name, cap in spec.captures.items():
            value = captured[name]
            if cap.as_token:
                tokens[cap.as_token] = value if isinstance(value, str) else str(value)
            if cap.as_variable:
                variables[cap.as_variable] = value
            if capture_is_secret(name, cap):
                secret_keys.append(name)
        self.captured[key] = captured
        if row_index is not None:
            self.captured[spec.id] = captured  # the last row's captures stand for the test
        self.tokens.update(tokens)
        if tokens:
            self.keeper.published(tokens)
        self.variables.update(variables)
        await self.store.context_changed(key, captured, tokens, variables, frozenset(secret_keys))

    def _shown_captures(self, spec: TestSpec, captured: dict[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for name, value in captured.items():
            secret = capture_is_secret(name, spec.captures[name])
            shown[name] = REDACTED if secret else self.redactor.value(value)
        return shown

    # ------------------------------------------------------------- results

    def _redact_check(self, check: CheckResult) -> CheckResult:
        if secret_name(check.name):
            # a check on a secret-named value ($.api_token, header Set-Cookie) shows
            # neither side, known secret or not (it may run before the capture)
            return CheckResult(
                name=check.name,
                passed=check.passed,
                expected=None if check.expected is None else REDACTED,
                actual=None if check.actual is None else REDACTED,
                message=f"{check.name}: expected {REDACTED}, got {REDACTED}"
                if check.message
                else "",
            )
        redactor = self.redactor
        expected, actual = redactor.value(check.expected), redactor.value(check.actual)
        message = self.message(check.message) if check.message else ""
        if expected is check.expected and actual is check.actual and message is check.message:
            return check  # nothing secret in it: no copy
        return CheckResult(
            name=check.name, passed=check.passed, expected=expected, actual=actual, message=message
        )

    def _request_snapshot(self, request: httpx.Request, rendered: RenderedRequest) -> Snapshot:
        body: str | None = None
        if self.body_limit > 0:
            if rendered.form is not None:
                body = urlencode(self.redactor.value(rendered.form))
            elif rendered.json_body is not None or rendered.body is not None:
                body = request.content.decode(errors="replace")
        return self.redactor.snapshot(
            method=request.method,
            url=str(request.url),
            headers=_decoded(request.headers.raw),
            body=body,
            parsed_json=rendered.json_body,
            is_json=rendered.json_body is not None,
            body_limit=self.body_limit,
        )

    def _result(
        self,
        spec: TestSpec,
        key: str,
        row_index: int | None,
        status: Status,
        category: ErrorCategory | None,
        message: str,
        started_at: datetime | None,
        *,
        exchange: Exchange | None = None,
        request: Snapshot | None = None,
        response: Snapshot | None = None,
        checks: tuple[CheckResult, ...] = (),
        captured: dict[str, Any] | None = None,
    ) -> TestResult:
        attempts = exchange.attempts if exchange is not None else ()
        return TestResult(
            test_id=spec.id,
            key=key,
            name=spec.title,
            row_index=row_index,
            status=status,
            error_category=category,
            message=message,
            started_at=started_at,
            finished_at=datetime.now(UTC) if started_at is not None else None,
            duration_ms=exchange.elapsed_ms if exchange is not None else None,
            status_code=exchange.response.status_code
            if exchange is not None and exchange.response is not None
            else None,
            checks=checks,
            attempts=attempts,
            captured=captured or {},
            request=request,
            response=response,
            passed_after_retry=status is Status.PASSED and len(attempts) > 1,
            tags=spec.tags,
        )

    def skipped(
        self,
        spec: TestSpec,
        category: ErrorCategory | None,
        message: str,
        *,
        row: int | None = None,
    ) -> TestResult:
        """A result for a case that was not run (blocked, bailed, interrupted, disabled)."""
        key = spec.id if row is None else f"{spec.id}[{row}]"
        return self._result(spec, key, row, Status.SKIPPED, category, message, None)


def _decoded(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    # httpx's ``multi_items`` re-detects the encoding per header; latin-1 is what HTTP allows
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
