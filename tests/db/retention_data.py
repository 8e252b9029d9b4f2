"""Synthetic history for the retention tests: runs, results, contexts and metrics of any age.

Written as the superuser, straight into the tables (the rules under test are about
ages, which the run functions would stamp with now()).
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg

from runner.retention import ArchiveStore, Hooks, RetentionReport, apply

TABLES = (
    "test_runs",
    "test_execution_context",
    "test_results",
    "test_result_details",
    "performance_metrics",
    "performance_metrics_monthly",
)


def add_run(
    cur: psycopg.Cursor[Any],
    project: uuid.UUID,
    *,
    days_ago: float = 1,
    pinned: bool = False,
    status: str = "passed",
    suite: uuid.UUID | None = None,
) -> uuid.UUID:
    """A finished run started ``days_ago`` days ago."""
    cur.execute(
        "insert into test_runs (project_id, suite_id, status, started_at, pinned) "
        "values (%s, %s, %s, now() - make_interval(secs => %s * 86400), %s) returning id",
        (project, suite, status, days_ago, pinned),
    )
    row = cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def add_result(
    cur: psycopg.Cursor[Any],
    run: uuid.UUID,
    key: str,
    *,
    status: str = "passed",
    days_ago: float = 1,
    details: int = 2,
) -> uuid.UUID:
    """A result recorded ``days_ago`` days ago with one check and ``details - 1`` attempts."""
    category = None if status in ("passed", "skipped") else "assertion"
    cur.execute(
        "insert into test_results (run_id, test_key, name, status, error_category, message, "
        "created_at, started_at, finished_at, response_time_ms, status_code, request_snapshot, "
        "captured) values (%s, %s, %s, %s, %s, %s, now() - make_interval(secs => %s * 86400), "
        "now() - make_interval(secs => %s * 86400), now() - make_interval(secs => %s * 86400), "
        "%s, 200, %s, %s) returning id",
        (
            run,
            key,
            key.title(),
            status,
            category,
            "" if category is None else f"{key} broke",
            days_ago,
            days_ago,
            days_ago,
            12.5 + len(key) / 7,
            json.dumps({"method": "GET", "url": f"/{key}", "headers": {"x": ["1", "2"]}}),
            json.dumps({"id": 7, "nested": {"ok": True, "n": 1.25}}),
        ),
    )
    row = cur.fetchone()
    assert row is not None
    result: uuid.UUID = row[0]
    if details >= 1:
        cur.execute(
            "insert into test_result_details (result_id, kind, ordinal, name, passed, expected, "
            "actual) values (%s, 'assertion', 1, 'status', %s, '200', '200')",
            (result, status == "passed"),
        )
    for n in range(1, details):
        cur.execute(
            "insert into test_result_details (result_id, kind, ordinal, started_at, duration_ms, "
            "status_code) values (%s, 'attempt', %s, now() - make_interval(secs => %s * 86400), "
            "%s, 200)",
            (result, n, days_ago, 10.0 + n),
        )
    return result


def add_context(
    cur: psycopg.Cursor[Any], run: uuid.UUID, *, hours_ago: float, ttl_hours: float = 24
) -> uuid.UUID:
    """An execution context created ``hours_ago`` hours ago, expiring ``ttl_hours`` later."""
    cur.execute(
        "insert into test_execution_context (run_id, captured_data, shared_auth_tokens, "
        "created_at, expires_at) values (%s, '{\"login\": {\"user_id\": 7}}', '{}', "
        "now() - make_interval(secs => %s * 3600), "
        "now() - make_interval(secs => %s * 3600) + make_interval(secs => %s * 3600)) "
        "returning id",
        (run, hours_ago, hours_ago, ttl_hours),
    )
    row = cur.fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def ids(url: str, table: str) -> set[uuid.UUID]:
    """Every id in ``table``."""
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(f"select id from public.{table}").fetchall()}  # noqa: S608


def snapshot(url: str, tables: tuple[str, ...] = TABLES) -> dict[str, dict[str, Any]]:
    """Every row of ``tables`` as JSON, by table and id: for exact comparisons."""
    out: dict[str, dict[str, Any]] = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            rows = conn.execute(f"select id::text, to_jsonb(t) from public.{table} as t").fetchall()  # noqa: S608
            out[table] = dict(rows)
    return out


def archived_rows(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row in every archived file under ``root``, by table."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(root.rglob("*.jsonl.gz")):
        table = path.name.removesuffix(".jsonl.gz")
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            out.setdefault(table, []).append(json.loads(line))
    return out


def files(root: Path, pattern: str = "*") -> list[Path]:
    """Files under ``root`` matching ``pattern`` (sorted)."""
    return sorted(p for p in root.rglob(pattern) if p.is_file())


def journal(url: str) -> list[tuple[str, str, int]]:
    """(phase, state, number of ids) of every journalled chunk, in order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select phase, state, cardinality(ids) from private.retention_journal "
            "order by created_at, seq"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit async connection, as the CLI opens it."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


async def run_retention(
    url: str,
    archive: ArchiveStore,
    *,
    chunk_size: int = 1000,
    hooks: Hooks | None = None,
    projects: list[uuid.UUID] | None = None,
) -> RetentionReport:
    """Apply retention now, as the CLI does."""
    from datetime import UTC, datetime

    async with connection(url) as conn:
        return await apply(
            conn,
            archive,
            as_of=datetime.now(UTC),
            projects=projects,
            chunk_size=chunk_size,
            hooks=hooks,
        )
