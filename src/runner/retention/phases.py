"""The seven things retention removes, in the order it removes them.

Each phase names the SQL files that find, fetch and delete its rows (the rule itself
is one SQL function per phase, in sql/migrations/0017_retention_functions.sql, and
for the last two -- suite versions no run uses, then test cases no version has --
in 0032_suite_versions.sql).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """One kind of expiring row; ``queries`` is the suffix of its sql/queries files."""

    name: str
    queries: str
    root_table: str
    description: str

    @property
    def candidates(self) -> str:
        """Query: the next chunk of expired ids."""
        return f"retention_candidates_{self.queries}"

    @property
    def fetch(self) -> str:
        """Query: the chunk's rows, as (table, JSON)."""
        return f"retention_fetch_{self.queries}"

    @property
    def delete(self) -> str:
        """Query: delete the chunk (re-checking the rule)."""
        return f"retention_delete_{self.queries}"


PHASES = (
    Phase("contexts", "contexts", "test_execution_context", "execution contexts"),
    Phase("results", "results", "test_results", "results (with their checks and attempts)"),
    Phase("runs", "runs", "test_runs", "runs (with anything still below them)"),
    Phase(
        "metrics_daily",
        "daily_metrics",
        "performance_metrics",
        "daily performance metrics (rolled up into months)",
    ),
    Phase("metrics_monthly", "monthly_metrics", "performance_metrics_monthly", "monthly metrics"),
    Phase("versions", "versions", "suite_versions", "suite versions neither current nor run"),
    Phase("cases", "cases", "test_cases", "test cases in no suite version, without results"),
)
BY_NAME = {p.name: p for p in PHASES}
