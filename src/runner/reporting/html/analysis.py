"""What the analytics say about one run, in the shape reports and webhooks use.

``runner.reporting.analytics.load_run_analysis(conn, run_id)`` is the source (regressions,
flaky detections, quarantined failures). This module adapts its result into small
frozen views, so a report or a webhook payload keeps its documented shape when the
analytics grow fields, and a run read without analytics (not stored, or a database
that cannot give them) still gets a report, with ``available`` False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.reporting.analytics import RunAnalysis, load_run_analysis


@dataclass(frozen=True)
class RegressionView:
    """A test whose p95 today is above its baseline by more than the threshold."""

    test: str
    p95_ms: float
    baseline_p95_ms: float
    ratio: float
    threshold: float
    environment: str | None = None
    explanation: str = ""

    @property
    def percent_above(self) -> float:
        """How far above the baseline, in percent (``ratio`` 1.25 is 25 %)."""
        return (self.ratio - 1.0) * 100.0


@dataclass(frozen=True)
class FlakyView:
    """A test the analytics found flaky over their window."""

    test: str
    runs: int | None = None
    failure_rate: float | None = None
    flip_rate: float | None = None
    recovered_rate: float | None = None
    reason: str = ""
    environment: str | None = None


@dataclass(frozen=True)
class AnalysisView:
    """Regressions, flaky tests and quarantined failures of one run."""

    regressions: tuple[RegressionView, ...] = ()
    flaky: tuple[FlakyView, ...] = ()
    quarantined: tuple[str, ...] = ()
    available: bool = True
    """False when the database has no analytics (nothing could be said)."""

    @classmethod
    def unavailable(cls) -> AnalysisView:
        """No analytics to show."""
        return cls(available=False)


def adapt(analysis: RunAnalysis, environment: str | None = None) -> AnalysisView:
    """An ``AnalysisView`` of ``load_run_analysis``'s result.

    ``environment`` is the run's: regressions and flaky tests are computed within the
    run's environment.
    """
    return AnalysisView(
        regressions=tuple(
            RegressionView(
                test=r.test,
                p95_ms=r.p95_ms,
                baseline_p95_ms=r.baseline_p95_ms,
                ratio=r.ratio,
                threshold=r.threshold,
                environment=environment,
                explanation=r.explanation,
            )
            for r in analysis.regressions
        ),
        flaky=tuple(
            FlakyView(
                test=f.test,
                runs=f.runs,
                failure_rate=f.failure_rate,
                flip_rate=f.flip_rate,
                recovered_rate=f.recovered_rate,
                reason=", ".join(f.reasons),
                environment=environment,
            )
            for f in analysis.flaky
        ),
        quarantined=tuple(q.test_key for q in analysis.quarantined_failures),
    )


async def load_analysis(conn: Any, run_id: str, environment: str | None = None) -> AnalysisView:
    """The analytics of ``run_id`` read on ``conn`` (in the caller's transaction)."""
    return adapt(await load_run_analysis(conn, run_id), environment)
