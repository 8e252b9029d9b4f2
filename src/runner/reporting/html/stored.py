"""Reading a stored run back for a report, as the configured identity (RLS applies).

The run, its results with their checks and attempts, the suite's dependency edges
and the analytics of the run; a user who may not read the edges (a guest) still
gets a report, without them. Snapshots were redacted before they were stored.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import psycopg

from runner.db.connect import describe
from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.models import (
    Attempt,
    CheckResult,
    ErrorCategory,
    RunResult,
    RunStatus,
    Snapshot,
    Status,
    TestResult,
)
from runner.reporting.analytics.load import load_run_analysis
from runner.reporting.analytics.model import RunAnalysis
from runner.reporting.html.model import ReportData
from runner.reporting.html.render import ReportError


@dataclass(frozen=True)
class StoredTemplate:
    """A report template of an organisation."""

    name: str
    format: str
    source: str


@dataclass(frozen=True)
class StoredRun:
    """A stored run's report data, and where it belongs (to find its templates)."""

    data: ReportData
    organization_id: str
    project_id: str


def run_uuid(text: str) -> str:
    """``text`` as a run id, or a ``ReportError`` saying it is not one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ReportError(f"{text!r} is not a run id (a UUID)") from None


def _snapshot(value: Any) -> Snapshot | None:
    if not isinstance(value, dict):
        return None
    known = {k: v for k, v in value.items() if k in Snapshot.model_fields}
    return Snapshot.model_validate(known)


def _category(value: str | None) -> ErrorCategory | None:
    return ErrorCategory(value) if value else None


def _result(row: tuple[Any, ...], details: list[tuple[Any, ...]]) -> TestResult:
    (
        _id,
        key,
        name,
        row_index,
        status,
        category,
        message,
        started_at,
        finished_at,
        response_ms,
        status_code,
        after_retry,
        request,
        response,
        captured,
    ) = row
    checks = []
    attempts = []
    for d in details:
        kind, ordinal, dname, passed, expected, actual, dmessage = d[1:8]
        d_started, d_ms, d_code, d_category, d_error = d[8:13]
        if kind == "assertion":
            checks.append(
                CheckResult(
                    name=dname,
                    passed=passed,
                    expected=expected,
                    actual=actual,
                    message=dmessage or "",
                )
            )
        else:
            attempts.append(
                Attempt(
                    number=ordinal,
                    started_at=d_started,
                    duration_ms=d_ms,
                    status_code=d_code,
                    error_category=_category(d_category),
                    error=d_error,
                )
            )
    return TestResult(
        test_id=key.split("[", 1)[0],
        key=key,
        name=name,
        row_index=row_index,
        status=Status(status),
        error_category=_category(category),
        message=message or "",
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=response_ms,
        status_code=status_code,
        checks=tuple(checks),
        attempts=tuple(attempts),
        captured=captured or {},
        request=_snapshot(request),
        response=_snapshot(response),
        passed_after_retry=after_retry,
    )


async def load_stored_run(
    conn: psycopg.AsyncConnection[Any], run_id: str, identity: Identity
) -> StoredRun:
    """The report data of ``run_id``; ``ReportError`` when there is no such run (or
    the identity may not see it)."""
    run_id = run_uuid(run_id)
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            cur = await conn.execute(query("report_run"), {"run_id": run_id})
            head = await cur.fetchone()
            if head is None:
                raise ReportError(f"no run {run_id} (or not visible to this user)")
            cur = await conn.execute(query("report_results"), {"run_id": run_id})
            rows = await cur.fetchall()
            cur = await conn.execute(query("report_details"), {"run_id": run_id})
            by_result: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
            for d in await cur.fetchall():
                by_result[d[0]].append(d)
            edges: list[tuple[str, str, str]] = []
            if head[4] is not None:
                cur = await conn.execute(query("report_edges"), {"suite_id": head[4]})
                edges = [(str(a), str(b), str(t)) for a, b, t in await cur.fetchall()]
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read run {run_id}: {describe(exc)}") from None
    _, org_id, project_id, project_name, _, suite, environment, status, started, finished = head
    analysis = await analysis_of_run(conn, run_id, identity, environment)
    run = RunResult(
        run_id=run_id,
        suite=suite,
        environment=environment,
        status=RunStatus(status),
        started_at=started,
        finished_at=finished,
        results=tuple(_result(r, by_result.get(r[0], [])) for r in rows),
    )
    data = ReportData(run=run, edges=tuple(edges), analysis=analysis, project=project_name)
    return StoredRun(data=data, organization_id=org_id, project_id=project_id)


async def analysis_of_run(
    conn: psycopg.AsyncConnection[Any],
    run_id: str,
    identity: Identity,
    environment: str | None = None,
) -> RunAnalysis:
    """The run's analytics; unavailable when the database cannot give them."""
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            return (await load_run_analysis(conn, run_id)).in_environment(environment)
    except (psycopg.Error, DatabaseError):
        # e.g. a database without the analytics migrations: the report says so
        return RunAnalysis.unavailable(run_id)


async def load_template(
    conn: psycopg.AsyncConnection[Any], stored: StoredRun, name: str, identity: Identity
) -> StoredTemplate:
    """The organisation's template ``name`` (the project's own first)."""
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            cur = await conn.execute(
                query("report_template"),
                {
                    "organization_id": stored.organization_id,
                    "project_id": stored.project_id,
                    "name": name,
                },
            )
            row = await cur.fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read report template {name!r}: {describe(exc)}") from None
    if row is None:
        raise ReportError(f"no report template {name!r} in the run's organisation")
    return StoredTemplate(name=row[0], format=row[1], source=row[2])
