"""The scheduler: runs a plan's tests as soon as their dependencies have finished.

Ready tests wait in a heap ordered by their position in ``plan.order``; a fixed
pool of ``concurrency`` workers takes the first one whenever it is free. With one
worker the execution order is therefore exactly ``plan.order``. A test that does
not pass blocks its dependents (``skipped``/``blocked``), never fails them.

The per-test path is kept lean on purpose (it is benchmarked against a bare httpx
loop): no copies of the shared context, templates and JSONPaths compiled once,
result models built without re-validation, store calls that only enqueue.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from runner.execute.case import CaseRunner
from runner.models import ErrorCategory, RunResult, RunStatus, Status, Suite, TestResult
from runner.plan.graph import Plan
from runner.secrets.redact import Redactor
from runner.store.base import RunInfo, Store, quarantined_tests
from runner.suite.environment import ResolvedEnvironment
from runner.templating.render import Renderer

EventKind = Literal["run_started", "test_started", "test_finished", "run_finished"]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """Something the progress display (or a caller) may want to show."""

    kind: EventKind
    key: str | None = None
    result: TestResult | None = None
    total: int = 0
    run: RunResult | None = None


OnEvent = Callable[[RunEvent], None]


async def execute(
    plan: Plan,
    *,
    store: Store,
    client: httpx.AsyncClient,
    environment: ResolvedEnvironment,
    concurrency: int,
    bail: bool,
    seed: int,
    body_limit: int,
    on_event: OnEvent | None = None,
    trigger: str = "cli",
    metadata: Mapping[str, Any] | None = None,
    sleep: Callable[[float], Any] = asyncio.sleep,
    redactor: Redactor | None = None,
    stored_suite: Suite | None = None,
) -> RunResult:
    """Run every test of ``plan`` and record it through ``store``.

    ``redactor`` is the run's (shared with its log filter; a new one if None), and
    ``stored_suite`` the copy of the suite the store keeps (literal credentials
    redacted; ``plan.suite`` if None).

    On cancellation (Ctrl-C, SIGTERM) in-flight and unstarted tests are recorded as
    ``skipped``/``interrupted``, the run is finished as ``interrupted``, and the
    cancellation propagates.
    """
    scheduler = _Scheduler(
        plan,
        store=store,
        client=client,
        environment=environment,
        concurrency=max(1, concurrency),
        bail=bail,
        seed=seed,
        body_limit=body_limit,
        on_event=on_event,
        sleep=sleep,
        redactor=redactor,
    )
    info = RunInfo(
        suite=plan.suite if stored_suite is None else stored_suite,
        environment=environment.name,
        order=tuple(plan.order),
        trigger=trigger,
        edges=tuple((dep, test, data["type"]) for dep, test, data in plan.edges()),
        rows={t: r for t in plan.order if (r := plan.rows(t)) is not None},
        expected_results=sum(len(plan.rows(t) or (None,)) for t in plan.order),
        metadata={
            "seed": seed,
            "concurrency": scheduler.concurrency,
            "bail": bail,
            "base_url": environment.base_url,
            **(metadata or {}),
        },
    )
    return await scheduler.run(info)


class _Scheduler:
    def __init__(
        self,
        plan: Plan,
        *,
        store: Store,
        client: httpx.AsyncClient,
        environment: ResolvedEnvironment,
        concurrency: int,
        bail: bool,
        seed: int,
        body_limit: int,
        on_event: OnEvent | None,
        sleep: Callable[[float], Any],
        redactor: Redactor | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.concurrency = concurrency
        self.bail = bail
        self.on_event = on_event
        self.order = tuple(plan.order)
        self.index = {test_id: i for i, test_id in enumerate(self.order)}
        self.tests = {t.id: t for t in plan.suite.tests if t.id in self.index}
        # from the plain adjacency in one pass (no networkx on the run's path); the
        # successor lists come out in edge order, as networkx's would
        pred = plan.pred
        self.successors: dict[str, list[str]] = {t: [] for t in self.order}
        for test, deps in pred.items():
            for dep in deps:
                self.successors[dep].append(test)
        self.waiting_on: dict[str, int] = {t: len(pred[t]) for t in self.order}
        self.ready: list[tuple[int, str]] = [
            (self.index[t], t) for t in self.order if self.waiting_on[t] == 0
        ]
        heapq.heapify(self.ready)
        self.results: dict[str, TestResult] = {}
        self.settled: set[str] = set()  # tests with a final outcome (run, blocked, bailed)
        self.in_flight: set[str] = set()
        self.waiters: list[asyncio.Future[None]] = []
        self.stopped = False
        self.started_at = datetime.now(UTC)
        self.run_id: str | None = None
        redactor = Redactor() if redactor is None else redactor
        for value in (*environment.secrets.values(), *environment.hidden):
            redactor.add(value)
        self.cases = CaseRunner(
            suite=plan.suite,
            client=client,
            environment=environment,
            renderer=Renderer(seed),
            redactor=redactor,
            # seeded like the templates, so a rerun with --seed waits the same
            retry_rng=random.Random(f"{seed}:retries"),  # noqa: S311
            body_limit=body_limit,
            store=store,
            sleep=sleep,
        )
        # a token producer re-run to renew a token is a result of the run too
        self.cases.record_extra = self._record

    # ------------------------------------------------------------------ run

    async def run(self, info: RunInfo) -> RunResult:
        self.run_id = await self.store.start_run(info)
        # one result per test, or per data row of a data-driven test
        total = sum(len(self.plan.rows(t) or ()) or 1 for t in self.order)
        self._emit(RunEvent("run_started", total=total))
        workers = [
            asyncio.create_task(self._worker())
            for _ in range(min(self.concurrency, len(self.order)))
        ]
        try:
            await asyncio.gather(*workers)
        except BaseException as exc:
            interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            status = RunStatus.INTERRUPTED if interrupted else RunStatus.ERROR
            try:
                if interrupted:
                    await self._close_remaining(ErrorCategory.INTERRUPTED, "interrupted")
                else:
                    await self._close_remaining(ErrorCategory.INTERNAL, f"run failed: {exc}")
                await self.store.finish_run(status)
            except Exception:
                if interrupted:
                    raise
                # a failing store is the likely cause: let its first error propagate
            self._emit(RunEvent("run_finished", run=self._result(status)))
            raise
        await self._close_remaining(ErrorCategory.BAILED, "not run: --bail after a failure")
        # a quarantined test's failure is recorded but does not fail the run
        quarantined = quarantined_tests(self.store)
        failing = any(
            r.status in (Status.FAILED, Status.ERROR) and r.test_id not in quarantined
            for r in self.results.values()
        )
        status = RunStatus.FAILED if failing else RunStatus.PASSED
        result = self._result(status)
        await self.store.finish_run(status)
        self._emit(RunEvent("run_finished", run=result))
        return result

    def _result(self, status: RunStatus) -> RunResult:
        def position(r: TestResult) -> tuple[int, int]:
            return self.index[r.test_id], -1 if r.row_index is None else r.row_index

        quarantined = quarantined_tests(self.store)
        return RunResult(
            run_id=self.run_id,
            suite=self.plan.suite.name,
            environment=self.cases.environment.name,
            status=status,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            results=tuple(sorted(self.results.values(), key=position)),
            quarantined=tuple(t for t in self.order if t in quarantined),
        )

    def _emit(self, event: RunEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -------------------------------------------------------------- workers

    async def _worker(self) -> None:
        while True:
            test_id = await self._next()
            if test_id is None:
                return
            self.in_flight.add(test_id)
            try:
                passed = await self._run_test(test_id)
            finally:
                self.in_flight.discard(test_id)
            if passed is None:  # stopped by --bail between rows: closed as bailed later
                self._wake()
            else:
                await self._settle(test_id, passed)

    async def _next(self) -> str | None:
        while True:
            if self.stopped:
                return None
            if self.ready:
                return heapq.heappop(self.ready)[1]
            if not self.in_flight:
                return None  # nothing ready and nothing running: the rest is blocked
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _settle(self, test_id: str, passed: bool) -> None:
        self.settled.add(test_id)
        if passed:
            for dependent in self.successors[test_id]:
                self.waiting_on[dependent] -= 1
                if self.waiting_on[dependent] == 0 and dependent not in self.settled:
                    heapq.heappush(self.ready, (self.index[dependent], dependent))
        else:
            await self._block_dependents(test_id)
        self._wake()

    async def _block_dependents(self, root: str) -> None:
        stack = list(self.successors[root])
        while stack:
            test_id = stack.pop()
            if test_id in self.settled:
                continue
            self.settled.add(test_id)
            await self._record(
                self.cases.skipped(self.tests[test_id], ErrorCategory.BLOCKED, f"blocked by {root}")
            )
            stack.extend(self.successors[test_id])

    async def _close_remaining(self, category: ErrorCategory, message: str) -> None:
        """Record every test without an outcome as skipped (bailed or interrupted)."""
        for test_id in self.order:
            if test_id in self.settled:
                continue
            self.settled.add(test_id)
            spec = self.tests[test_id]
            rows = self.plan.rows(test_id)
            if rows:
                done = {r.row_index for r in self.results.values() if r.test_id == test_id}
                for i in range(len(rows)):
                    if i not in done:
                        await self._record(self.cases.skipped(spec, category, message, row=i))
            else:
                await self._record(self.cases.skipped(spec, category, message))

    async def _record(self, result: TestResult) -> None:
        self.results[result.key] = result
        await self.store.record_result(result)
        self._emit(RunEvent("test_finished", key=result.key, result=result))

    # ---------------------------------------------------------------- tests

    async def _run_test(self, test_id: str) -> bool | None:
        """Whether the test passed (every row of it); None when --bail cut it short."""
        spec = self.tests[test_id]
        if not spec.enabled:
            await self._record(self.cases.skipped(spec, None, "disabled"))
            return False
        rows = self.plan.rows(test_id)
        if rows is None:
            return await self._run_case(spec.id, None, None)
        if not rows:
            await self._record(self.cases.skipped(spec, None, "no data rows"))
            return False
        passed = True
        for i, row in enumerate(rows):
            if self.stopped:
                return None
            passed = await self._run_case(spec.id, row, i) and passed
        return passed

    async def _run_case(self, test_id: str, row: dict[str, Any] | None, index: int | None) -> bool:
        spec = self.tests[test_id]
        key = test_id if index is None else f"{test_id}[{index}]"
        await self.store.test_started(key)
        self._emit(RunEvent("test_started", key=key))
        result = await self.cases.run(spec, key=key, row=row, row_index=index)
        await self._record(result)
        passed = result.status is Status.PASSED
        if not passed and self.bail:
            self.stopped = True
        return passed
