"""Realtime at the frame level with a raw websocket: vsn 1.0.0 and 2.0.0, binary, faults."""

from __future__ import annotations

import asyncio
import json
import socket
import struct

import pytest
import websockets

from runner.serve.realtime import RealtimeService
from runner.serve.realtime.protocol import FrameError, decode, encode_user_broadcast
from support_realtime import TIMEOUT, recv_json, sql, ws_url
from support_serve import ServeHandle

pytestmark = pytest.mark.db


def user_broadcast_push(
    topic: str, event: str, payload: bytes, *, encoding: int, ref: str = "", join_ref: str = ""
) -> bytes:
    """A kind 3 frame exactly as supabase-js's serializer writes it."""
    parts = [join_ref.encode(), ref.encode(), topic.encode(), event.encode(), b""]
    header = bytes([3, *(len(p) for p in parts), encoding])
    return header + b"".join(parts) + payload


def parse_user_broadcast(data: bytes) -> dict[str, object]:
    """A kind 4 frame read as supabase-js's serializer reads it."""
    kind, topic_len, event_len, meta_len, encoding = struct.unpack("5B", data[:5])
    assert kind == 4
    offset = 5
    topic = data[offset : offset + topic_len].decode()
    offset += topic_len
    event = data[offset : offset + event_len].decode()
    offset += event_len + meta_len
    body = data[offset:]
    return {
        "topic": topic,
        "event": event,
        "payload": json.loads(body) if encoding == 1 else body,
    }


async def join_v2(ws: websockets.ClientConnection, topic: str, ref: str = "1") -> list[object]:
    await ws.send(json.dumps([ref, ref, topic, "phx_join", {"config": {}}]))
    reply = await recv_json(ws)
    assert reply[3] == "phx_reply" and reply[4]["status"] == "ok", reply
    return list(reply)


async def test_vsn1_heartbeat_reply(serve: ServeHandle) -> None:
    """vsn 1.0.0: a heartbeat on topic phoenix gets an ok phx_reply with its ref."""
    async with websockets.connect(ws_url(serve, "1.0.0")) as ws:
        await ws.send(
            json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "7"})
        )
        reply = await recv_json(ws)
        assert reply == {
            "topic": "phoenix",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": "7",
        }


async def test_vsn2_join_and_heartbeat_are_arrays(serve: ServeHandle) -> None:
    """vsn 2.0.0: replies are [join_ref, ref, topic, event, payload] arrays."""
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        reply = await join_v2(ws, "realtime:v2")
        assert reply == [
            "1",
            "1",
            "realtime:v2",
            "phx_reply",
            {"status": "ok", "response": {"postgres_changes": []}},
        ]
        await ws.send(json.dumps([None, "2", "phoenix", "heartbeat", {}]))
        assert await recv_json(ws) == [
            None,
            "2",
            "phoenix",
            "phx_reply",
            {"status": "ok", "response": {}},
        ]


async def test_binary_user_broadcast_json_and_bytes(serve: ServeHandle) -> None:
    """A kind 3 push (JSON and binary payloads) reaches others as kind 4 frames; ack replies."""
    async with (
        websockets.connect(ws_url(serve, "2.0.0")) as a,
        websockets.connect(ws_url(serve, "2.0.0")) as b,
    ):
        await a.send(
            json.dumps(
                ["1", "1", "realtime:bin", "phx_join", {"config": {"broadcast": {"ack": True}}}]
            )
        )
        assert (await recv_json(a))[4]["status"] == "ok"
        await join_v2(b, "realtime:bin")
        await a.send(
            user_broadcast_push("realtime:bin", "ev", b'{"x":1}', encoding=1, ref="2", join_ref="1")
        )
        ack = await recv_json(a)
        assert ack == ["1", "2", "realtime:bin", "phx_reply", {"status": "ok", "response": {}}]
        frame = await asyncio.wait_for(b.recv(), TIMEOUT)
        assert isinstance(frame, bytes)
        assert parse_user_broadcast(frame) == {
            "topic": "realtime:bin",
            "event": "ev",
            "payload": {"x": 1},
        }
        await a.send(
            user_broadcast_push(
                "realtime:bin", "raw", b"\x00\x01\xff", encoding=0, ref="3", join_ref="1"
            )
        )
        await recv_json(a)
        frame = await asyncio.wait_for(b.recv(), TIMEOUT)
        assert isinstance(frame, bytes)
        assert parse_user_broadcast(frame)["payload"] == b"\x00\x01\xff"


async def test_json_array_broadcast_reaches_vsn1_and_vsn2(serve: ServeHandle) -> None:
    """A broadcast reaches a vsn 1.0.0 socket as a JSON object and a vsn 2.0.0 one as binary."""
    async with (
        websockets.connect(ws_url(serve, "1.0.0")) as one,
        websockets.connect(ws_url(serve, "2.0.0")) as two,
        websockets.connect(ws_url(serve, "2.0.0")) as sender,
    ):
        await one.send(
            json.dumps(
                {
                    "topic": "realtime:mix",
                    "event": "phx_join",
                    "payload": {},
                    "ref": "1",
                    "join_ref": "1",
                }
            )
        )
        assert (await recv_json(one))["payload"]["status"] == "ok"
        await join_v2(two, "realtime:mix")
        await join_v2(sender, "realtime:mix")
        payload = {"type": "broadcast", "event": "hi", "payload": {"a": [1, 2]}}
        await sender.send(json.dumps(["1", "2", "realtime:mix", "broadcast", payload]))
        got_one = await recv_json(one)
        assert got_one == {
            "topic": "realtime:mix",
            "event": "broadcast",
            "payload": payload,
            "ref": None,
        }
        got_two = await asyncio.wait_for(two.recv(), TIMEOUT)
        assert isinstance(got_two, bytes)
        assert parse_user_broadcast(got_two)["payload"] == {"a": [1, 2]}


async def test_malformed_frames_are_ignored(serve: ServeHandle) -> None:
    """Garbage, wrong shapes and unknown binary kinds leave the socket and others working."""
    async with (
        websockets.connect(ws_url(serve, "2.0.0")) as bad,
        websockets.connect(ws_url(serve, "2.0.0")) as good,
    ):
        await join_v2(good, "realtime:ok")
        for frame in ["not json", "[1,2]", '{"topic": 1}', "[null,null,1,2,3]", "null"]:
            await bad.send(frame)
        await bad.send(b"\x09\x00\x00")
        await bad.send(b"\x03\xff")
        await bad.send(json.dumps([None, "9", "phoenix", "heartbeat", {}]))
        assert (await recv_json(bad))[1] == "9"
        await good.send(json.dumps([None, "2", "phoenix", "heartbeat", {}]))
        assert (await recv_json(good))[1] == "2"


async def test_push_to_unjoined_topic_is_an_error_reply(serve: ServeHandle) -> None:
    """A push on a topic the socket has not joined gets Phoenix's 'unmatched topic' error."""
    async with websockets.connect(ws_url(serve, "2.0.0")) as ws:
        await ws.send(
            json.dumps(["1", "1", "realtime:nope", "broadcast", {"event": "x", "payload": {}}])
        )
        reply = await recv_json(ws)
        assert reply[4] == {"status": "error", "response": {"reason": "unmatched topic"}}


async def test_bad_apikey_is_refused(serve: ServeHandle) -> None:
    """A socket whose apikey is not signed with the project's secret is refused (HTTP 403)."""
    forged = serve.anon_key[:-4] + "AAAA"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(ws_url(serve, "1.0.0", apikey=forged)):
            pass
    assert refused.value.response.status_code == 403


async def test_socket_without_heartbeats_is_closed(
    serve: ServeHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket that sends nothing within the heartbeat timeout is closed by the server."""
    monkeypatch.setattr(RealtimeService, "heartbeat_timeout_s", 0.5)
    async with websockets.connect(ws_url(serve, "1.0.0")) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert ws.close_code == 1000


async def test_slow_subscriber_is_dropped_others_keep_up(
    serve: ServeHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber that never reads is dropped when its queue fills; a reading one gets all."""
    monkeypatch.setattr(RealtimeService, "send_queue_size", 64)
    pad, batches, per_batch = "x" * 32000, 25, 40  # 32 MB: beyond any socket buffer
    join = {"topic": "realtime:flood", "event": "phx_join", "payload": {}, "ref": "1"}
    # a small receive buffer (no autotuning): the kernel cannot soak up the flood for it
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = serve.url.removeprefix("http://").split(":")
    raw.connect((host, int(port)))
    slow = await websockets.connect(ws_url(serve, "1.0.0"), sock=raw, max_queue=1, compression=None)
    try:
        await slow.send(json.dumps(join))
        assert (await recv_json(slow))["payload"]["status"] == "ok"
        async with websockets.connect(
            ws_url(serve, "1.0.0"), max_size=None, compression=None
        ) as fast:
            await fast.send(json.dumps(join))
            assert (await recv_json(fast))["payload"]["status"] == "ok"
            seen: list[int] = []
            for batch in range(batches):
                first = batch * per_batch + 1
                sql(
                    serve.db_url,
                    "select realtime.send(jsonb_build_object('i', i, 'pad', %s::text), 'f', "
                    "'flood', false) from generate_series(%s::int, %s::int) as i",
                    (pad, first, first + per_batch - 1),
                )
                while len(seen) < first + per_batch - 1:
                    seen.append((await recv_json(fast))["payload"]["payload"]["i"])
            assert seen == list(range(1, batches * per_batch + 1))
        # meanwhile the server dropped the socket that did not read: what it holds ends in
        # a closed connection (without a close frame, which could not be written either)
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(slow.recv(), TIMEOUT)
    finally:
        await slow.close()


def test_decoder_rejects_what_it_cannot_read() -> None:
    """Frames of the wrong shape for their vsn raise FrameError (the socket then ignores them)."""
    for data, vsn in [
        ("[]", "2.0.0"),
        ("{}", "2.0.0"),
        ("[1]", "1.0.0"),
        (b"\x03\x00\x00\x05\x00\x00\x01ab", "2.0.0"),
        (b"\x00", "1.0.0"),
    ]:
        with pytest.raises(FrameError):
            decode(data, vsn)
    frame = encode_user_broadcast("t", {"event": "e", "payload": {"k": "v"}})
    assert parse_user_broadcast(frame) == {"topic": "t", "event": "e", "payload": {"k": "v"}}
