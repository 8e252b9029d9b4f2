"""Reading a run's analysis (regressions, newly flaky tests, quarantined failures)."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from runner.db.connect import describe
from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.reporting.analytics.model import (
    FlakyDetection,
    QuarantinedFailure,
    Regression,
    RunAnalysis,
)

_log = logging.getLogger("runner.reporting.analytics")


async def load_run_analysis(conn: psycopg.AsyncConnection[Any], run_id: str) -> RunAnalysis:
    """The analysis the run-finish trigger stored for ``run_id``.

    Three SELECTs on ``conn`` as whatever identity its transaction has (row-level
    security applies: a non-member gets an empty analysis). Raises ``DatabaseError``.
    """
    params = {"run_id": run_id}
    try:
        regressions = await (await conn.execute(query("analysis_regressions"), params)).fetchall()
        flaky = await (await conn.execute(query("analysis_flaky"), params)).fetchall()
        quarantined = await (
            await conn.execute(query("analysis_quarantined_failures"), params)
        ).fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read the analysis of run {run_id}: {describe(exc)}") from None
    return RunAnalysis(
        run_id=str(run_id),
        regressions=tuple(
            Regression(
                test_case_id=r[0],
                test=r[1],
                name=r[2],
                environment_id=r[3],
                metric_date=r[4],
                p95_ms=r[5],
                baseline_p95_ms=r[6],
                baseline_days=r[7],
                baseline_runs=r[8],
                ratio=r[9],
                threshold=r[10],
                explanation=r[11],
            )
            for r in regressions
        ),
        flaky=tuple(
            FlakyDetection(
                id=r[0],
                test_case_id=r[1],
                test=r[2],
                name=r[3],
                environment_id=r[4],
                window_days=r[5],
                runs=r[6],
                failures=r[7],
                failure_rate=r[8],
                flips=r[9],
                flip_rate=r[10],
                recovered_on_retry=r[11],
                recovered_rate=r[12],
                reasons=tuple(r[13]),
                detected_at=r[14],
            )
            for r in flaky
        ),
        quarantined_failures=tuple(
            QuarantinedFailure(
                test_key=r[0],
                test=r[1],
                status=r[2],
                error_category=r[3],
                message=r[4],
                reason=r[5],
            )
            for r in quarantined
        ),
    )


async def analysis_for_store(store: Any, run_id: str | None) -> RunAnalysis | None:
    """The analysis of a run just recorded by ``store``, or None.

    None when nothing was stored (``NullStore``, ``--no-store``), when the store has
    no direct connection, or when reading fails (logged as a warning: the run itself
    is recorded and its outcome stands). Reads as the store's identity.
    """
    from runner.store.postgres import PostgresStore

    if run_id is None or not isinstance(store, PostgresStore):
        return None
    from runner.db.identity import apply_identity

    try:
        conn = store.conn
        async with conn.transaction():
            await apply_identity(conn, store.identity)
            return await load_run_analysis(conn, run_id)
    except (DatabaseError, psycopg.Error) as exc:
        _log.warning("could not read the analysis of run %s: %s", run_id, exc)
        return None
