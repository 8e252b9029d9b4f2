"""What the database found about a run: the one analytics model.

Typed and frozen; the run summary, the HTML/Markdown reports and the webhook payloads
all read it. ``environment`` on an item is the run's environment name (regressions
and flaky tests are computed within it), set by :meth:`RunAnalysis.in_environment`.
A run read without analytics (not stored, or a database that cannot give them) gets
``RunAnalysis.unavailable()``, whose ``available`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    environment: str | None = None
    """The run's environment name (None when the run had none)."""

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
    environment: str | None = None
    """The run's environment name (None when the run had none)."""

    @property
    def reason(self) -> str:
        """The thresholds exceeded, as one line (``failure_rate, flip_rate``)."""
        return ", ".join(self.reasons)


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
    available: bool = True
    """False when the database has no analytics (nothing could be said)."""

    @classmethod
    def unavailable(cls, run_id: str = "") -> RunAnalysis:
        """No analytics to show."""
        return cls(run_id=run_id, available=False)

    @property
    def empty(self) -> bool:
        """Nothing to report."""
        return not (self.regressions or self.flaky or self.quarantined_failures)

    @property
    def quarantined(self) -> tuple[str, ...]:
        """Result keys of the quarantined failures."""
        return tuple(q.test_key for q in self.quarantined_failures)

    def in_environment(self, environment: str | None) -> RunAnalysis:
        """The same analysis with each regression and flaky test naming ``environment``."""
        return replace(
            self,
            regressions=tuple(replace(r, environment=environment) for r in self.regressions),
            flaky=tuple(replace(f, environment=environment) for f in self.flaky),
        )
