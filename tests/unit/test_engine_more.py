"""The scheduler's less travelled paths: --bail between data rows, diamonds of blocked tests
and a store that fails while the run is being closed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from runner.execute.engine import RunEvent, execute
from runner.models import ErrorCategory, RunResult, RunStatus, Status, TestResult
from runner.plan.graph import build_plan
from runner.store.base import NullStore, RunInfo
from runner.suite.environment import resolve_environment
from runner.suite.load import load_suite_text


class KeepingStore(NullStore):
    """The shipped NullStore, keeping results and the final status."""

    def __init__(self) -> None:
        self.results: dict[str, TestResult] = {}
        self.finished: list[RunStatus] = []

    async def start_run(self, info: RunInfo) -> str | None:
        return "run-1"

    async def record_result(self, result: TestResult) -> None:
        self.results[result.key] = result

    async def finish_run(self, status: RunStatus) -> None:
        self.finished.append(status)


async def run(
    text: str,
    *,
    store: NullStore | None = None,
    bail: bool = False,
    events: list[RunEvent] | None = None,
    handler: Any = None,
) -> RunResult:
    plan = build_plan(load_suite_text(text, file="suite.yaml"))
    environment = resolve_environment(plan.loaded, None, {}, dotenv={})

    def status_from_path(request: httpx.Request) -> httpx.Response:
        last = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(int(last) if last.isdigit() else 200)

    transport = httpx.MockTransport(handler or status_from_path)
    async with httpx.AsyncClient(transport=transport) as client:
        return await execute(
            plan,
            store=store or KeepingStore(),
            client=client,
            environment=environment,
            concurrency=1,
            bail=bail,
            seed=3,
            body_limit=4096,
            on_event=events.append if events is not None else None,
        )


HEAD = "name: s\nbase_url: http://api.test\ntests:\n"


def by_key(result: RunResult) -> dict[str, TestResult]:
    return {r.key: r for r in result.results}


async def test_bail_between_rows_closes_the_remaining_rows_as_bailed() -> None:
    """--bail after a failing row: later rows and later tests are skipped as bailed, by row."""
    text = HEAD + (
        "  - id: rows\n"
        "    data: [{code: 200}, {code: 500}, {code: 200}, {code: 200}]\n"
        "    request: {url: '/{{ row.code }}'}\n"
        "    checks: {status: 200}\n"
        "  - {id: after, depends_on: [rows], request: {url: /200}}\n"
        "  - {id: free, request: {url: /200}}\n"
    )
    store = KeepingStore()
    result = await run(text, store=store, bail=True)
    assert [(r.key, r.status, r.error_category) for r in result.results] == [
        ("rows[0]", Status.PASSED, None),
        ("rows[1]", Status.ERROR, ErrorCategory.HTTP_5XX),
        ("rows[2]", Status.SKIPPED, ErrorCategory.BAILED),
        ("rows[3]", Status.SKIPPED, ErrorCategory.BAILED),
        ("after", Status.SKIPPED, ErrorCategory.BAILED),
        ("free", Status.SKIPPED, ErrorCategory.BAILED),
    ]
    assert [r.row_index for r in result.results[:4]] == [0, 1, 2, 3]
    assert store.finished == [RunStatus.FAILED]


async def test_a_diamond_below_a_failure_is_blocked_once() -> None:
    """A test reached twice from a failed root is recorded as blocked exactly once."""
    text = HEAD + (
        "  - {id: root, request: {url: /500}}\n"
        "  - {id: left, depends_on: [root], request: {url: /200}}\n"
        "  - {id: right, depends_on: [root], request: {url: /200}}\n"
        "  - {id: join, depends_on: [left, right], request: {url: /200}}\n"
    )
    events: list[RunEvent] = []
    result = await run(text, events=events)
    finished = [e.key for e in events if e.kind == "test_finished"]
    assert sorted(finished) == ["join", "left", "right", "root"]
    assert by_key(result)["join"].message == "blocked by root"
    assert result.status is RunStatus.FAILED


async def test_a_store_failing_at_finish_after_an_error_keeps_the_first_error() -> None:
    """When recording fails and finishing fails too, the recording error propagates."""

    class Broken(KeepingStore):
        async def record_result(self, result: TestResult) -> None:
            raise RuntimeError("recording failed")

        async def finish_run(self, status: RunStatus) -> None:
            raise RuntimeError("finishing failed")

    events: list[RunEvent] = []
    with pytest.raises(RuntimeError, match="recording failed"):
        await run(HEAD + "  - {id: a, request: {url: /200}}\n", store=Broken(), events=events)
    final = events[-1]
    assert final.kind == "run_finished" and final.run is not None
    assert final.run.status is RunStatus.ERROR


async def test_a_store_failing_while_an_interrupted_run_closes_propagates_its_error() -> None:
    """Cancelled, and the store cannot record the interruption: its error is raised."""
    started = asyncio.Event()

    class FailsAfterCancel(KeepingStore):
        async def finish_run(self, status: RunStatus) -> None:
            raise RuntimeError(f"cannot finish as {status.value}")

    async def hang(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    task = asyncio.create_task(
        run(HEAD + "  - {id: a, request: {url: /200}}\n", store=FailsAfterCancel(), handler=hang)
    )
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(RuntimeError, match="cannot finish as interrupted"):
        await task
