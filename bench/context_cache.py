"""Measure the hit rate (and the time saved) of TestExecutionContextManager's cache.

    .venv/bin/python bench/context_cache.py [--tests 200] [--reads 5]

Simulates a run of a chain of tests: each test resolves its dependencies, reads the
context ``--reads`` times (as a test rendering several templates would), and then
captures one value. Uses RUNNER_DATABASE_URL, else the embedded server (started on
demand, migrated). Prints hits, misses, the hit rate and the mean time per read
with the cache versus with the cache emptied before every read.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx
import psycopg

from runner.context.manager import TestExecutionContextManager
from runner.db.connect import resolve_target
from runner.db.migrate import migrate
from runner.models import CaptureSpec
from runner.settings import Settings


def _new_run(url: str) -> str:
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into organizations (name, slug) values ('Bench', 'bench') "
            "on conflict (slug) do nothing"
        )
        row = conn.execute(
            "with p as (insert into projects (organization_id, name, slug) "
            "  select id, 'bench', 'bench-' || substr(md5(random()::text), 1, 8) "
            "  from organizations where slug = 'bench' returning id) "
            "insert into test_runs (project_id) select id from p returning id"
        ).fetchone()
    assert row is not None
    return str(row[0])


async def _simulate(
    manager: TestExecutionContextManager, run_id: str, tests: int, reads: int, *, cold: bool
) -> float:
    spent = 0.0
    spec = {"value": CaptureSpec.model_validate("$.value")}
    for i in range(tests):
        for _ in range(reads):
            if cold:
                manager.invalidate(run_id)
            start = time.perf_counter()
            await manager.get_test_run_context(run_id)
            spent += time.perf_counter() - start
        response = httpx.Response(200, json={"value": i}, request=httpx.Request("GET", "http://b/"))
        await manager.capture_variables_from_response(run_id, f"t{i}", response, spec)
    return spent / (tests * reads)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--reads", type=int, default=5)
    args = parser.parse_args()
    target = resolve_target(Settings())
    await migrate(target)
    results: dict[str, Any] = {}
    for label, cold in (("cached", False), ("uncached", True)):
        run_id = _new_run(target.url)
        async with TestExecutionContextManager(target) as manager:
            mean = await _simulate(manager, run_id, args.tests, args.reads, cold=cold)
            results[label] = (manager.cache_stats(), mean)
    stats, cached_mean = results["cached"]
    _, uncached_mean = results["uncached"]
    print(f"{args.tests} tests x {args.reads} context reads each (+1 capture per test)")
    print(f"cache: {stats.hits} hits, {stats.misses} misses, hit rate {stats.hit_rate:.1%}")
    print(f"mean read: {cached_mean * 1e6:.1f} us cached, {uncached_mean * 1e6:.1f} us uncached")


if __name__ == "__main__":
    asyncio.run(main())
