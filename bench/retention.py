"""Retention on a million results: build the history in SQL, apply retention, report.

Builds, in a scratch database on a dedicated embedded PostgreSQL (untimed):
10,000 runs spread over the last 400 days (1 % pinned), 100 results per run
(1,000,000 test_results: 80 % passed, 15 % failed, 5 % error, ~300 bytes of
snapshots each) with one check each (1,000,000 test_result_details), 50 test cases
with a daily performance_metrics row for each of the 400 days (20,000 rows), and
contexts for the last day's runs. Rows are generated with generate_series, with
triggers off (session_replication_role = replica), so building costs seconds.

Then times, in this process: the dry run, `retention` itself (archive to a local
folder, then delete, in chunks of --chunk-size), and optionally `retention restore`
of everything archived. Prints wall time, rows per second, the peak RSS of this
process (the runner's side: getrusage ru_maxrss), and the database side: WAL
written, database size before and after, temp bytes spilled, archive size.

    .venv/bin/python bench/retention.py                 # 1,000,000 results
    .venv/bin/python bench/retention.py --runs 1000     # 100,000 results
    .venv/bin/python bench/retention.py --restore       # also time the restore

The server lives in RUNNER_BENCH_DIR (default /tmp/runner-bench-retention) on port
RUNNER_BENCH_RETENTION_PORT (default 54412) and is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from runner.db.connect import Target
from runner.db.embedded import EmbeddedServer
from runner.db.migrate import migrate
from runner.retention import LocalArchive, apply, plan, restore
from runner.retention.restore import locate_local

DB = "runner_bench_retention"

BUILD = """
set session_replication_role = replica;
insert into auth.users (id, email, aud, role) values
    ('00000000-0000-0000-0000-00000000b0b0', 'bench@example.test', 'authenticated',
     'authenticated');
insert into organizations (id, name, slug, created_by) values
    ('00000000-0000-0000-0000-0000000000a1', 'Bench', 'bench',
     '00000000-0000-0000-0000-00000000b0b0');
insert into projects (id, organization_id, name, slug) values
    ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', 'Bench',
     'bench');
insert into test_suites (id, organization_id, project_id, name, slug) values
    ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-0000000000a1',
     '00000000-0000-0000-0000-0000000000b1', 'Bench', 'bench');
insert into test_cases (id, organization_id, project_id, suite_id, stable_id, name)
select ('00000000-0000-0000-0001-' || lpad(to_hex(c), 12, '0'))::uuid,
       '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1',
       '00000000-0000-0000-0000-0000000000c1', 'case' || c, 'Case ' || c
  from generate_series(1, 50) as c;
insert into test_runs (id, organization_id, project_id, suite_id, status, started_at,
                       finished_at, duration_ms, pinned, total_tests, created_at)
select ('00000000-0000-0000-0002-' || lpad(to_hex(r), 12, '0'))::uuid,
       '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1',
       '00000000-0000-0000-0000-0000000000c1', 'passed',
       now() - make_interval(secs => r * 400.0 * 86400 / %(runs)s),
       now() - make_interval(secs => r * 400.0 * 86400 / %(runs)s) + interval '5 seconds',
       5000, r %% 100 = 0, %(per_run)s,
       now() - make_interval(secs => r * 400.0 * 86400 / %(runs)s)
  from generate_series(1, %(runs)s) as r;
insert into test_results (id, run_id, organization_id, project_id, test_case_id, test_key, name,
                          status, error_category, message, started_at, finished_at,
                          response_time_ms, status_code, attempt_count, request_snapshot,
                          response_snapshot, created_at)
select gen_random_uuid(), t.id, t.organization_id, t.project_id,
       ('00000000-0000-0000-0001-' || lpad(to_hex(k %% 50 + 1), 12, '0'))::uuid,
       'test' || k, 'Test ' || k,
       case when k %% 20 = 0 then 'error' when k %% 20 < 4 then 'failed' else 'passed' end,
       case when k %% 20 = 0 then 'timeout' when k %% 20 < 4 then 'assertion' end,
       case when k %% 20 < 4 then 'expected 200, got 500' else '' end,
       t.started_at, t.started_at + interval '30 ms', 10 + (k * 7919 %% 200), 200, 1,
       jsonb_build_object('method', 'GET', 'url', 'https://api.example.test/items/' || k,
                          'headers', jsonb_build_object('accept', 'application/json')),
       jsonb_build_object('status', 200, 'body', jsonb_build_object('id', k, 'name', 'item ' || k,
                          'tags', jsonb_build_array('a', 'b', 'c'))),
       t.started_at
  from test_runs as t cross join generate_series(1, %(per_run)s) as k;
insert into test_result_details (result_id, organization_id, kind, ordinal, name, passed,
                                 expected, actual, created_at)
select r.id, r.organization_id, 'assertion', 1, 'status', r.status = 'passed', '200',
       case when r.status = 'passed' then '200'::jsonb else '500'::jsonb end, r.created_at
  from test_results as r;
insert into performance_metrics (organization_id, project_id, test_case_id, metric_date,
       total_runs, successful_runs, avg_response_ms, p50_response_ms, p95_response_ms,
       p99_response_ms, min_response_ms, max_response_ms, success_rate)
select '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1', c.id,
       current_date - d, 25, 20, 100 + d %% 7, 95, 180 + d %% 11, 220, 10, 240, 0.8
  from test_cases as c cross join generate_series(0, 399) as d;
insert into test_execution_context (run_id, organization_id, project_id, created_at, expires_at)
select t.id, t.organization_id, t.project_id, t.started_at, t.started_at + interval '24 hours'
  from test_runs as t where t.started_at > now() - interval '2 days';
reset session_replication_role;
analyze;
"""


def _server() -> EmbeddedServer:
    root = Path(os.environ.get("RUNNER_BENCH_DIR", "/tmp/runner-bench-retention"))  # noqa: S108
    port = int(os.environ.get("RUNNER_BENCH_RETENTION_PORT", "54412"))
    server = EmbeddedServer(root / "data", port)
    server.start()
    return server


def _one(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return row[0]


def _db_stats(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            "size": _one(conn, "select pg_database_size(current_database())"),
            "wal": _one(conn, "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"),
            "temp": _one(
                conn,
                "select temp_bytes from pg_stat_database where datname = current_database()",
            ),
            "results": _one(conn, "select count(*) from test_results"),
            "details": _one(conn, "select count(*) from test_result_details"),
            "runs": _one(conn, "select count(*) from test_runs"),
        }


def _dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _backend_memory(pid: int) -> str:
    """Peak and private memory of the (local) PostgreSQL backend process, from /proc."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except OSError:
        return "not readable (server not local)"
    return (
        f"peak RSS {fields['VmHWM'].strip()} (includes shared buffers it touched), "
        f"private {fields['RssAnon'].strip()}"
    )


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


async def _main(args: argparse.Namespace) -> None:
    server = _server()
    admin = server.url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"drop database if exists {DB} with (force)")
        conn.execute(f"create database {DB}")
    url = server.url(DB)
    t0 = time.perf_counter()
    await migrate(Target(url, embedded=True))
    with psycopg.connect(url, autocommit=True) as conn:
        params = {"runs": args.runs, "per_run": args.per_run}
        for statement in BUILD.split(";\n"):
            if statement.strip():
                conn.execute(statement, params)  # type: ignore[arg-type]
    before = _db_stats(url)
    print(
        f"built in {time.perf_counter() - t0:.1f} s: {before['runs']:,} runs, "
        f"{before['results']:,} results, {before['details']:,} details, "
        f"database {_mb(before['size'])}"
    )

    archive_dir = Path(args.archive_dir)
    shutil.rmtree(archive_dir, ignore_errors=True)
    archive = LocalArchive(archive_dir)
    as_of = datetime.now(UTC)
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        rss0 = _rss_mb()
        t = time.perf_counter()
        dry = await plan(conn, as_of=as_of, projects=None, location=archive.location)
        dry_s = time.perf_counter() - t
        print(f"dry run: {dry_s:.2f} s  {dry.would_delete}")
        t = time.perf_counter()
        report = await apply(conn, archive, as_of=as_of, projects=None, chunk_size=args.chunk_size)
        took = time.perf_counter() - t
        backend = _backend_memory(conn.info.backend_pid)
    finally:
        await conn.close()
    after = _db_stats(url)
    archived = _dir_size(archive_dir)
    deleted_results = before["results"] - after["results"]
    chunks = sum(p.chunks for p in report.phases.values())
    print(f"retention: {took:.1f} s, {chunks} chunks of <= {args.chunk_size}")
    for name, totals in report.phases.items():
        print(f"  {name:16} deleted {totals.deleted:>9,}  archived {totals.archived}")
    print(
        f"  results deleted {deleted_results:,} ({deleted_results / took:,.0f}/s), "
        f"details deleted {before['details'] - after['details']:,}"
    )
    print(f"  runner process peak RSS {_rss_mb():.0f} MB (before retention {rss0:.0f} MB)")
    print(
        f"  database: WAL written {_mb(after['wal'] - before['wal'])}, temp spilled "
        f"{_mb(after['temp'] - before['temp'])}, size {_mb(before['size'])} -> "
        f"{_mb(after['size'])} (space is reused, not returned, until VACUUM FULL)"
    )
    print(f"  archive: {_mb(archived)} in {archive_dir}")
    print(f"  database backend that served retention: {backend}")
    if args.restore:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            t = time.perf_counter()
            where, entries = locate_local(archive_dir)
            restored = await restore(conn, where, entries)
            took = time.perf_counter() - t
        finally:
            await conn.close()
        print(
            f"restore: {took:.1f} s, {restored.chunks} chunks, inserted {restored.inserted}, "
            f"peak RSS {_rss_mb():.0f} MB"
        )


def main(argv: list[str] | None = None) -> int:
    """Parse options and run the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000, help="runs (default 10,000)")
    ap.add_argument("--per-run", type=int, default=100, help="results per run (default 100)")
    ap.add_argument("--chunk-size", type=int, default=5000, help="retention chunk size")
    ap.add_argument(
        "--archive-dir",
        default="/tmp/runner-bench-retention/archive",  # noqa: S108
        help="where the archive goes (emptied first)",
    )
    ap.add_argument("--restore", action="store_true", help="also time restoring the archive")
    asyncio.run(_main(ap.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
