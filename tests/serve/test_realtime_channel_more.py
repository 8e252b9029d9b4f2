"""Channel pushes and refusals at the frame level (vsn 2.0.0) against a real ``serve``.

A negative check ("no reply") sends a heartbeat right after: the socket handles frames in
order, so the heartbeat's reply coming next proves nothing was sent in between.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg
import pytest
import websockets

from support_realtime import make_user, recv_json, sql, user_token, ws_url
from support_serve import ServeHandle

pytestmark = pytest.mark.db


async def push(
    ws: websockets.ClientConnection, topic: str, event: str, payload: Any, ref: str = "1"
) -> None:
    await ws.send(json.dumps(["1", ref, topic, event, payload]))


async def next_is_heartbeat(ws: websockets.ClientConnection) -> bool:
    """Send a heartbeat; whether the very next frame is its reply."""
    await ws.send(json.dumps([None, "hb", "phoenix", "heartbeat", {}]))
    frame = await recv_json(ws)
    return frame[1] == "hb" and frame[2] == "phoenix"


async def join(
    ws: websockets.ClientConnection, topic: str, payload: dict[str, Any], ref: str = "1"
) -> dict[str, Any]:
    """Join and return the reply's payload."""
    await push(ws, topic, "phx_join", payload, ref)
    reply = await recv_json(ws)
    assert reply[3] == "phx_reply" and reply[1] == ref, reply
    return dict(reply[4])


async def test_joins_the_server_cannot_serve_are_refused(serve: ServeHandle) -> None:
    """A topic without realtime:, a non-object config or non-list bindings get error replies."""
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        assert await join(ws, "room:x", {}) == {
            "status": "error",
            "response": {"reason": "unmatched topic"},
        }
        bad_config = await join(ws, "realtime:x", {"config": "yes"})
        assert bad_config["response"] == {"reason": "config must be an object"}
        bad_bindings = await join(ws, "realtime:x", {"config": {"postgres_changes": {"a": 1}}})
        assert bad_bindings["response"] == {"reason": "postgres_changes must be a list"}
        assert (await join(ws, "realtime:x", {"config": None}))["status"] == "ok"


async def test_broadcast_without_event_and_unknown_events(serve: ServeHandle) -> None:
    """A broadcast without an event is an error; unknown events and phoenix pushes get nothing."""
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        await join(ws, "realtime:b", {"config": {}})
        await push(ws, "realtime:b", "broadcast", {"payload": {}}, "2")
        reply = await recv_json(ws)
        assert reply[1] == "2"
        assert reply[4] == {"status": "error", "response": {"reason": "broadcast needs an event"}}
        await push(ws, "realtime:b", "custom_event", {}, "3")
        await push(ws, "phoenix", "not_heartbeat", {}, "4")
        assert await next_is_heartbeat(ws)


async def test_presence_track_untrack_and_unknown(serve: ServeHandle) -> None:
    """Track with a non-object meta tracks {}; untrack twice sends one leave; unknown is refused."""
    config = {"config": {"presence": {"enabled": True, "key": "me"}}}
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        assert (await join(ws, "realtime:p", config))["status"] == "ok"
        state = await recv_json(ws)
        assert state[3] == "presence_state" and state[4] == {}
        await push(ws, "realtime:p", "presence", {"event": "track", "payload": "x"}, "2")
        assert (await recv_json(ws))[4]["status"] == "ok"
        diff = await recv_json(ws)
        assert diff[3] == "presence_diff"
        (meta,) = diff[4]["joins"]["me"]["metas"]
        assert set(meta) == {"phx_ref"} and diff[4]["leaves"] == {}
        for ref in ("3", "4"):
            await push(ws, "realtime:p", "presence", {"event": "untrack"}, ref)
            assert (await recv_json(ws))[4]["status"] == "ok"
            if ref == "3":
                leave = await recv_json(ws)
                assert leave[4] == {"joins": {}, "leaves": {"me": {"metas": [meta]}}}
        assert await next_is_heartbeat(ws)
        await push(ws, "realtime:p", "presence", {"event": "wave"}, "5")
        assert (await recv_json(ws))[4] == {
            "status": "error",
            "response": {"reason": "unknown presence event"},
        }


async def test_joining_a_topic_again_replaces_the_channel(serve: ServeHandle) -> None:
    """A second join of the same topic leaves one channel: a broadcast arrives once."""
    async with (
        websockets.connect(ws_url(serve, "1.0.0")) as ws,
        websockets.connect(ws_url(serve, "2.0.0")) as sender,
    ):
        for ref in ("1", "2"):
            await ws.send(
                json.dumps(
                    {"topic": "realtime:again", "event": "phx_join", "payload": {}, "ref": ref}
                )
            )
            assert (await recv_json(ws))["payload"]["status"] == "ok"
        await join(sender, "realtime:again", {})
        await push(sender, "realtime:again", "broadcast", {"event": "e", "payload": {"n": 1}})
        got = await recv_json(ws)
        assert got["event"] == "broadcast" and got["payload"]["payload"] == {"n": 1}
        await ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "ref": "hb"}))
        assert (await recv_json(ws))["ref"] == "hb"


async def test_access_token_on_a_public_channel_keeps_it(serve: ServeHandle) -> None:
    """A valid access_token push on a public channel changes identity silently; a bad one closes."""
    alice = make_user(serve.db_url, "alice")
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        await join(ws, "realtime:pub", {"config": {}})
        token = user_token(serve, alice)
        await push(ws, "realtime:pub", "access_token", {"access_token": token}, "2")
        assert await next_is_heartbeat(ws)
        await push(ws, "realtime:pub", "access_token", {"access_token": None}, "3")
        system = await recv_json(ws)
        assert system[3] == "system" and system[4]["status"] == "error"
        assert "no access token" in system[4]["message"]
        assert (await recv_json(ws))[3] == "phx_close"
        await push(ws, "realtime:pub", "broadcast", {"event": "e"}, "4")
        assert (await recv_json(ws))[4]["response"] == {"reason": "unmatched topic"}


async def test_access_token_of_a_non_member_closes_a_private_channel(serve: ServeHandle) -> None:
    """Switching a private channel's token to someone who may not read it closes the channel."""
    alice, bob = make_user(serve.db_url, "alice"), make_user(serve.db_url, "bob")
    pid = str(uuid.uuid4())
    sql(
        serve.db_url,
        "insert into public.projects (id, organization_id, name, slug) values (%s, %s, 'P', %s)",
        (pid, alice.org_id, f"p-{pid[:8]}"),
    )
    topic = f"realtime:project:{pid}"
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        joined = await join(
            ws,
            topic,
            {"config": {"private": True}, "access_token": user_token(serve, alice)},
        )
        assert joined["status"] == "ok"
        await push(ws, topic, "access_token", {"access_token": user_token(serve, alice)}, "2")
        assert await next_is_heartbeat(ws)
        await push(ws, topic, "access_token", {"access_token": user_token(serve, bob)}, "3")
        system = await recv_json(ws)
        assert system[4]["message"] == (
            f"Unauthorized: You do not have permissions to read from this Channel topic: "
            f"project:{pid}"
        )
        assert (await recv_json(ws))[3] == "phx_close"


async def test_presence_needs_the_write_policy_on_private_topics(serve: ServeHandle) -> None:
    """A private topic members may read but not write refuses presence with Supabase's reason."""
    sql(
        serve.db_url,
        "create policy read_only_lobby on realtime.messages for select to authenticated "
        "using (topic = 'lobby:read-only')",
    )
    alice = make_user(serve.db_url, "alice")
    topic = "realtime:lobby:read-only"
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        joined = await join(
            ws,
            topic,
            {
                "config": {
                    "private": True,
                    "presence": {"enabled": True},
                    "broadcast": {"ack": True},
                },
                "access_token": user_token(serve, alice),
            },
        )
        assert joined["status"] == "ok"
        assert (await recv_json(ws))[3] == "presence_state"
        await push(ws, topic, "presence", {"event": "track", "payload": {"a": 1}}, "2")
        assert (await recv_json(ws))[4] == {
            "status": "error",
            "response": {
                "reason": "Unauthorized: You do not have permissions to track presence: "
                "lobby:read-only"
            },
        }
        # with ack on, an allowed broadcast is acknowledged: this one is dropped silently
        await push(ws, topic, "broadcast", {"event": "e", "payload": {}}, "3")
        assert await next_is_heartbeat(ws)


async def test_a_failing_policy_is_an_internal_error_reply(serve: ServeHandle) -> None:
    """A join whose RLS check fails in the database gets 'internal error'; the socket goes on."""
    sql(
        serve.db_url,
        "create policy broken on realtime.messages for select to authenticated using ("
        "case when realtime.topic() = 'boom' then 1 / (length(realtime.topic()) - 4) = 1 "
        "else false end)",
    )
    alice = make_user(serve.db_url, "alice")
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        joined = await join(
            ws,
            "realtime:boom",
            {"config": {"private": True}, "access_token": user_token(serve, alice)},
        )
        assert joined == {"status": "error", "response": {"reason": "internal error"}}
        assert await next_is_heartbeat(ws)


async def test_an_unsupported_protocol_version_is_refused_before_the_upgrade(
    serve: ServeHandle,
) -> None:
    """vsn 3.0.0 gets HTTP 403 like a bad apikey; the supported ones connect."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(ws_url(serve, "3.0.0")):
            pass
    assert refused.value.response.status_code == 403
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        assert await next_is_heartbeat(ws)


async def test_a_change_to_a_table_dropped_since_is_skipped(serve: ServeHandle) -> None:
    """A change whose table is gone by delivery time is skipped; later changes still arrive."""
    sql(
        serve.db_url,
        "create table public.gone_soon (id int primary key);"
        "create table public.stays (id int primary key);"
        "grant select on public.gone_soon, public.stays to service_role;"
        "alter publication supabase_realtime add table public.gone_soon, public.stays",
    )
    bindings = [
        {"event": "*", "schema": "public", "table": "gone_soon"},
        {"event": "INSERT", "schema": "public", "table": "stays"},
    ]
    async with websockets.connect(ws_url(serve, "2.0.0", serve.service_role_key)) as ws:
        joined = await join(ws, "realtime:changes", {"config": {"postgres_changes": bindings}})
        assert joined["status"] == "ok"
        assert (await recv_json(ws))[4]["message"] == "Subscribed to PostgreSQL"
        with psycopg.connect(serve.db_url) as conn:
            conn.execute("insert into public.gone_soon values (1)")
            conn.execute("drop table public.gone_soon")
        sql(serve.db_url, "insert into public.stays values (7)")
        change = await recv_json(ws)
        assert change[3] == "postgres_changes"
        data = change[4]["data"]
        assert (data["table"], data["type"], data["record"]) == ("stays", "INSERT", {"id": 7})


async def test_a_token_with_a_string_exp_still_expires_the_channel(serve: ServeHandle) -> None:
    """exp as a numeric string (PyJWT accepts it) closes the channel at expiry like a number."""
    token = serve.keys.sign({"role": "anon", "exp": str(int(time.time()) + 3)})
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        joined = await join(ws, "realtime:short", {"config": {}, "access_token": token})
        assert joined["status"] == "ok"
        system = await recv_json(ws)
        assert system[3] == "system" and system[4]["message"].startswith("Token has expired")
        assert (await recv_json(ws))[3] == "phx_close"


async def test_a_token_for_an_unknown_role_is_refused_at_join(serve: ServeHandle) -> None:
    """A correctly signed token whose role is not an API role cannot join."""
    token = serve.keys.sign({"role": "supabase_admin", "exp": int(time.time()) + 60})
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        refused = await join(ws, "realtime:r", {"config": {}, "access_token": token})
    assert refused == {
        "status": "error",
        "response": {"reason": "InvalidJWTToken: unknown role 'supabase_admin'"},
    }
