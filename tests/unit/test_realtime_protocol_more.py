"""The realtime frame codec on its own: refs, payload shapes, binary kinds 0/3/4, fallbacks."""

from __future__ import annotations

import json

import pytest

from runner.serve.realtime.protocol import (
    VSN_1,
    VSN_2,
    Frame,
    FrameError,
    decode,
    encode,
    encode_user_broadcast,
    reply,
)


def push_frame(join_ref: str, ref: str, topic: str, event: str, payload: bytes) -> bytes:
    """A kind 0 push as Phoenix's binary serializer writes it."""
    parts = [p.encode() for p in (join_ref, ref, topic, event)]
    return bytes([0, *(len(p) for p in parts)]) + b"".join(parts) + payload


def user_push(topic: str, event: str, meta: str, encoding: int, body: bytes) -> bytes:
    """A kind 3 user broadcast push with metadata, as supabase-js writes it."""
    parts = [b"", b"", topic.encode(), event.encode(), meta.encode()]
    return bytes([3, *(len(p) for p in parts), encoding]) + b"".join(parts) + body


def test_integer_refs_become_strings_and_booleans_are_refused() -> None:
    """Numeric refs (some clients send them) are read as strings; a boolean ref is an error."""
    frame = decode(json.dumps([3, 4, "room:a", "phx_join", {}]), VSN_2)
    assert (frame.join_ref, frame.ref) == ("3", "4")
    with pytest.raises(FrameError, match="ref"):
        decode(json.dumps([None, True, "room:a", "phx_join", {}]), VSN_2)
    with pytest.raises(FrameError, match="ref"):
        decode(json.dumps({"topic": "t", "event": "e", "ref": 1.5}), VSN_1)


def test_missing_payload_is_empty_and_non_object_payload_is_refused() -> None:
    """A null payload decodes as {}; a list payload or a non-string topic is a FrameError."""
    assert decode(json.dumps({"topic": "t", "event": "e"}), VSN_1).payload == {}
    with pytest.raises(FrameError, match="payload"):
        decode(json.dumps([None, "1", "t", "e", [1, 2]]), VSN_2)
    with pytest.raises(FrameError, match="topic"):
        decode(json.dumps([None, "1", 5, "e", {}]), VSN_2)
    with pytest.raises(FrameError, match="JSON"):
        decode("{not json", VSN_1)


def test_binary_push_kind_0_carries_raw_payload() -> None:
    """A kind 0 push decodes to its topic, event and refs with the raw bytes as payload."""
    frame = decode(push_frame("1", "2", "room:x", "custom", b"\x00\xffraw"), VSN_2)
    assert frame == Frame("room:x", "custom", {"payload": b"\x00\xffraw"}, "2", "1")
    empty_refs = decode(push_frame("", "", "room:x", "custom", b""), VSN_2)
    assert (empty_refs.ref, empty_refs.join_ref) == (None, None)


def test_malformed_binary_frames_are_refused() -> None:
    """Empty, truncated, non-UTF-8 headers and unknown kinds or encodings raise FrameError."""
    cases = {
        b"": "empty",
        b"\x00\x01\x01": "too short",
        b"\x03\x00\x00": "too short",
        b"\x00\x00\x00\x02\x00\xff\xfe": "UTF-8",
        b"\x00\x00\x00\x09\x00ab": "shorter",
        user_push("t", "e", "", 7, b"x"): "encoding 7",
        user_push("t", "e", "", 1, b"{bad"): "payload is not JSON",
        user_push("t", "e", "{bad", 1, b"{}"): "metadata is not JSON",
        b"\x09": "kind 9",
    }
    for data, message in cases.items():
        with pytest.raises(FrameError, match=message):
            decode(data, VSN_2)


def test_user_broadcast_push_metadata_never_overrides_the_frame() -> None:
    """Kind 3 metadata keys are merged in but cannot replace type, event or payload."""
    meta = json.dumps({"private": True, "event": "spoofed", "type": "x"})
    frame = decode(user_push("room:m", "moved", meta, 1, b'{"x":1}'), VSN_2)
    assert frame.event == "broadcast"
    assert frame.payload == {
        "type": "broadcast",
        "event": "moved",
        "payload": {"x": 1},
        "private": True,
    }
    listed = decode(user_push("room:m", "moved", "[1]", 1, b""), VSN_2)
    assert listed.payload == {"type": "broadcast", "event": "moved", "payload": {}}
    raw = decode(user_push("room:m", "blob", "", 0, b"\x01\x02"), VSN_2)
    assert raw.payload["payload"] == b"\x01\x02"


def test_long_topic_user_broadcast_falls_back_to_json_array() -> None:
    """A topic over 255 bytes cannot fit a kind 4 header: vsn 2 sends the JSON array instead."""
    topic = "room:" + "t" * 300
    payload = {"type": "broadcast", "event": "e", "payload": {"n": 1}}
    with pytest.raises(FrameError, match="topic is longer than 255"):
        encode_user_broadcast(topic, payload)
    sent = encode(Frame(topic, "broadcast", payload), VSN_2)
    assert isinstance(sent, str)
    assert json.loads(sent) == [None, None, topic, "broadcast", payload]
    short = encode(Frame("room:s", "broadcast", payload), VSN_2)
    assert isinstance(short, bytes) and short[0] == 4


def test_user_broadcast_meta_and_binary_body_round_trip() -> None:
    """A kind 4 frame with meta and a bytes body carries both with binary encoding."""
    data = encode_user_broadcast("t", {"event": "e", "payload": b"\x07", "meta": {"id": "m"}})
    meta = json.dumps({"id": "m"}, separators=(",", ":")).encode()
    assert data == bytes([4, 1, 1, len(meta), 0]) + b"te" + meta + b"\x07"


def test_vsn1_sends_binary_payloads_as_byte_lists_and_join_ref_when_set() -> None:
    """vsn 1.0.0 has no binary frames: bytes become a list; join_ref is present only if set."""
    frame = Frame("room:b", "broadcast", {"event": "e", "payload": b"\x01\x02"}, None, "9")
    body = json.loads(encode(frame, VSN_1))
    assert body == {
        "topic": "room:b",
        "event": "broadcast",
        "payload": {"event": "e", "payload": [1, 2]},
        "ref": None,
        "join_ref": "9",
    }
    assert "join_ref" not in json.loads(encode(Frame("t", "e", {}), VSN_1))
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        encode(Frame("t", "e", {"bad": {1}}), VSN_1)


def test_reply_echoes_topic_and_refs() -> None:
    """A phx_reply keeps the request's topic, ref and join_ref and wraps status and response."""
    request = Frame("room:r", "phx_join", {}, "5", "4")
    assert reply(request, "error", {"reason": "no"}) == Frame(
        "room:r", "phx_reply", {"status": "error", "response": {"reason": "no"}}, "5", "4"
    )
