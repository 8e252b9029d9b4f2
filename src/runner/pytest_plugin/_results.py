"""What pytest knows, in the models the store records: a suite, and one result per test.

Test ids must be identifiers (``TEST_ID_PATTERN``) and stable from one session to
the next, so analytics can follow a test across runs: the node id with every run of
other characters replaced by ``_``, and a short hash of the node id when two node
ids would otherwise share an id or the id would be too long. Results keep the node
id as their key (``tests/test_api.py::test_login[admin]``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.models import (
    Attempt,
    CheckResult,
    ErrorCategory,
    RequestSpec,
    Status,
    Suite,
    TestResult,
    TestSpec,
)
from runner.secrets.redact import Redactor

MAX_ID = 200
"""``test_cases.stable_id`` holds at most 200 characters."""
MAX_KEY = 500
"""``test_results.test_key`` (and ``test_cases.name``) hold at most 500."""
MAX_MESSAGE = 2000

_NOT_ID = re.compile(r"[^A-Za-z0-9]+")
# markers every plugin uses to steer pytest itself: not worth a tag
_PLUMBING_MARKERS = frozenset({"parametrize", "usefixtures", "filterwarnings"})
_SUBTEST_REPORTS: tuple[type[pytest.TestReport], ...] = (
    (pytest.SubtestReport,) if hasattr(pytest, "SubtestReport") else ()  # pytest >= 9
)


def stable_ids(nodeids: Iterable[str]) -> dict[str, str]:
    """Node id -> test id, unique, ``TEST_ID_PATTERN``-valid and stable across sessions."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for nodeid in nodeids:
        base = _NOT_ID.sub("_", nodeid).strip("_") or "test"
        if not base[0].isalpha():
            base = f"t_{base}"
        test_id = base
        if test_id in taken or len(test_id) > MAX_ID:
            digest = hashlib.sha256(nodeid.encode()).hexdigest()[:10]
            test_id = f"{base[: MAX_ID - 11]}_{digest}"
        taken.add(test_id)
        ids[nodeid] = test_id
    return ids


def tags_of(item: pytest.Item) -> tuple[str, ...]:
    """``pytest`` plus the names of the item's markers (``smoke``, ``skip``, ...)."""
    names = {m.name for m in item.iter_markers()} - _PLUMBING_MARKERS
    return ("pytest", *sorted(names))


def suite_of(name: str, items: Sequence[pytest.Item], ids: dict[str, str]) -> Suite:
    """A suite with one test per collected item, so the run has its cases and order.

    The request of each test only names the pytest item (``pytest:<node id>``): the
    tests are Python functions, not HTTP requests the runner could send itself.
    """
    tests = []
    for item in items:
        path, line, _ = item.location
        tests.append(
            TestSpec(
                id=ids[item.nodeid],
                name=item.nodeid[:MAX_KEY],
                description=f"{path}:{(line or 0) + 1}",
                tags=tags_of(item),
                request=RequestSpec(url=f"pytest:{item.nodeid}"),
            )
        )
    return Suite(name=name, tests=tuple(tests))


def category_of(excinfo: pytest.ExceptionInfo[BaseException] | None) -> ErrorCategory | None:
    """Why a phase did not pass: a failed assertion, or an error of some kind.

    ``pytest.fail()`` counts as an assertion; a skip or xfail has no category.
    """
    if excinfo is None:
        return None
    if excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
        return None
    if excinfo.errisinstance((AssertionError, pytest.fail.Exception)):
        return ErrorCategory.ASSERTION
    if excinfo.errisinstance(TimeoutError):
        return ErrorCategory.TIMEOUT
    if excinfo.errisinstance(ConnectionError):
        return ErrorCategory.CONNECTION
    if excinfo.errisinstance(KeyboardInterrupt):
        return ErrorCategory.INTERRUPTED
    import httpx  # a dependency of the runner; tests of HTTP APIs often use it

    if excinfo.errisinstance(httpx.TimeoutException):
        return ErrorCategory.TIMEOUT
    if excinfo.errisinstance(httpx.TransportError):
        return ErrorCategory.CONNECTION
    return ErrorCategory.INTERNAL


@dataclass(frozen=True)
class Phase:
    """One report of a test (setup, call, teardown, a rerun or a subtest) and its category."""

    report: pytest.TestReport
    category: ErrorCategory | None


def message(report: pytest.TestReport, *, first_line: bool = True) -> str:
    """The skip reason (``Skipped: later``), or the failure (``AssertionError: boom``)."""
    if report.passed:
        return ""
    wasxfail = getattr(report, "wasxfail", None)
    if report.skipped and wasxfail is not None:
        return f"xfail: {wasxfail}" if wasxfail else "xfail"
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(crash.message) if crash is not None else str(report.longrepr or "")
    if first_line:
        text = text.splitlines()[0] if text else ""
    return text[:MAX_MESSAGE]


def _where(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is None:
        return ""
    return f" at {Path(str(crash.path)).name}:{crash.lineno}"


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@dataclass(frozen=True)
class Outcome:
    """How a test ended, before redaction."""

    status: Status
    category: ErrorCategory | None = None
    message: str = ""


def _outcome(main: list[Phase], checks: Sequence[CheckResult]) -> Outcome:
    setup = next((p for p in main if p.report.when == "setup"), None)
    call = next((p for p in reversed(main) if p.report.when == "call"), None)
    teardown = next((p for p in main if p.report.when == "teardown"), None)
    if setup is not None and setup.report.failed:
        return Outcome(
            Status.ERROR, setup.category or ErrorCategory.INTERNAL, message(setup.report)
        )
    if setup is not None and setup.report.skipped:
        return Outcome(Status.SKIPPED, message=message(setup.report))
    outcome = Outcome(Status.PASSED)
    if call is not None and call.report.skipped:
        outcome = Outcome(Status.SKIPPED, message=message(call.report))
    elif call is not None and call.report.failed:
        category = call.category or ErrorCategory.ASSERTION
        status = Status.FAILED if category is ErrorCategory.ASSERTION else Status.ERROR
        outcome = Outcome(status, category, message(call.report))
    elif any(not c.passed for c in checks):
        outcome = Outcome(Status.FAILED, ErrorCategory.ASSERTION, "a subtest failed")
    if outcome.status is Status.PASSED and teardown is not None and teardown.report.failed:
        category = teardown.category or ErrorCategory.INTERNAL
        return Outcome(Status.ERROR, category, f"teardown: {message(teardown.report)}")
    return outcome


def build_result(
    nodeid: str,
    test_id: str,
    phases: Sequence[Phase],
    *,
    started_at: datetime,
    finished_at: datetime,
    tags: tuple[str, ...],
    redactor: Redactor,
) -> TestResult:
    """One test's result from all its reports: status, message, checks and attempts.

    Each call (and each rerun of it, or a setup that failed) is an attempt; a failed
    assertion is a failed check (its full text, where it failed); subtests are checks.
    Messages and checks go through ``redactor``: tokens the tests published are hidden.
    """
    main = [p for p in phases if not isinstance(p.report, _SUBTEST_REPORTS)]
    checks = [
        CheckResult(
            name=f"subtest {p.report.head_line}".strip()[:MAX_KEY],
            passed=not p.report.failed,
            message=redactor.text(message(p.report, first_line=False)),
        )
        for p in phases
        if isinstance(p.report, _SUBTEST_REPORTS) and not p.report.skipped
    ]
    outcome = _outcome(main, checks)
    # every call is a try (pytest-rerunfailures reports each rerun as one), and so is
    # a setup that failed; a teardown never is
    tries = [
        p
        for p in main
        if p.report.when == "call" or (p.report.when, p.report.failed) == ("setup", True)
    ]
    attempts = tuple(
        Attempt(
            number=n,
            started_at=_at(p.report.start),
            duration_ms=p.report.duration * 1000,
            error_category=p.category,
            error=redactor.text(message(p.report)) or None,
        )
        for n, p in enumerate(tries, start=1)
    )
    failed_call = next(
        (p for p in reversed(main) if p.report.when == "call" and p.report.failed), None
    )
    # a failed assertion raised in the test (not pytest failing it for its subtests)
    if failed_call is not None and failed_call.category is ErrorCategory.ASSERTION:
        checks.append(
            CheckResult(
                name=f"assert{_where(failed_call.report)}",
                passed=False,
                message=redactor.text(message(failed_call.report, first_line=False)),
            )
        )
    last_call = next((p for p in reversed(main) if p.report.when == "call"), None)
    return TestResult(
        test_id=test_id,
        key=nodeid[:MAX_KEY],
        name=nodeid[:MAX_KEY],
        status=outcome.status,
        error_category=outcome.category,
        message=redactor.text(outcome.message),
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=last_call.report.duration * 1000 if last_call is not None else None,
        checks=tuple(checks),
        attempts=attempts,
        passed_after_retry=outcome.status is Status.PASSED and len(attempts) > 1,
        tags=tags,
    )


def not_run(
    nodeid: str, test_id: str, category: ErrorCategory, why: str, tags: tuple[str, ...]
) -> TestResult:
    """The result of a test pytest never ran (``-x``, ``--maxfail``, Ctrl-C)."""
    return TestResult(
        test_id=test_id,
        key=nodeid[:MAX_KEY],
        name=nodeid[:MAX_KEY],
        status=Status.SKIPPED,
        error_category=category,
        message=why,
        tags=tags,
    )
