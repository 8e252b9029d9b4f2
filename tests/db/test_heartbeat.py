"""Runs carry a heartbeat; runs that fall silent are reaped (store, SQL function, serve)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import acting_as, seed

from runner.db.connect import Target
from runner.db.identity import Identity
from runner.models import RunStatus
from runner.store.base import RunInfo
from runner.store.heartbeat import interval_for, postgres_heartbeat, reap_quietly
from runner.store.postgres import PostgresStore
from runner.store.supabase import SupabaseStore
from runner.suite.load import load_suite_text
from support import free_port
from support_serve import serving

pytestmark = pytest.mark.db

SUITE = "name: beat\nbase_url: http://127.0.0.1:9\ntests:\n  - id: one\n    request: {url: /}\n"


def _one(url: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def _info(tmp_path: Path) -> RunInfo:
    loaded = load_suite_text(SUITE, file="beat.yaml", base_dir=tmp_path)
    return RunInfo(suite=loaded.suite, environment=None, order=("one",))


async def test_an_open_run_beats_until_the_store_closes(migrated_db: str, tmp_path: Path) -> None:
    """While a run is open its heartbeat_at moves; after the store closes it stops."""
    store = PostgresStore(Target(migrated_db, embedded=True), spill_dir=tmp_path, heartbeat_s=0.1)
    async with store:
        run_id = await store.start_run(_info(tmp_path))
        started = _one(migrated_db, "select heartbeat_at from test_runs where id = %s", (run_id,))
        assert store.heartbeat is not None
        async with asyncio.timeout(30):
            await store.heartbeat.wait_for(lambda h: h.beats >= 2)
        beat = _one(migrated_db, "select heartbeat_at from test_runs where id = %s", (run_id,))
        assert beat > started
        await store.finish_run(RunStatus.PASSED)
    assert store.heartbeat.beats >= 2
    assert store.heartbeat._task is None  # stopped with the store


async def test_supabase_store_beats_over_rpc(migrated_db: str, tmp_path: Path) -> None:
    """SupabaseStore beats through public.run_heartbeat by RPC while its run is open."""
    with serving(migrated_db) as handle:
        store = SupabaseStore(
            handle.url, handle.service_role_key, spill_dir=tmp_path, heartbeat_s=0.1
        )
        async with store:
            run_id = await store.start_run(_info(tmp_path))
            assert store.heartbeat is not None
            async with asyncio.timeout(30):
                await store.heartbeat.wait_for(lambda h: h.beats >= 1)
            await store.finish_run(RunStatus.PASSED)
    beat, started = _row(
        migrated_db, "select heartbeat_at, started_at from test_runs where id = %s", run_id
    )
    assert beat > started


async def test_heartbeat_is_silent_through_an_outage() -> None:
    """Beats to a database that is not there fail quietly, and stopping still works."""
    nowhere = Target(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", embedded=True)
    heartbeat = postgres_heartbeat(nowhere, Identity.service(), "00000000-0000-0000-0000-0", 0.1)
    async with asyncio.timeout(30):
        await heartbeat.wait_for(lambda h: h.failures >= 2)
    await heartbeat.stop()
    assert heartbeat.beats == 0


def test_interval_keeps_several_beats_inside_the_limit() -> None:
    """Four beats per stale limit, never more than 5 s apart."""
    assert interval_for(60) == 5.0
    assert interval_for(3) == 0.75
    assert interval_for(0.01) == 0.1


async def test_opening_a_store_reaps_and_a_refused_reap_is_quiet(
    migrated_db: str, tmp_path: Path
) -> None:
    """reap_quietly marks a silent run interrupted; a user who may not reap gets 0, no error."""
    store = PostgresStore(Target(migrated_db, embedded=True), spill_dir=tmp_path)
    async with store:
        run_id = await store.start_run(_info(tmp_path))
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update test_runs set heartbeat_at = now() - interval '10 minutes' where id = %s",
            (run_id,),
        )
    anon = Identity.anon()
    async with PostgresStore(Target(migrated_db, embedded=True), identity=anon) as refused:
        assert await reap_quietly(refused, 60) == 0
    async with PostgresStore(Target(migrated_db, embedded=True)) as system:
        assert await reap_quietly(system, 60) == 1
    assert _one(migrated_db, "select status from test_runs where id = %s", (run_id,)) == (
        "interrupted"
    )


def test_users_reap_only_runs_of_organisations_they_edit(migrated_db: str) -> None:
    """A member or an outsider reaps nothing; an editor of the run's organisation reaps it."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update test_runs set heartbeat_at = now() - interval '1 hour' where id = %s",
            (world.run,),
        )
    for actor in ("outsider", "member"):
        with acting_as(migrated_db, world, actor) as cur:
            cur.execute("select public.reap_stale_runs(60)")
            assert cur.fetchone() == (0,)
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("select public.reap_stale_runs(60)")
        assert cur.fetchone() == (1,)
    assert _one(migrated_db, "select status from test_runs where id = %s", (world.run,)) == (
        "interrupted"
    )


def test_serve_reaps_silent_runs(migrated_db: str) -> None:
    """`runner serve` marks a run whose heartbeat is too old interrupted, runner lost."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "update test_runs set heartbeat_at = now() - interval '5 minutes' where id = %s",
            (world.run,),
        )
    status = "select status, metadata ->> 'interrupted_reason' from test_runs where id = %s"
    with serving(migrated_db):
        deadline = time.monotonic() + 30
        tick = threading.Event()
        while _row(migrated_db, status, world.run)[0] == "running":
            assert time.monotonic() < deadline, "serve did not reap the run"
            tick.wait(0.1)
    assert _row(migrated_db, status, world.run) == ("interrupted", "runner lost")


def _row(url: str, sql: str, *params: Any) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return tuple(row)
