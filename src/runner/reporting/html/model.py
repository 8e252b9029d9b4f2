"""What a report shows, computed once from a run: the views every template reads.

A report is built from a ``RunResult`` (in memory after ``run-suite``, or read back
from the database by ``report RUN_ID``), the run's dependency edges and the
analytics of the run. Templates only read these views; they compute nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runner.models import Attempt, CheckResult, RunResult, Snapshot, Status, TestResult
from runner.reporting.analytics.model import RunAnalysis
from runner.reporting.html.charts import BarChart, bar_chart
from runner.reporting.html.graph import STATUS_COLOURS, GraphView, layout, statuses_by_test
from runner.secrets.redact import Redactor

Edge = tuple[str, str, str]
"""(dependency, test, type)."""


@dataclass(frozen=True)
class ReportData:
    """Everything a report is made from."""

    run: RunResult
    edges: tuple[Edge, ...] = ()
    analysis: RunAnalysis = field(default_factory=RunAnalysis.unavailable)
    project: str | None = None


@dataclass(frozen=True)
class CheckView:
    """One evaluated check, values shown as JSON."""

    name: str
    passed: bool
    expected: str
    actual: str
    message: str


@dataclass(frozen=True)
class AttemptView:
    """One try of the request."""

    number: int
    status_code: int | None
    category: str
    error: str
    elapsed_ms: float
    started_at: str


@dataclass(frozen=True)
class SnapshotView:
    """A stored (redacted, truncated) request or response."""

    method: str
    url: str
    status_code: int | None
    headers: tuple[tuple[str, str], ...]
    body: str
    truncated: bool


@dataclass(frozen=True)
class TestView:
    """One result as the report shows it."""

    __test__ = False  # not a pytest class

    key: str
    test_id: str
    name: str
    anchor: str
    status: str
    colour: str
    category: str
    message: str
    duration_ms: float | None
    status_code: int | None
    checks: tuple[CheckView, ...]
    attempts: tuple[AttemptView, ...]
    captured: str
    request: SnapshotView | None
    response: SnapshotView | None
    passed_after_retry: bool
    quarantined: bool

    @property
    def retried(self) -> bool:
        """More than one attempt was made."""
        return len(self.attempts) > 1


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


PRETTY_ALL_UP_TO = 1000
"""Runs with more results pretty-print the bodies of failed and errored tests only:
indenting JSON takes the pure-Python encoder, most of a 10,000-test report's time."""


def _pretty_body(body: str | None, pretty: bool = True) -> str:
    if not body or not pretty or body[:1] not in "{[":
        return body or ""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


# credential-named keys are redacted again here: stored data already is, and a report
# is the kind of file that gets attached to tickets
_NAMES_ONLY = Redactor()


def _snapshot(snap: Snapshot | None, pretty: bool = True) -> SnapshotView | None:
    if snap is None:
        return None
    headers = _NAMES_ONLY.headers(snap.headers.items())
    return SnapshotView(
        method=snap.method or "",
        url=snap.url or "",
        status_code=snap.status_code,
        headers=tuple(sorted(headers.items())),
        body=_pretty_body(snap.body, pretty),
        truncated=snap.truncated,
    )


def _check(check: CheckResult) -> CheckView:
    return CheckView(
        name=check.name,
        passed=check.passed,
        expected=_json(check.expected),
        actual=_json(check.actual),
        message=check.message,
    )


def attempt_view(attempt: Attempt) -> AttemptView:
    """An attempt with its elapsed time and its error (category and text)."""
    return AttemptView(
        number=attempt.number,
        status_code=attempt.status_code,
        category=attempt.error_category.value if attempt.error_category else "",
        error=attempt.error or "",
        elapsed_ms=attempt.duration_ms,
        started_at=attempt.started_at.isoformat(),
    )


def _anchor(key: str, used: set[str]) -> str:
    base = "t-" + re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")
    anchor, n = base, 1
    while anchor in used:
        n += 1
        anchor = f"{base}-{n}"
    used.add(anchor)
    return anchor


def result_view(
    result: TestResult, anchor: str, quarantined: bool = False, *, pretty: bool = True
) -> TestView:
    """The view of one result; ``pretty``: indent JSON bodies."""
    return TestView(
        key=result.key,
        test_id=result.test_id,
        name=result.name,
        anchor=anchor,
        status=result.status.value,
        colour=STATUS_COLOURS[result.status.value],
        category=result.error_category.value if result.error_category else "",
        message=result.message,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        checks=tuple(_check(c) for c in result.checks),
        attempts=tuple(attempt_view(a) for a in result.attempts),
        captured=(
            json.dumps(_NAMES_ONLY.value(result.captured), indent=2, ensure_ascii=False)
            if result.captured
            else ""
        ),
        request=_snapshot(result.request, pretty),
        response=_snapshot(result.response, pretty),
        passed_after_retry=result.passed_after_retry,
        quarantined=quarantined,
    )


def _duration_s(run: RunResult) -> float:
    return (run.finished_at - run.started_at).total_seconds()


def report_context(data: ReportData, *, now: datetime | None = None) -> dict[str, Any]:
    """The names every report template (built-in or stored) can use; see docs/reports.md."""
    run = data.run
    quarantined = set(data.analysis.quarantined)
    used: set[str] = set()
    few = len(run.results) <= PRETTY_ALL_UP_TO
    tests = [
        result_view(
            r,
            _anchor(r.key, used),
            r.key in quarantined or r.test_id in quarantined,
            pretty=few or r.status in (Status.FAILED, Status.ERROR),
        )
        for r in run.results
    ]
    statuses = statuses_by_test([(r.test_id, r.status) for r in run.results])
    details: dict[str, str] = {}
    for t in tests:
        detail = t.status if not t.message else f"{t.status}: {t.message}"
        details.setdefault(t.test_id, detail[:200])
    graph: GraphView = layout(statuses, data.edges, details=details)
    timed = [(t.key, t.duration_ms, t.colour) for t in tests if t.duration_ms is not None]
    chart = bar_chart("Response time per test (last attempt)", timed)
    regression_chart: BarChart | None = None
    if data.analysis.regressions:
        rows: list[tuple[str, float, str]] = []
        for reg in data.analysis.regressions:
            rows.append((f"{reg.test} baseline", reg.baseline_p95_ms, "#90a4ae"))
            rows.append((f"{reg.test} today", reg.p95_ms, STATUS_COLOURS["failed"]))
        regression_chart = bar_chart("p95 today against the baseline", rows)
    counts = run.counts
    return {
        "run": {
            "id": run.run_id,
            "suite": run.suite,
            "environment": run.environment,
            "project": data.project,
            "status": run.status.value,
            "ok": run.ok,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat(),
            "duration_s": round(_duration_s(run), 3),
            "counts": counts,
        },
        "tests": tests,
        "failures": [t for t in tests if t.status in (Status.FAILED, Status.ERROR)],
        "retried": [t for t in tests if t.retried],
        "slowest": sorted(
            (t for t in tests if t.duration_ms is not None),
            key=lambda t: t.duration_ms or 0.0,
            reverse=True,
        )[:5],
        "graph": graph,
        "chart": chart,
        "regression_chart": regression_chart,
        "analysis": data.analysis,
        "regressions": data.analysis.regressions,
        "flaky": data.analysis.flaky,
        "quarantined": sorted(quarantined),
        "colours": dict(STATUS_COLOURS),
        "generated_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
    }
