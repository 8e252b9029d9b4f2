"""PostgresStore's test_started ops: one tests_started call per batch, and spill + replay."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.db.connect import Target
from runner.models import RunStatus
from runner.plan.graph import build_plan
from runner.store.base import RunInfo
from runner.store.postgres import PostgresStore
from runner.store.writer import BatchWriter, Op, read_spill
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

SUITE = """
name: ping
base_url: http://ping.test
tests:
  - id: ping
    request: {url: /ping}
  - id: pong
    request: {url: /pong}
"""


def _events(url: str, run_id: str) -> list[tuple[int, str, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select (payload ->> 'seq')::int, event, payload ->> 'test_key' "
            "from realtime.messages where topic = %s order by 1",
            (f"run:{run_id}",),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _info(tmp_path: Path) -> RunInfo:
    plan = build_plan(load_suite_text(SUITE, file="ping.yaml", base_dir=tmp_path))
    return RunInfo(suite=plan.suite, environment=None, order=tuple(plan.order), trigger="api")


def _result(key: str) -> dict[str, Any]:
    return {"test_key": key, "name": key.title(), "status": "passed", "status_code": 200}


async def test_started_ops_of_a_batch_go_out_before_its_results(
    migrated_db: str, tmp_path: Path
) -> None:
    """Starts queued with results are sent first, in one call: each start precedes its result."""
    store = PostgresStore(Target(migrated_db, embedded=True), spill_dir=tmp_path / "spill")
    async with store:
        run_id = await store.start_run(_info(tmp_path))
        assert run_id is not None and store.writer is not None
        await store.test_started("ping")
        store.writer.put("result", _result("ping"))
        await store.test_started("pong")
        store.writer.put("result", _result("pong"))
        await store.finish_run(RunStatus.PASSED)
        assert store.writer.spilled == 0
    events = _events(migrated_db, run_id)
    assert [(e[1], e[2]) for e in events] == [
        ("run_started", None),
        ("test_started", "ping"),
        ("test_started", "pong"),
        ("test_completed", "ping"),
        ("test_completed", "pong"),
        ("run_completed", None),
    ]
    assert [e[0] for e in events] == [1, 2, 3, 4, 5, 6]


async def test_a_spilled_started_op_replays_into_its_event(
    migrated_db: str, tmp_path: Path
) -> None:
    """A "started" op kept in the spill file reads back unchanged and replays as test_started."""

    async def down(batch: Sequence[Op]) -> None:
        raise ConnectionError("database unavailable")

    spill = tmp_path / "spill.jsonl"
    ops: list[Op] = [
        ("started", "ping"),
        ("capture", ["ping", {"n": 1}]),
        ("result", _result("ping")),
    ]
    writer = BatchWriter(down, spill, retries=0, retry_delay=0, outage_s=0)
    for kind, payload in ops:
        writer.put(kind, payload)
    await writer.close()
    assert writer.spilled == 3
    replay = read_spill(spill)
    assert replay == ops

    store = PostgresStore(Target(migrated_db, embedded=True), spill_dir=tmp_path / "spill")
    async with store:
        run_id = await store.start_run(_info(tmp_path))
        assert run_id is not None and store.writer is not None
        await store.writer.flush(replay)
        await store.finish_run(RunStatus.PASSED)
    assert [(e[1], e[2]) for e in _events(migrated_db, run_id)] == [
        ("run_started", None),
        ("test_started", "ping"),
        ("context_updated", None),
        ("test_completed", "ping"),
        ("run_completed", None),
    ]
