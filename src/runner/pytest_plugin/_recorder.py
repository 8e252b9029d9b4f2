"""The recorder: a pytest session recorded through the same ``Store`` as ``run-suite``.

``open_store(Settings())`` opens the store the settings describe (migrating the
database and acting as ``RUNNER_DATABASE_ROLE``), ``start_run`` gets a suite made
of the collected items, each test is announced (``test_started``) and recorded
(``record_result``) when it ends, and ``finish_run`` writes the rest and closes the
run. The store queues and writes in batches, redacts, and its writes fire the
Realtime events, exactly as for a suite run.

Every store call runs on the recorder's own loop (``BackgroundLoop``); hooks only
hand work over. Nothing here raises into pytest: the first failure is kept and
reported once, in the terminal summary.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine, Generator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pydantic import ValidationError

from runner.models import ErrorCategory, RunStatus, Status, TestResult
from runner.pytest_plugin._loop import BackgroundLoop
from runner.pytest_plugin._results import (
    Phase,
    build_result,
    category_of,
    not_run,
    stable_ids,
    suite_of,
    tags_of,
)
from runner.secrets.redact import Redactor

if TYPE_CHECKING:
    from runner.settings import Settings
    from runner.store.base import RunInfo, Store

T = TypeVar("T")

WAIT_S = 120.0
"""Longest the session waits for the store: to open and start the run, or to finish it."""

EXIT_RESULTS_LOST = 3
"""Exit status of a session whose tests passed but whose results were not all recorded
(the CLI's exit status for a database problem, and pytest's for an internal error)."""


def _describe(exc: BaseException) -> str:
    from runner.db.connect import hide_password
    from runner.errors import RunnerError

    text = str(exc) if isinstance(exc, RunnerError) else f"{type(exc).__name__}: {exc}"
    lines = text.strip().splitlines()
    return hide_password(lines[0] if lines else type(exc).__name__)


class Recorder:
    """The plugin object registered by ``--runner-record`` (as ``runner-recorder``)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.suite_name = str(config.getoption("runner_suite") or "pytest")
        self.settings: Settings | None = None
        self.loop: BackgroundLoop | None = None
        self.store: Store | None = None
        self.run_id: str | None = None
        self.started: concurrent.futures.Future[str | None] | None = None
        self.order: list[str] = []
        self.ids: dict[str, str] = {}
        self.tags: dict[str, tuple[str, ...]] = {}
        self.redactor = Redactor()
        """Tokens and secret captures tests publish: hidden from the results' messages."""
        self._exit = AsyncExitStack()
        self._categories: dict[tuple[str, str], ErrorCategory | None] = {}
        self._phases: dict[str, list[Phase]] = {}
        self._begun: dict[str, datetime] = {}
        self._results: dict[str, TestResult] = {}
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._problems = 0
        self._accepted = 0
        self._finished = False
        self._lost = 0
        self._session_started = datetime.now(UTC)

    # ------------------------------------------------------------- failures

    def fail(self, what: str, exc: BaseException) -> None:
        """Remember a recording failure (the first one is reported at the end).

        The runner's own errors say what failed (``cannot connect to ...``); anything
        else is prefixed with ``what`` was being done.
        """
        from runner.errors import RunnerError

        text = _describe(exc) if isinstance(exc, RunnerError) else f"{what}: {_describe(exc)}"
        with self._lock:
            self._problems += 1
            if self._problem is None:
                self._problem = text

    @property
    def problem(self) -> str | None:
        """The first recording failure, if any."""
        return self._problem

    @contextlib.contextmanager
    def _guard(self, hook: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self.fail(f"internal error in {hook}", exc)

    def submit(self, make: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Hand ``make()`` to the recorder's loop (after everything handed before)."""
        if self.loop is None:
            raise RuntimeError("the recorder's loop is not running")
        return self.loop.submit(make)

    # ------------------------------------------------------ store calls (loop)

    async def _open(self, settings: Settings) -> None:
        from runner.store.factory import open_store

        try:
            self.store = await self._exit.enter_async_context(open_store(settings))
        except Exception as exc:
            self.fail("cannot open the store", exc)

    async def _start(self, info: RunInfo) -> str | None:
        if self.store is None:
            return None
        try:
            self.run_id = await self.store.start_run(info)
        except Exception as exc:
            self.fail("cannot start the run", exc)
        return self.run_id

    async def _test_started(self, key: str) -> None:
        if self.store is not None and self.run_id is not None:
            try:
                await self.store.test_started(key)
            except Exception as exc:
                self.fail("cannot record a test start", exc)

    async def _record(self, result: TestResult) -> None:
        if self.store is None or self.run_id is None:
            return
        try:
            await self.store.record_result(result)
        except Exception as exc:
            self.fail(f"cannot record {result.key}", exc)
            return
        with self._lock:
            self._accepted += 1

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        """What a test published through ``runner_context.publish`` (on the loop)."""
        if self.store is None or self.run_id is None:
            return
        try:
            await self.store.context_changed(test_id, captured, tokens, variables, secret_keys)
        except Exception as exc:
            self.fail("cannot record the context", exc)

    async def _finish(self, exitstatus: int) -> None:
        from runner.store.base import quarantined_tests

        if self.store is not None and self.run_id is not None:
            status = run_status(
                exitstatus, list(self._results.values()), quarantined_tests(self.store)
            )
            try:
                await self.store.finish_run(status)
            except Exception as exc:
                self.fail(f"cannot finish run {self.run_id}", exc)
            else:
                missing = self.store.unrecorded()  # after an outage past RUNNER_DB_OUTAGE_S
                if missing:
                    with self._lock:
                        self._accepted -= missing.results
                    from runner.errors import DatabaseError

                    where = f"{missing.spill_file} until the database is back"
                    self.fail("", DatabaseError(f"writes of run {self.run_id} kept in {where}"))
                await self._notify(status)
        try:
            await self._exit.aclose()
        except Exception as exc:
            self.fail("cannot close the store", exc)

    async def _notify(self, status: RunStatus) -> None:
        """Webhooks, as ``run-suite`` sends them (``RUNNER_WEBHOOK_URL``); never raises."""
        if self.settings is None or not self.settings.webhook_urls:
            return
        from runner.models import RunResult
        from runner.reporting.webhooks import notify_run
        from runner.store.base import quarantined_tests

        assert self.store is not None
        run = RunResult(
            run_id=self.run_id,
            suite=self.suite_name,
            environment=None,
            status=status,
            started_at=self._session_started,
            finished_at=datetime.now(UTC),
            results=tuple(self._results.values()),
            quarantined=tuple(sorted(quarantined_tests(self.store))),
        )
        await notify_run(run, settings=self.settings, store=self.store)

    # ---------------------------------------------------------------- session

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        with self._guard("pytest_sessionstart"):
            from runner.errors import ConfigError
            from runner.settings import Settings

            if self.config.option.collectonly:
                return
            try:
                settings = Settings()
            except ValidationError as exc:
                wrong = exc.errors()[0]
                where = ".".join(str(part) for part in wrong["loc"])
                self.fail("settings", ConfigError(f"invalid setting {where}: {wrong['msg']}"))
                return
            project = self.config.getoption("runner_project") or settings.project or "pytest"
            self.settings = settings.model_copy(update={"project": project})
            self.loop = BackgroundLoop()
            opened = self.settings
            # migrating and connecting overlap collection
            self.submit(lambda: self._open(opened))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        with self._guard("pytest_collection_finish"):
            if self.loop is None or self.config.option.collectonly or not session.items:
                return
            from runner.store.base import RunInfo

            items = list({item.nodeid: item for item in session.items}.values())
            self.order = [item.nodeid for item in items]
            self.ids = stable_ids(self.order)
            self.tags = {item.nodeid: tags_of(item) for item in items}
            info = RunInfo(
                suite=suite_of(self.suite_name, items, self.ids),
                environment=None,
                order=tuple(self.ids[n] for n in self.order),
                trigger="pytest",
                metadata={"pytest": True, "pytest_version": pytest.__version__},
            )
            self.started = self.submit(lambda: self._start(info))

    def wait_for_run(self) -> str | None:
        """The run id once the run has started; None when it could not be."""
        if self.started is None:
            return None
        try:
            return self.started.result(WAIT_S)
        except Exception as exc:
            self.fail("the run did not start in time", exc)
            return None

    # ------------------------------------------------------------------ tests

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        with self._guard("pytest_runtest_logstart"):
            self._begun[nodeid] = datetime.now(UTC)
            self._phases[nodeid] = []
            if self.started is not None:
                key = nodeid[:500]
                self.submit(lambda: self._test_started(key))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        with self._guard("pytest_runtest_makereport"):
            self._categories[(item.nodeid, call.when)] = category_of(call.excinfo)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        with self._guard("pytest_runtest_logreport"):
            category = self._categories.pop((report.nodeid, report.when), None)
            self._phases.setdefault(report.nodeid, []).append(Phase(report, category))

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        with self._guard("pytest_runtest_logfinish"):
            now = datetime.now(UTC)
            if nodeid not in self.ids:  # not collected in this process
                self.ids[nodeid] = stable_ids([nodeid])[nodeid]
            result = build_result(
                nodeid,
                self.ids[nodeid],
                self._phases.pop(nodeid, []),
                started_at=self._begun.pop(nodeid, now),
                finished_at=now,
                tags=self.tags.get(nodeid, ("pytest",)),
                redactor=self.redactor,
            )
            self._hand_over(result)

    def _hand_over(self, result: TestResult) -> None:
        self._results[result.key] = result
        if self.started is not None:
            self.submit(lambda: self._record(result))

    # ------------------------------------------------------------------- end

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        with self._guard("pytest_sessionfinish"):
            self._finish_session(session, int(exitstatus))

    def _finish_session(self, session: pytest.Session, exitstatus: int) -> None:
        if self._finished:
            return
        self._finished = True
        if self.started is not None:
            interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
            category = ErrorCategory.INTERRUPTED if interrupted else ErrorCategory.BAILED
            why = "not run: interrupted" if interrupted else "not run: pytest stopped early"
            for nodeid in self.order:
                if nodeid[:500] not in self._results:
                    tags = self.tags.get(nodeid, ("pytest",))
                    self._hand_over(not_run(nodeid, self.ids[nodeid], category, why, tags))
        if self.loop is not None:
            done = self.submit(lambda: self._finish(exitstatus))
            try:
                done.result(WAIT_S)
            except Exception as exc:
                self.fail(f"the store did not finish within {WAIT_S:.0f} s", exc)
            self.loop.close()
        with self._lock:
            self._lost = len(self._results) - self._accepted
        if self._lost and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = EXIT_RESULTS_LOST

    def summary(self) -> str | None:
        """The one line the terminal summary shows (None when nothing was to be recorded)."""
        if self._problem is not None:
            others = self._problems - 1
            more = f" (and {others} more error{'s' if others > 1 else ''})" if others else ""
            lost = f"; {self._lost} result{'s' if self._lost > 1 else ''} not recorded"
            lost = lost if self._lost else ""
            known = self.run_id is None or self.run_id in self._problem
            run = "" if known else f" (run {self.run_id})"
            return f"runner: recording failed{run}: {self._problem}{more}{lost}"
        if self.run_id is not None:
            return f"runner: recorded run {self.run_id}"
        if self.loop is not None and self.started is None:
            return "runner: no tests to record, no run created"
        return None

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        with contextlib.suppress(Exception):
            line = self.summary()
            if line is not None:
                terminalreporter.write_line(line, red=self._problem is not None)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        with contextlib.suppress(Exception):
            if self.loop is not None:
                self.loop.close()


def run_status(
    exitstatus: int, results: list[TestResult], quarantined: frozenset[str]
) -> RunStatus:
    """How the run ends: as the engine decides it, with pytest's own verdict as a floor.

    Failures of quarantined tests do not fail the run; a session pytest failed
    without a failing test (a collection error) does.
    """
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return RunStatus.INTERRUPTED
    if exitstatus in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        return RunStatus.ERROR
    bad = [r for r in results if r.status in (Status.FAILED, Status.ERROR)]
    if any(r.test_id not in quarantined for r in bad):
        return RunStatus.FAILED
    if exitstatus == pytest.ExitCode.TESTS_FAILED and not bad:
        return RunStatus.FAILED
    return RunStatus.PASSED
