"""Broadcast over serve's Realtime with the official realtime-py client: joins, self, ack, DB."""

from __future__ import annotations

import asyncio

import pytest
from realtime import RealtimeSubscribeStates
from supabase import acreate_client

from support_realtime import Inbox, realtime_client, sql, subscribe
from support_serve import ServeHandle

pytestmark = pytest.mark.db


async def test_join_is_subscribed(serve: ServeHandle) -> None:
    """A public channel joins: the client reports SUBSCRIBED and the channel is joined."""
    async with realtime_client(serve) as client:
        channel = client.channel("room:hb")
        state, err = await subscribe(channel)
        assert state == RealtimeSubscribeStates.SUBSCRIBED, err
        assert channel.is_joined


async def test_broadcast_reaches_others_not_self_by_default(serve: ServeHandle) -> None:
    """A broadcast reaches another client on the topic but not its sender (self off)."""
    async with realtime_client(serve) as a, realtime_client(serve) as b:
        inbox_a, inbox_b = Inbox(), Inbox()
        chan_a = a.channel("room:1").on_broadcast("msg", inbox_a)
        chan_b = b.channel("room:1").on_broadcast("msg", inbox_b)
        assert (await subscribe(chan_a))[0] == RealtimeSubscribeStates.SUBSCRIBED
        assert (await subscribe(chan_b))[0] == RealtimeSubscribeStates.SUBSCRIBED
        await chan_a.send_broadcast("msg", {"n": 1})
        got = await inbox_b.get()
        assert (got["event"], got["payload"]) == ("msg", {"n": 1})
        # B answers; had A heard itself, that would have reached A before the answer
        await chan_b.send_broadcast("msg", {"n": 2})
        assert (await inbox_a.get())["payload"] == {"n": 2}


async def test_broadcast_self_and_ack(serve: ServeHandle) -> None:
    """With broadcast.self the sender hears itself; with ack the push gets an ok reply."""
    config = {
        "config": {
            "broadcast": {"self": True, "ack": True},
            "presence": {"key": "", "enabled": False},
            "private": False,
        }
    }
    async with realtime_client(serve) as a:
        inbox = Inbox()
        chan = a.channel("room:self", config).on_broadcast("*", inbox)  # type: ignore[arg-type]
        assert (await subscribe(chan))[0] == RealtimeSubscribeStates.SUBSCRIBED
        acked = Inbox()
        push = await chan.push(
            "broadcast", {"type": "broadcast", "event": "e", "payload": {"x": 2}}
        )
        push.receive("ok", acked)
        assert (await inbox.get())["payload"] == {"x": 2}
        assert await acked.get() is not None


async def test_topics_and_privacy_are_separate(serve: ServeHandle) -> None:
    """A broadcast on one topic does not reach another topic's subscribers."""
    async with realtime_client(serve) as a, realtime_client(serve) as b:
        inbox = Inbox()
        chan_x = a.channel("room:x")
        chan_y = a.channel("room:y")
        chan_b = b.channel("room:y").on_broadcast("*", inbox)
        for chan in (chan_x, chan_y, chan_b):
            await subscribe(chan)
        await chan_x.send_broadcast("m", {})
        await chan_y.send_broadcast("marker", {})  # same socket, after: arrives after m would
        assert (await inbox.get())["event"] == "marker"


async def test_database_broadcast_reaches_public_channel(serve: ServeHandle) -> None:
    """realtime.send(..., private => false) in SQL arrives on the public channel of its topic."""
    async with realtime_client(serve) as client:
        inbox = Inbox()
        chan = client.channel("db:public").on_broadcast("changed", inbox)
        await subscribe(chan)
        sql(
            serve.db_url,
            "select realtime.send('{\"k\": 1}'::jsonb, 'changed', 'db:public', false)",
        )
        got = await inbox.get()
        assert got["event"] == "changed"
        assert got["payload"]["k"] == 1
        assert "id" in got["payload"]  # realtime.send adds the message id


async def test_database_broadcasts_arrive_in_commit_order(serve: ServeHandle) -> None:
    """Several realtime.send calls in one transaction arrive all, in order."""
    async with realtime_client(serve) as client:
        inbox = Inbox()
        chan = client.channel("db:order").on_broadcast("n", inbox)
        await subscribe(chan)
        sql(
            serve.db_url,
            "select realtime.send(jsonb_build_object('i', i), 'n', 'db:order', false) "
            "from generate_series(1, 20) as i",
        )
        seen = [(await inbox.get())["payload"]["i"] for _ in range(20)]
        assert seen == list(range(1, 21))


async def test_supabase_py_client_broadcasts(serve: ServeHandle) -> None:
    """supabase-py's acreate_client(...).channel() subscribes and exchanges broadcasts."""
    one = await acreate_client(serve.url, serve.anon_key)
    two = await acreate_client(serve.url, serve.anon_key)
    try:
        inbox = Inbox()
        sender = one.channel("sb:room")
        receiver = two.channel("sb:room").on_broadcast("hello", inbox)
        states: list[RealtimeSubscribeStates] = []
        await sender.subscribe(lambda s, e: states.append(s))
        await receiver.subscribe(lambda s, e: states.append(s))
        assert states == [RealtimeSubscribeStates.SUBSCRIBED] * 2
        await sender.send_broadcast("hello", {"from": "one"})
        assert (await inbox.get())["payload"] == {"from": "one"}
    finally:
        await one.remove_all_channels()
        await two.remove_all_channels()


async def test_unsubscribe_stops_delivery(serve: ServeHandle) -> None:
    """After a channel leaves, broadcasts on its topic no longer reach it."""
    async with realtime_client(serve) as a, realtime_client(serve) as b:
        inbox = Inbox()
        chan_a = a.channel("room:leave")
        chan_b = b.channel("room:leave").on_broadcast("*", inbox)
        await subscribe(chan_a)
        await subscribe(chan_b)
        await chan_a.send_broadcast("m", {"n": 1})
        await inbox.get()
        left = asyncio.Event()
        chan_b.subscribe_callback = lambda s, e: left.set()
        await chan_b.unsubscribe()
        await asyncio.wait_for(left.wait(), 10)
        await chan_a.send_broadcast("m", {"n": 2})
        assert await inbox.nothing()
