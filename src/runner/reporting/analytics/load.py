"""Reading a run's analysis (regressions, newly flaky tests, quarantined failures).

One SQL function, ``public.run_analysis``, answers for both stores (a direct select
or an RPC); ``analysis_from_json`` turns its answer into the typed model.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import psycopg

from runner.db.connect import describe
from runner.db.sqlfiles import query
from runner.errors import CapabilityError, DatabaseError
from runner.reporting.analytics.model import (
    FlakyDetection,
    QuarantinedFailure,
    Regression,
    RunAnalysis,
)
from runner.store.base import Store

_log = logging.getLogger("runner.reporting.analytics")


async def load_run_analysis(conn: psycopg.AsyncConnection[Any], run_id: str) -> RunAnalysis:
    """The analysis the run-finish trigger stored for ``run_id``.

    Read on ``conn`` as whatever identity its transaction has (row-level security
    applies: a non-member gets an empty analysis). Raises ``DatabaseError``.
    """
    try:
        cur = await conn.execute(query("run_analysis"), (run_id,))
        row = await cur.fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read the analysis of run {run_id}: {describe(exc)}") from None
    return analysis_from_json(run_id, row[0] if row else None)


def analysis_from_json(run_id: str, data: dict[str, Any] | None) -> RunAnalysis:
    """``public.run_analysis``'s answer as a ``RunAnalysis``."""
    data = data or {}
    regressions = data.get("regressions") or []
    flaky = data.get("flaky") or []
    quarantined = data.get("quarantined_failures") or []
    return RunAnalysis(
        run_id=str(run_id),
        regressions=tuple(
            Regression(
                test_case_id=r["test_case_id"],
                test=r["test"],
                name=r["name"],
                environment_id=r["environment_id"],
                metric_date=date.fromisoformat(r["metric_date"]),
                p95_ms=float(r["p95_ms"]),
                baseline_p95_ms=float(r["baseline_p95_ms"]),
                baseline_days=r["baseline_days"],
                baseline_runs=r["baseline_runs"],
                ratio=float(r["ratio"]),
                threshold=float(r["threshold"]),
                explanation=r["explanation"],
            )
            for r in regressions
        ),
        flaky=tuple(
            FlakyDetection(
                id=r["id"],
                test_case_id=r["test_case_id"],
                test=r["test"],
                name=r["name"],
                environment_id=r["environment_id"],
                window_days=r["window_days"],
                runs=r["runs"],
                failures=r["failures"],
                failure_rate=float(r["failure_rate"]),
                flips=r["flips"],
                flip_rate=None if r["flip_rate"] is None else float(r["flip_rate"]),
                recovered_on_retry=r["recovered_on_retry"],
                recovered_rate=float(r["recovered_rate"]),
                reasons=tuple(r["reasons"]),
                detected_at=datetime.fromisoformat(r["detected_at"]),
            )
            for r in flaky
        ),
        quarantined_failures=tuple(
            QuarantinedFailure(
                test_key=r["test_key"],
                test=r["test"],
                status=r["status"],
                error_category=r["error_category"],
                message=r["message"],
                reason=r["reason"],
            )
            for r in quarantined
        ),
    )


async def analysis_for_store(store: Store | None, run_id: str | None) -> RunAnalysis | None:
    """The analysis of a run just recorded by ``store``, or None.

    None when nothing was stored (no run id), or when reading fails (logged as a
    warning: the run itself is recorded and its outcome stands). Reads as the
    store's identity, through ``Store.run_analysis`` on either store.
    """
    if run_id is None or store is None:
        return None
    try:
        return analysis_from_json(run_id, await store.run_analysis(run_id))
    except (DatabaseError, CapabilityError, ValueError, KeyError, TypeError) as exc:
        _log.warning("could not read the analysis of run %s: %s", run_id, exc)
        return None
