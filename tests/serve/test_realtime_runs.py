"""A real recorded run's events reach a member watching run:<id> over serve's Realtime."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from realtime import RealtimePostgresChangesListenEvent as Ev
from realtime import RealtimeSubscribeStates

from support import load_example, record_example_run
from support_realtime import Inbox, make_user, realtime_client, sql, subscribe, user_token
from support_serve import ServeHandle

pytestmark = pytest.mark.db
SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop.yaml"
PRIVATE: Any = {
    "config": {
        "broadcast": {"ack": False, "self": False},
        "presence": {"key": "", "enabled": False},
        "private": True,
    }
}
shop_api = load_example("shop_api")


class GatedTransport(httpx.AsyncBaseTransport):
    """The demo shop in process, answering only once ``gate`` is set (a third-party edge)."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.inner = httpx.ASGITransport(app=shop_api.create_app())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.wait_for(self.gate.wait(), 30)
        return await self.inner.handle_async_request(request)


async def record_shop_run(db_url: str, spill: Path, gate: asyncio.Event) -> Any:
    result, _ = await record_example_run(db_url, spill, GatedTransport(gate))
    return result


async def test_run_events_arrive_in_order_without_gaps(serve: ServeHandle, tmp_path: Path) -> None:
    """A member joined to run:<id> gets every event after joining, seq without gaps, to the end."""
    gate = asyncio.Event()
    runs = Inbox()
    async with realtime_client(serve, serve.service_role_key) as admin:
        chan = admin.channel("runs").on_postgres_changes(Ev.Insert, runs, table="test_runs")
        assert (await subscribe(chan))[0] == RealtimeSubscribeStates.SUBSCRIBED
        task = asyncio.create_task(record_shop_run(serve.db_url, tmp_path / "spill", gate))
        try:
            run = (await runs.get(wait_s=30))["data"]["record"]
            bob = make_user(serve.db_url, "bob")
            sql(
                serve.db_url,
                "insert into public.organization_members (organization_id, user_id, role) "
                "values (%s, %s, 'member')",
                (run["organization_id"], bob.id),
            )
            async with realtime_client(serve, user_token(serve, bob)) as watcher:
                events = Inbox()
                topic = f"run:{run['id']}"
                watch = watcher.channel(topic, PRIVATE).on_broadcast("*", events)
                state, err = await subscribe(watch)
                assert state == RealtimeSubscribeStates.SUBSCRIBED, err
                gate.set()
                result = await task
                received = []
                while not received or received[-1]["event"] != "run_completed":
                    received.append(await events.get(wait_s=30))
        finally:
            gate.set()
            if not task.done():
                await task
    seqs = [e["payload"]["seq"] for e in received]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, in order
    types = {e["event"] for e in received}
    assert {"test_completed", "run_completed"} <= types
    assert all(e["payload"]["run_id"] == run["id"] for e in received)
    assert received[-1]["payload"]["status"] == result.status.value
