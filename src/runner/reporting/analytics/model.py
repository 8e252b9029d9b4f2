"""What the database found about a run: typed, frozen, stable for reports and webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Regression:
    """A test whose p95 on ``metric_date`` exceeds its baseline by more than ``threshold``."""

    test_case_id: str
    test: str
    """The test id (stable id) in the suite."""
    name: str
    environment_id: str | None
    metric_date: date
    p95_ms: float
    baseline_p95_ms: float
    """Mean of the daily p95 of the ``baseline_days`` before, weighted by each day's runs."""
    baseline_days: int
    baseline_runs: int
    ratio: float
    """``p95_ms / baseline_p95_ms``."""
    threshold: float
    """0.20 means flagged above 120 % of the baseline."""
    explanation: str

    @property
    def percent_above(self) -> float:
        """How far above the baseline, in percent (``ratio`` 1.25 -> 25.0)."""
        return (self.ratio - 1.0) * 100.0


@dataclass(frozen=True, slots=True)
class FlakyDetection:
    """A test that the run's finish found newly flaky, with the window's figures."""

    id: str
    test_case_id: str
    test: str
    name: str
    environment_id: str | None
    window_days: int
    runs: int
    failures: int
    failure_rate: float
    flips: int
    flip_rate: float | None
    """``flips / (runs - 1)``; None with a single run."""
    recovered_on_retry: int
    recovered_rate: float
    reasons: tuple[str, ...]
    """Thresholds exceeded: ``failure_rate``, ``flip_rate``, ``recovered_rate``."""
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class QuarantinedFailure:
    """A failed or errored result of a test quarantined when the run started."""

    test_key: str
    test: str
    status: str
    error_category: str | None
    message: str
    reason: str | None
    """The quarantine's reason; None if it has been lifted since."""


@dataclass(frozen=True, slots=True)
class RunAnalysis:
    """Everything ``load_run_analysis`` knows about one run."""

    run_id: str
    regressions: tuple[Regression, ...] = ()
    flaky: tuple[FlakyDetection, ...] = ()
    quarantined_failures: tuple[QuarantinedFailure, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to report."""
        return not (self.regressions or self.flaky or self.quarantined_failures)
