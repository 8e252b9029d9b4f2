"""Private channels and tokens: RLS on realtime.messages decides who may join a topic."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from realtime import RealtimeSubscribeStates

from support_realtime import (
    Inbox,
    User,
    make_user,
    realtime_client,
    recv_json,
    sql,
    subscribe,
    user_token,
    ws_url,
)
from support_serve import ServeHandle

pytestmark = pytest.mark.db

PRIVATE = {
    "config": {
        "broadcast": {"ack": False, "self": False},
        "presence": {"key": "", "enabled": False},
        "private": True,
    }
}


def project_of(serve: ServeHandle, user: User) -> str:
    """A project in the user's organisation (its topic is project:<id>)."""
    pid = str(uuid.uuid4())
    sql(
        serve.db_url,
        "insert into public.projects (id, organization_id, name, slug) values (%s, %s, 'P', %s)",
        (pid, user.org_id, f"p-{pid[:8]}"),
    )
    return pid


async def test_member_joins_private_topic_and_gets_db_events(serve: ServeHandle) -> None:
    """A member joins project:<id> privately and receives what realtime.send puts there."""
    alice = make_user(serve.db_url, "alice")
    topic = f"project:{project_of(serve, alice)}"
    async with realtime_client(serve, user_token(serve, alice)) as client:
        inbox = Inbox()
        chan = client.channel(topic, PRIVATE).on_broadcast("*", inbox)  # type: ignore[arg-type]
        state, err = await subscribe(chan)
        assert state == RealtimeSubscribeStates.SUBSCRIBED, err
        sql(serve.db_url, "select realtime.send('{\"a\": 1}'::jsonb, 'ev', %s, true)", (topic,))
        got = await inbox.get()
        assert (got["event"], got["payload"]["a"]) == ("ev", 1)
        # a public broadcast on the same topic is another channel: not delivered here
        sql(serve.db_url, "select realtime.send('{}'::jsonb, 'pub', %s, false)", (topic,))
        sql(serve.db_url, "select realtime.send('{}'::jsonb, 'marker', %s, true)", (topic,))
        assert (await inbox.get())["event"] == "marker"  # commit order: pub would be first


async def test_non_member_is_refused_with_supabase_reason(serve: ServeHandle) -> None:
    """A user of another organisation gets Supabase's Unauthorized error and no events."""
    alice = make_user(serve.db_url, "alice")
    mallory = make_user(serve.db_url, "mallory")
    topic = f"project:{project_of(serve, alice)}"
    async with realtime_client(serve, user_token(serve, mallory)) as client:
        chan = client.channel(topic, PRIVATE)  # type: ignore[arg-type]
        state, err = await subscribe(chan)
        assert state == RealtimeSubscribeStates.CHANNEL_ERROR
        reason = json.loads(str(err))["reason"]
        assert reason == (
            f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}"
        )
        await chan.unsubscribe()


async def test_anon_cannot_join_private_topic(serve: ServeHandle) -> None:
    """The anon key alone cannot join a private topic (no policy lets anon read)."""
    alice = make_user(serve.db_url, "alice")
    topic = f"project:{project_of(serve, alice)}"
    async with realtime_client(serve) as client:
        chan = client.channel(topic, PRIVATE)  # type: ignore[arg-type]
        state, _ = await subscribe(chan)
        assert state == RealtimeSubscribeStates.CHANNEL_ERROR
        await chan.unsubscribe()


async def test_client_broadcast_needs_write_policy(serve: ServeHandle) -> None:
    """Members may listen but not broadcast on run topics (no INSERT policy for broadcast)."""
    alice = make_user(serve.db_url, "alice")
    topic = f"project:{project_of(serve, alice)}"
    token = user_token(serve, alice)
    async with realtime_client(serve, token) as a, realtime_client(serve, token) as b:
        inbox, markers = Inbox(), Inbox()
        chan_a = a.channel(topic, PRIVATE)  # type: ignore[arg-type]
        chan_b = b.channel(topic, PRIVATE).on_broadcast("*", inbox)  # type: ignore[arg-type]
        public_a = a.channel("markers")
        public_b = b.channel("markers").on_broadcast("*", markers)
        assert (await subscribe(chan_a))[0] == RealtimeSubscribeStates.SUBSCRIBED
        assert (await subscribe(chan_b))[0] == RealtimeSubscribeStates.SUBSCRIBED
        await subscribe(public_a)
        await subscribe(public_b)
        await chan_a.send_broadcast("forged", {"x": 1})
        # sent after on the same socket, received on B's socket after what forged would send
        await public_a.send_broadcast("marker", {})
        await markers.get()
        assert inbox.queue.empty()


async def test_bad_and_expired_tokens_are_refused_at_join(serve: ServeHandle) -> None:
    """A join with a forged or expired access_token gets an InvalidJWTToken error reply."""
    alice = make_user(serve.db_url, "alice")
    expired = user_token(serve, alice, lifetime_s=-120)
    forged = serve.keys.sign({"role": "authenticated", "exp": 9999999999})[:-3] + "abc"
    reasons = []
    async with websockets.connect(ws_url(serve, "1.0.0")) as ws:
        for ref, token in (("1", expired), ("2", forged)):
            await ws.send(
                json.dumps(
                    {
                        "topic": "realtime:room",
                        "event": "phx_join",
                        "payload": {"config": {}, "access_token": token},
                        "ref": ref,
                        "join_ref": ref,
                    }
                )
            )
            reply = await recv_json(ws)
            assert reply["payload"]["status"] == "error"
            reasons.append(reply["payload"]["response"]["reason"])
    assert reasons[0].startswith("InvalidJWTToken: Token has expired ")
    assert reasons[1].startswith("InvalidJWTToken: ")


async def test_token_expiry_closes_the_channel(serve: ServeHandle) -> None:
    """When the channel's token expires the server sends a system error then phx_close."""
    alice = make_user(serve.db_url, "alice")
    short = user_token(serve, alice, lifetime_s=4)
    async with websockets.connect(ws_url(serve, "1.0.0")) as ws:
        await ws.send(
            json.dumps(
                {
                    "topic": "realtime:room",
                    "event": "phx_join",
                    "payload": {"config": {}, "access_token": short},
                    "ref": "1",
                    "join_ref": "1",
                }
            )
        )
        assert (await recv_json(ws))["payload"]["status"] == "ok"
        system = await recv_json(ws)
        assert system["event"] == "system"
        assert system["payload"]["status"] == "error"
        assert system["payload"]["message"].startswith("Token has expired")
        assert (await recv_json(ws))["event"] == "phx_close"


async def test_access_token_push_refreshes_and_bad_one_closes(serve: ServeHandle) -> None:
    """An access_token push with a valid token keeps the channel; a forged one closes it."""
    alice = make_user(serve.db_url, "alice")
    topic = f"project:{project_of(serve, alice)}"
    async with realtime_client(serve, user_token(serve, alice)) as client:
        inbox = Inbox()
        closed = asyncio.Event()
        chan = client.channel(topic, PRIVATE).on_broadcast("*", inbox)  # type: ignore[arg-type]
        assert (await subscribe(chan))[0] == RealtimeSubscribeStates.SUBSCRIBED
        await client.set_auth(user_token(serve, alice, lifetime_s=7200))
        sql(serve.db_url, "select realtime.send('{}'::jsonb, 'still', %s, true)", (topic,))
        assert (await inbox.get())["event"] == "still"
        chan.subscribe_callback = lambda state, err: (
            closed.set() if state == RealtimeSubscribeStates.CLOSED else None
        )
        await client.set_auth("not-a-jwt")
        await asyncio.wait_for(closed.wait(), 10)
