"""Presence with realtime-py: state on join, join and leave diffs, untrack and disconnect."""

from __future__ import annotations

from typing import Any

import pytest

from support_realtime import Inbox, realtime_client, subscribe
from support_serve import ServeHandle

pytestmark = pytest.mark.db


def presence_config(key: str) -> Any:
    return {
        "config": {
            "broadcast": {"ack": False, "self": False},
            "presence": {"key": key, "enabled": True},
            "private": False,
        }
    }


async def test_presence_join_sync_and_leave(serve: ServeHandle) -> None:
    """B sees A join with A's key and meta, the state syncs, then A's untrack is a leave."""
    async with realtime_client(serve) as a, realtime_client(serve) as b:
        joins, leaves, syncs = Inbox(), Inbox(), Inbox()
        chan_b = b.channel("lobby", presence_config("bob"))
        chan_b.on_presence_join(lambda key, cur, new: joins((key, new)))
        chan_b.on_presence_leave(lambda key, cur, left: leaves((key, left)))
        chan_b.on_presence_sync(lambda: syncs(None))
        await subscribe(chan_b)
        await syncs.get()  # the presence_state sent after the join
        chan_a = a.channel("lobby", presence_config("alice"))
        await subscribe(chan_a)
        await chan_a.track({"status": "online"})
        key, new = await joins.get()
        assert key == "alice"
        assert new[0]["status"] == "online" and new[0]["presence_ref"]
        assert "alice" in chan_b.presence_state()
        await chan_a.untrack()
        key, left = await leaves.get()
        assert key == "alice" and left[0]["status"] == "online"
        assert "alice" not in chan_b.presence_state()


async def test_presence_state_on_join_and_leave_on_disconnect(serve: ServeHandle) -> None:
    """A late joiner gets the current state; a tracker's socket closing makes it leave."""
    async with realtime_client(serve) as b:
        leaves = Inbox()
        async with realtime_client(serve) as a:
            chan_a = a.channel("room", presence_config("alice"))
            await subscribe(chan_a)
            await chan_a.track({"n": 1})
            synced = Inbox()
            chan_b = b.channel("room", presence_config("bob"))
            chan_b.on_presence_sync(lambda: synced(None))
            chan_b.on_presence_leave(lambda key, cur, left: leaves(key))
            await subscribe(chan_b)
            await synced.get()
            while "alice" not in chan_b.presence_state():
                await synced.get()
            assert chan_b.presence_state()["alice"][0]["n"] == 1
        assert await leaves.get() == "alice"


async def test_track_again_replaces_meta(serve: ServeHandle) -> None:
    """Tracking twice updates the presence: one entry for the key, with the new meta."""
    async with realtime_client(serve) as a, realtime_client(serve) as b:
        joins = Inbox()
        chan_b = b.channel("upd", presence_config("bob"))
        chan_b.on_presence_join(lambda key, cur, new: joins(new[0].get("v")))
        await subscribe(chan_b)
        chan_a = a.channel("upd", presence_config("alice"))
        await subscribe(chan_a)
        await chan_a.track({"v": 1})
        assert await joins.get() == 1
        await chan_a.track({"v": 2})
        assert await joins.get() == 2
        state = chan_b.presence_state()["alice"]
        assert [p["v"] for p in state] == [2]
