"""Phoenix channel frames as Supabase Realtime speaks them.

Two serializers, chosen per socket by the ``vsn`` query parameter:

* ``1.0.0`` (realtime-py): text frames, one JSON object
  ``{"topic", "event", "payload", "ref", "join_ref"}``.
* ``2.0.0`` (supabase-js): text frames, one JSON array
  ``[join_ref, ref, topic, event, payload]``, plus binary frames. Clients send
  ``push`` (kind 0, Phoenix) and ``user broadcast push`` (kind 3) frames; the server
  sends user broadcasts as kind 4 frames. Layouts (every size is one byte, every
  string UTF-8)::

      kind 0  push            [0, join_ref, ref, topic, event] strings, payload bytes
      kind 3  user bcast push [3, join_ref, ref, topic, user_event, meta, encoding]
                              strings, payload (encoding 0 = bytes, 1 = JSON)
      kind 4  user broadcast  [4, topic, user_event, meta, encoding] strings, payload
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
SUPPORTED_VSN = (VSN_1, VSN_2)

KIND_PUSH = 0
KIND_USER_BROADCAST_PUSH = 3
KIND_USER_BROADCAST = 4
ENCODING_BINARY = 0
ENCODING_JSON = 1


class FrameError(ValueError):
    """A frame that is not valid for the socket's protocol version."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One Phoenix message; ``payload`` is a JSON object (binary user payloads inside it)."""

    topic: str
    event: str
    payload: dict[str, Any]
    ref: str | None = None
    join_ref: str | None = None


def _ref(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise FrameError("ref and join_ref must be strings or null")


def _frame(topic: Any, event: Any, payload: Any, ref: Any, join_ref: Any) -> Frame:
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise FrameError("payload must be a JSON object")
    return Frame(topic, event, payload, _ref(ref), _ref(join_ref))


def decode(data: str | bytes, vsn: str) -> Frame:
    """The frame in ``data`` (text or binary) for a socket speaking ``vsn``."""
    if isinstance(data, bytes):
        if vsn != VSN_2:
            raise FrameError("binary frames need vsn 2.0.0")
        return _decode_binary(data)
    try:
        value = json.loads(data)
    except ValueError:
        raise FrameError("frame is not JSON") from None
    if vsn == VSN_1:
        if not isinstance(value, dict):
            raise FrameError("vsn 1.0.0 frames are JSON objects")
        return _frame(
            value.get("topic"),
            value.get("event"),
            value.get("payload"),
            value.get("ref"),
            value.get("join_ref"),
        )
    if not isinstance(value, list) or len(value) != 5:
        raise FrameError("vsn 2.0.0 frames are arrays [join_ref, ref, topic, event, payload]")
    join_ref, ref, topic, event, payload = value
    return _frame(topic, event, payload, ref, join_ref)


def _strings(data: bytes, start: int, sizes: list[int]) -> tuple[list[str], int]:
    out = []
    offset = start
    for size in sizes:
        chunk = data[offset : offset + size]
        if len(chunk) != size:
            raise FrameError("binary frame is shorter than its header says")
        try:
            out.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            raise FrameError("binary frame header is not UTF-8") from None
        offset += size
    return out, offset


def _decode_binary(data: bytes) -> Frame:
    if not data:
        raise FrameError("empty binary frame")
    kind = data[0]
    if kind == KIND_PUSH:
        if len(data) < 5:
            raise FrameError("binary push header is too short")
        (join_ref, ref, topic, event), offset = _strings(data, 5, list(data[1:5]))
        return Frame(topic, event, {"payload": data[offset:]}, ref or None, join_ref or None)
    if kind == KIND_USER_BROADCAST_PUSH:
        if len(data) < 7:
            raise FrameError("user broadcast header is too short")
        encoding = data[6]
        strings, offset = _strings(data, 7, list(data[1:6]))
        join_ref, ref, topic, user_event, meta_text = strings
        body = data[offset:]
        payload: dict[str, Any] = {"type": "broadcast", "event": user_event}
        if encoding == ENCODING_JSON:
            try:
                payload["payload"] = json.loads(body) if body else {}
            except ValueError:
                raise FrameError("user broadcast payload is not JSON") from None
        elif encoding == ENCODING_BINARY:
            payload["payload"] = bytes(body)
        else:
            raise FrameError(f"unknown payload encoding {encoding}")
        if meta_text:
            try:
                meta = json.loads(meta_text)
            except ValueError:
                raise FrameError("user broadcast metadata is not JSON") from None
            if isinstance(meta, dict):
                # only the keys supabase-js lets through; never overriding the frame's own
                payload.update({k: v for k, v in meta.items() if k not in payload})
        return Frame(topic, "broadcast", payload, ref or None, join_ref or None)
    raise FrameError(f"unknown binary frame kind {kind}")


def encode(frame: Frame, vsn: str) -> str | bytes:
    """``frame`` as the socket's serializer sends it (user broadcasts binary on vsn 2)."""
    if vsn == VSN_2:
        if frame.event == "broadcast" and frame.ref is None and _is_user_broadcast(frame.payload):
            try:
                return encode_user_broadcast(frame.topic, frame.payload)
            except FrameError:
                pass  # a header part over 255 bytes: the JSON array form carries it
        return json.dumps(
            [frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload],
            separators=(",", ":"),
            default=_binary_as_list,
        )
    body: dict[str, Any] = {
        "topic": frame.topic,
        "event": frame.event,
        "payload": frame.payload,
        "ref": frame.ref,
    }
    if frame.join_ref is not None:
        body["join_ref"] = frame.join_ref
    return json.dumps(body, separators=(",", ":"), default=_binary_as_list)


def _binary_as_list(value: Any) -> Any:
    # vsn 1.0.0 has no binary frames: a binary user payload travels as a list of bytes
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_user_broadcast(payload: dict[str, Any]) -> bool:
    return isinstance(payload.get("event"), str) and "payload" in payload


def encode_user_broadcast(topic: str, payload: dict[str, Any]) -> bytes:
    """A kind 4 frame: the server's user broadcast to a vsn 2.0.0 socket."""
    user_payload = payload.get("payload")
    if isinstance(user_payload, (bytes, bytearray)):
        encoding, body = ENCODING_BINARY, bytes(user_payload)
    else:
        encoding = ENCODING_JSON
        body = json.dumps(user_payload, separators=(",", ":")).encode()
    meta = payload.get("meta")
    meta_bytes = json.dumps(meta, separators=(",", ":")).encode() if meta else b""
    topic_bytes = topic.encode()
    event_bytes = str(payload["event"]).encode()
    for name, part in (("topic", topic_bytes), ("event", event_bytes), ("meta", meta_bytes)):
        if len(part) > 255:
            raise FrameError(f"user broadcast {name} is longer than 255 bytes")
    header = bytes(
        [KIND_USER_BROADCAST, len(topic_bytes), len(event_bytes), len(meta_bytes), encoding]
    )
    return header + topic_bytes + event_bytes + meta_bytes + body


def reply(frame: Frame, status: str, response: dict[str, Any]) -> Frame:
    """The ``phx_reply`` to ``frame``."""
    return Frame(
        frame.topic,
        "phx_reply",
        {"status": status, "response": response},
        frame.ref,
        frame.join_ref,
    )
