"""Whole suites against the demo shop API, recorded in a real database by both stores.

Each test runs twice: with PostgresStore on a direct connection, and with
SupabaseStore through a live ``serve`` (REST/RPC with the service_role key).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from runner.api import run_suite
from runner.db.connect import Target
from runner.models import RunStatus, Status
from runner.plan.graph import build_plan
from runner.settings import Settings
from runner.store.postgres import PostgresStore
from runner.store.supabase import SupabaseStore
from runner.suite.load import load_suite, load_suite_text
from support import load_example
from support_serve import serving

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop.yaml"
BASE = "http://shop.test"

shop_api = load_example("shop_api")


APPS: list[Any] = []


def shop_client() -> httpx.AsyncClient:
    """A client whose transport is a fresh demo shop app, in process."""
    app = shop_api.create_app()
    APPS.append(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


def rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


MakeStore = Callable[[], Any]


@pytest.fixture(params=["postgres", "supabase"])
def recorder(
    request: pytest.FixtureRequest, migrated_db: str, tmp_path: Path
) -> Iterator[MakeStore]:
    """Makes the store under test, recording into ``migrated_db``."""
    spill = tmp_path / "spill"
    if request.param == "postgres":
        yield lambda: PostgresStore(Target(migrated_db, embedded=True), spill_dir=spill)
        return
    with serving(migrated_db) as handle:
        yield lambda: SupabaseStore(handle.url, handle.service_role_key, spill_dir=spill)


async def run_shop(recorder: MakeStore, **kwargs: Any) -> Any:
    store = recorder()
    async with store, shop_client() as client:
        result = await run_suite(
            kwargs.pop("suite", SHOP),
            store=store,
            client=client,
            base_url=BASE,
            services=(),
            seed=7,
            environ={},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
            **kwargs,
        )
    return result, store


async def test_example_suite_is_recorded_row_for_row(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """Every result of the example suite lands in test_results with checks and attempts."""
    result, store = await run_shop(recorder)
    assert result.ok, [r.message for r in result.results if r.status != Status.PASSED]
    run = rows(
        migrated_db,
        "select status, total_tests, passed_tests, completed_tests, finished_at is not null "
        "from test_runs where id = %s",
        (result.run_id,),
    )
    n = len(result.results)
    assert run == [("passed", n, n, n, True)]
    stored = rows(
        migrated_db,
        "select test_key, status, test_case_id is not null from test_results where run_id = %s",
        (result.run_id,),
    )
    assert sorted(stored) == sorted((r.key, r.status.value, True) for r in result.results)
    details = rows(
        migrated_db,
        "select kind, count(*) from test_result_details d "
        "join test_results r on r.id = d.result_id "
        "where r.run_id = %s group by kind order by kind",
        (result.run_id,),
    )
    checks = sum(len(r.checks) for r in result.results)
    attempts = sum(len(r.attempts) for r in result.results)
    assert details == [("assertion", checks), ("attempt", attempts)]
    assert store.writer is not None and store.writer.spilled == 0


async def test_context_holds_captures_with_tokens_redacted(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """The execution context has each test's captures; tokens and secrets are redacted."""
    result, _ = await run_shop(recorder)
    (ctx,) = rows(
        migrated_db,
        "select captured_data, shared_auth_tokens, test_order from test_execution_context "
        "where run_id = %s",
        (result.run_id,),
    )
    captured, tokens, order = ctx
    login = next(r for r in result.results if r.test_id == "login")
    assert "login" in captured and set(captured["login"]) == set(login.captured)
    assert tokens and set(tokens.values()) == {"[REDACTED]"}
    assert order == list(build_plan(load_suite(SHOP)).order)


async def test_no_token_value_reaches_any_table(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """No bearer token value issued by the shop appears in results, details or context."""
    result, _ = await run_shop(recorder)
    dump = json.dumps(
        rows(
            migrated_db,
            "select to_jsonb(r) from test_results r where run_id = %s "
            "union all select to_jsonb(d) from test_result_details d "
            "union all select to_jsonb(c) from test_execution_context c",
            (result.run_id,),
        ),
        default=str,
    )
    issued = shop_api_tokens()
    assert issued, "the demo API issued no token"
    for token in issued:
        assert token not in dump


def shop_api_tokens() -> list[str]:
    """Access and refresh tokens the last demo app issued."""
    shop = APPS[-1].state.shop
    return [*shop.tokens, *shop.refresh]


async def test_resync_of_unchanged_suite_writes_nothing(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """Syncing the same file twice leaves configuration rows untouched (same xmin)."""
    await run_shop(recorder)
    config = (
        "select 'case', stable_id, xmin::text from test_cases union all "
        "select 'suite', slug, xmin::text from test_suites union all "
        "select 'dep', id::text, xmin::text from test_dependencies union all "
        "select 'env', name, xmin::text from environments union all "
        "select 'audit', count(*)::text, '' from audit_log"
    )
    before = sorted(rows(migrated_db, config))
    await run_shop(recorder)
    assert sorted(rows(migrated_db, config)) == before


async def test_changed_test_is_updated_and_removed_test_pruned(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """A sync after editing updates the changed case; the removed one leaves the version only."""
    text = """
name: mini
base_url: http://shop.test
tests:
  - id: health
    request: {url: /health}
    checks: {status: 200}
  - id: health2
    request: {url: /health}
"""
    loaded = load_suite_text(text, file="mini.yaml", base_dir=tmp_path)
    await run_shop(recorder, suite=loaded)
    edited = load_suite_text(
        text.replace("status: 200", "status: [200, 204]").split("  - id: health2")[0],
        file="mini.yaml",
        base_dir=tmp_path,
    )
    await run_shop(recorder, suite=edited)
    cases = rows(
        migrated_db,
        "select c.stable_id, c.definition->'checks'->'status' from test_cases c "
        "join test_suites s on s.id = c.suite_id "
        "join suite_versions v on v.id = s.current_version_id "
        "where s.name = 'mini' and c.id = any (v.case_ids)",
    )
    assert cases == [("health", [200, 204])]
    # the first run used health2: its case stays until retention finds it unused
    kept = rows(
        migrated_db,
        "select count(*) from test_cases c join test_results r on r.test_case_id = c.id "
        "where c.stable_id = 'health2'",
    )
    assert kept == [(1,)]


async def test_failure_blocks_dependents_and_fails_the_run(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """A failing login is recorded failed, its dependents skipped as blocked, the run failed."""
    text = """
name: broken
base_url: http://shop.test
tests:
  - id: login
    request:
      method: POST
      url: /auth/login
      json: {email: alice@example.com, password: wrong}
    captures: {token: $.access_token}
    checks: {status: 200}
  - id: profile
    request:
      url: /profile
      headers: {Authorization: "Bearer {{ captured_data.login.token }}"}
"""
    loaded = load_suite_text(text, file="broken.yaml", base_dir=tmp_path)
    result, _ = await run_shop(recorder, suite=loaded)
    assert result.status == RunStatus.FAILED
    stored = dict(
        rows(
            migrated_db,
            "select test_key, status || '/' || coalesce(error_category, '') || '/' || message "
            "from test_results where run_id = %s",
            (result.run_id,),
        )
    )
    assert stored["login"].startswith("failed/assertion/")
    assert stored["profile"] == "skipped/blocked/blocked by login"
    (run,) = rows(
        migrated_db,
        "select status, failed_tests, skipped_tests from test_runs where id = %s",
        (result.run_id,),
    )
    assert run == ("failed", 1, 1)


async def test_stored_suite_runs_by_name(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """After one run from the file, the suite can be rebuilt from the tables by name."""
    await run_shop(recorder)
    async with recorder() as store:
        loaded = await store.load_suite(load_suite(SHOP).suite.name)
    original = load_suite(SHOP)
    assert [t.id for t in loaded.suite.tests] == [t.id for t in original.suite.tests]
    result, _ = await run_shop(recorder, suite=loaded)
    assert result.ok


async def test_interrupted_run_keeps_finished_results(
    migrated_db: str, tmp_path: Path, recorder: MakeStore
) -> None:
    """Cancelling a run mid-way keeps what finished and marks the run interrupted."""
    release = asyncio.Event()
    started = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow":
            started.set()
            await release.wait()
        return httpx.Response(200, json={"ok": True})

    text = """
name: interrupt
base_url: http://t.test
tests:
  - id: first
    request: {url: /fast}
  - id: second
    request: {url: /slow}
    depends_on: [first]
  - id: third
    request: {url: /fast}
    depends_on: [second]
"""
    loaded = load_suite_text(text, file="interrupt.yaml", base_dir=tmp_path)
    store = recorder()
    async with store, httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        task = asyncio.create_task(
            run_suite(loaded, store=store, client=client, services=(), environ={}, concurrency=1)
        )
        await asyncio.wait_for(started.wait(), timeout=30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    run_id = store.run_id
    (run,) = rows(migrated_db, "select status from test_runs where id = %s", (run_id,))
    assert run == ("interrupted",)
    stored = dict(
        rows(migrated_db, "select test_key, status from test_results where run_id = %s", (run_id,))
    )
    assert stored.get("first") == "passed"
