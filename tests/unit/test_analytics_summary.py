"""Quarantine in a run's result and summary, and the analysis block printed after it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from runner.models import ErrorCategory, RunResult, RunStatus, Status, TestResult
from runner.reporting.analytics import (
    FlakyDetection,
    QuarantinedFailure,
    Regression,
    RunAnalysis,
    analysis_lines,
    print_analysis,
)
from runner.reporting.files import counts_line, summary_text

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _result(key: str, status: Status) -> TestResult:
    bad = status in (Status.FAILED, Status.ERROR)
    return TestResult.model_validate(
        {
            "test_id": key.split("[")[0],
            "key": key,
            "name": key,
            "status": status,
            "error_category": ErrorCategory.ASSERTION if bad else None,
            "message": "boom" if bad else "",
        }
    )


def _run(quarantined: tuple[str, ...]) -> RunResult:
    return RunResult(
        run_id="r1",
        suite="shop",
        environment=None,
        status=RunStatus.PASSED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        results=(
            _result("login", Status.PASSED),
            _result("cart[0]", Status.FAILED),
            _result("cart[1]", Status.PASSED),
        ),
        quarantined=quarantined,
    )


def test_quarantined_failures_do_not_make_a_run_not_ok() -> None:
    """A failing data row of a quarantined test leaves ok True; unquarantined it is False."""
    assert _run(("cart",)).ok
    assert [r.key for r in _run(("cart",)).quarantined_failures] == ["cart[0]"]
    assert not _run(()).ok
    assert not _run(("login",)).ok


def test_the_summary_line_counts_quarantined_failures() -> None:
    """The counts line gains ', 1 quarantined' only when a quarantined test failed."""
    quarantined = "2 passed, 1 failed, 0 errors, 0 skipped, 3 total, 1 quarantined"
    assert counts_line(_run(("cart",))) == quarantined
    assert counts_line(_run(())) == "2 passed, 1 failed, 0 errors, 0 skipped, 3 total"
    assert "  FAILED cart[0] (quarantined) [assertion]: boom" in summary_text(_run(("cart",)))


def test_analysis_block() -> None:
    """Regressions, newly flaky tests and quarantined failures, one line each."""
    analysis = RunAnalysis(
        run_id="r1",
        regressions=(
            Regression(
                test_case_id="c1",
                test="login",
                name="Login",
                environment_id=None,
                metric_date=date(2025, 3, 8),
                p95_ms=130.0,
                baseline_p95_ms=100.0,
                baseline_days=7,
                baseline_runs=21,
                ratio=1.3,
                threshold=0.2,
                explanation="...",
            ),
        ),
        flaky=(
            FlakyDetection(
                id="d1",
                test_case_id="c2",
                test="cart",
                name="Cart",
                environment_id=None,
                window_days=7,
                runs=4,
                failures=1,
                failure_rate=0.25,
                flips=2,
                flip_rate=2 / 3,
                recovered_on_retry=0,
                recovered_rate=0.0,
                reasons=("failure_rate", "flip_rate"),
                detected_at=T0,
            ),
        ),
        quarantined_failures=(
            QuarantinedFailure("cart[0]", "cart", "failed", "assertion", "boom", "BUG-7"),
        ),
    )
    assert analysis_lines(analysis) == [
        "regressions against the baseline:",
        "  login  p95 130.0 ms vs 100.0 ms (+30.0 %, 2025-03-08; baseline 7 days, 21 results)",
        "newly flaky:",
        "  cart: 1/4 runs failed (25%), flip rate 67%, recovered on retry 0% over 7 days",
        "quarantined (not failing the run):",
        "  FAILED cart[0] — BUG-7",
    ]
    stream = io.StringIO()
    print_analysis(RunAnalysis(run_id="r2"), stream)
    print_analysis(None, stream)
    assert stream.getvalue() == ""
