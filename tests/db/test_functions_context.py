"""The execution-context functions: init, merge, tokens, variables, TTL clean-up."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg
import pytest
from helpers import World, acting_as, claims_for, seed
from psycopg import errors

pytestmark = pytest.mark.db


def _context(url: str, run_id: Any) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "select id, shared_auth_tokens, shared_variables, captured_data, test_order, "
            "expires_at - created_at, updated_at from test_execution_context where run_id = %s",
            (run_id,),
        )
        row = cur.fetchone()
    assert row is not None
    keys = ("id", "tokens", "variables", "captured", "order", "ttl", "updated_at")
    return dict(zip(keys, row, strict=True))


def _new_run(url: str, world: World) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "insert into test_runs (project_id) values (%s) returning id", (world.project,)
        ).fetchone()
    assert row is not None
    return row[0]


def test_init_run_context_is_idempotent(migrated_db: str) -> None:
    """A second init returns the same context id and keeps the first order and expiry."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute(
            "select public.init_run_context(%s, '[\"a\", \"b\"]', interval '2 hours')", (run,)
        )
        first = cur.fetchone()
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("select public.init_run_context(%s, '[\"z\"]')", (run,))
        second = cur.fetchone()
    assert first == second
    ctx = _context(migrated_db, run)
    assert (ctx["id"],) == first
    assert ctx["order"] == ["a", "b"]
    assert ctx["ttl"].total_seconds() == 2 * 3600
    assert ctx["captured"] == {} and ctx["tokens"] == {} and ctx["variables"] == {}


def test_init_run_context_rejects_a_non_array_order(migrated_db: str) -> None:
    """p_test_order must be a JSON array."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InvalidParameterValue, match="JSON array"),
        acting_as(migrated_db, world, "editor") as cur,
    ):
        cur.execute("select public.init_run_context(%s, '{\"a\": 1}')", (world.run,))


def test_merge_captured_data_merges_per_test_key(migrated_db: str) -> None:
    """Merges add keys under captured_data[test_key], overwrite repeated keys, keep other tests."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:  # an old updated_at, to see it bumped
        conn.execute(
            "update test_execution_context set updated_at = '2000-01-01' where run_id = %s",
            (world.run,),
        )
    merges = [
        ("login", {"token": "t1", "user_id": 7}),
        ("catalog", {"product_ids": [1, 2]}),
        ("login", {"token": "t2", "session": {"a": 1}}),
    ]
    for key, data in merges:
        with acting_as(migrated_db, world, "editor") as cur:
            cur.execute(
                "select public.merge_captured_data(%s, %s, %s)", (world.run, key, json.dumps(data))
            )
    ctx = _context(migrated_db, world.run)
    assert ctx["captured"] == {
        "login": {"token": "t2", "user_id": 7, "session": {"a": 1}},
        "catalog": {"product_ids": [1, 2]},
    }
    assert ctx["updated_at"].year > 2000


def test_merge_captured_data_creates_a_missing_context(migrated_db: str) -> None:
    """Merging into a run without a context creates it."""
    world = seed(migrated_db)
    run = _new_run(migrated_db, world)
    with acting_as(migrated_db, world, "service_role") as cur:
        cur.execute("select public.merge_captured_data(%s, 'login', '{\"a\": 1}')", (run,))
    assert _context(migrated_db, run)["captured"] == {"login": {"a": 1}}


@pytest.mark.parametrize("data", ["[1, 2]", "3", "null"])
def test_merge_captured_data_needs_an_object(migrated_db: str, data: str) -> None:
    """p_data must be a JSON object."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InvalidParameterValue, match="JSON object"),
        acting_as(migrated_db, world, "editor") as cur,
    ):
        cur.execute("select public.merge_captured_data(%s, 'login', %s::jsonb)", (world.run, data))


def test_shared_auth_tokens_are_set_replaced_and_removed(migrated_db: str) -> None:
    """set_shared_auth_token sets a name, replaces it, and removes it when given null."""
    world = seed(migrated_db)
    calls = [("bearer", "c1"), ("admin", "c2"), ("bearer", "c3"), ("admin", None)]
    for name, token in calls:
        with acting_as(migrated_db, world, "editor") as cur:
            cur.execute("select public.set_shared_auth_token(%s, %s, %s)", (world.run, name, token))
    assert _context(migrated_db, world.run)["tokens"] == {"bearer": "c3"}


def test_shared_variables_are_merged(migrated_db: str) -> None:
    """set_shared_variables adds new keys and replaces existing top-level ones."""
    world = seed(migrated_db)
    for variables in ({"a": 1, "b": {"x": 1}}, {"b": {"y": 2}, "c": "three"}):
        with acting_as(migrated_db, world, "admin") as cur:
            cur.execute(
                "select public.set_shared_variables(%s, %s)", (world.run, json.dumps(variables))
            )
    assert _context(migrated_db, world.run)["variables"] == {"a": 1, "b": {"y": 2}, "c": "three"}


def test_cleanup_removes_only_expired_contexts(migrated_db: str) -> None:
    """cleanup_expired_contexts deletes only contexts past expires_at and returns how many."""
    world = seed(migrated_db)
    runs = [_new_run(migrated_db, world) for _ in range(3)]
    with psycopg.connect(migrated_db) as conn:
        for run, expires in zip(
            runs,
            (
                "now() - interval '1 second'",
                "now() - interval '3 days'",
                "now() + interval '1 hour'",
            ),
            strict=True,
        ):
            conn.execute(
                f"insert into test_execution_context (run_id, expires_at) values (%s, {expires})",  # noqa: S608
                (run,),
            )
    with acting_as(migrated_db, world, "service_role") as cur:
        cur.execute("select public.cleanup_expired_contexts()")
        assert cur.fetchone() == (2,)
    with psycopg.connect(migrated_db) as conn:
        left = {r[0] for r in conn.execute("select run_id from test_execution_context")}
    assert left == {world.run, runs[2]}


async def test_fifty_concurrent_merges_lose_no_key(migrated_db: str) -> None:
    """Fifty merges on fifty connections, all queued on one context row, keep every key."""
    world = seed(migrated_db)
    role, claims = claims_for(world, "editor")
    connections = [await psycopg.AsyncConnection.connect(migrated_db) for _ in range(50)]
    blocker = await psycopg.AsyncConnection.connect(migrated_db)
    watcher = await psycopg.AsyncConnection.connect(migrated_db, autocommit=True)
    try:
        # Hold the context row so that every merge has to wait on it: they then all
        # contend for the same row at once when it is released.
        await blocker.execute(
            "select 1 from test_execution_context where run_id = %s for update", (world.run,)
        )

        async def merge(i: int, conn: psycopg.AsyncConnection[Any]) -> None:
            async with conn.transaction():
                await conn.execute(
                    "select set_config('role', %s, true), set_config('request.jwt.claims', %s, "
                    "true)",
                    (role, json.dumps(claims)),
                )
                await conn.execute(
                    "select public.merge_captured_data(%s, %s, %s)",
                    (world.run, f"test{i % 5}", json.dumps({f"k{i}": i})),
                )

        tasks = [asyncio.create_task(merge(i, c)) for i, c in enumerate(connections)]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 50 and time.monotonic() < deadline:
            cur = await watcher.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock' and query like '%%merge_captured_data%%'"
            )
            row = await cur.fetchone()
            waiting = row[0] if row else 0
            await asyncio.sleep(0)  # let the merge tasks progress (no fixed delay)
        assert waiting == 50, f"only {waiting} merges were queued on the row"
        await blocker.commit()
        await asyncio.gather(*tasks)
    finally:
        for c in [*connections, blocker, watcher]:
            await c.close()
    captured = _context(migrated_db, world.run)["captured"]
    assert set(captured) == {f"test{j}" for j in range(5)}
    for j in range(5):
        assert captured[f"test{j}"] == {f"k{i}": i for i in range(50) if i % 5 == j}
