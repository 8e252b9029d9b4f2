"""Analytics of recorded runs: flaky tests, performance regressions, quarantine.

The database computes them when a run finishes (``sql/migrations/0014``); this
package reads them back for reports, webhooks and the run summary, and manages
quarantined tests. Definitions: ``docs/analytics.md``.
"""

from runner.reporting.analytics.load import analysis_for_store, load_run_analysis
from runner.reporting.analytics.model import (
    FlakyDetection,
    QuarantinedFailure,
    Regression,
    RunAnalysis,
)
from runner.reporting.analytics.summary import analysis_lines, print_analysis

__all__ = [
    "FlakyDetection",
    "QuarantinedFailure",
    "Regression",
    "RunAnalysis",
    "analysis_for_store",
    "analysis_lines",
    "load_run_analysis",
    "print_analysis",
]
