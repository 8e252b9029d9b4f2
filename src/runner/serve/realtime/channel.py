"""A joined channel: its config, identity and what it does with each client push.

Join, broadcast, presence, ``access_token`` and ``phx_leave`` behave like Supabase
Realtime as the official clients observe it: the join reply echoes the
postgres_changes bindings with ids; broadcasts honour ``self`` and ``ack``; a token
that expires (or an ``access_token`` push the server refuses) closes the channel
with a ``system`` error message followed by ``phx_close``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from runner.serve.realtime.authz import (
    FULL_ACCESS,
    ChannelIdentity,
    JoinRefused,
    TopicAccess,
    identity_from_token,
    refused_read,
    topic_access,
)
from runner.serve.realtime.changes import Binding, BindingError, parse_binding, reply_bindings
from runner.serve.realtime.protocol import Frame, reply

if TYPE_CHECKING:
    from runner.serve.realtime import RealtimeService
    from runner.serve.realtime.connection import ClientSocket

log = logging.getLogger("runner.serve.realtime")
TOPIC_PREFIX = "realtime:"
_ids = itertools.count(1)


class Channel:
    """One topic joined on one socket."""

    def __init__(
        self,
        socket: ClientSocket,
        topic: str,
        join_ref: str | None,
        config: dict[str, Any],
        who: ChannelIdentity,
        access: TopicAccess,
        bindings: list[Binding],
    ) -> None:
        self.id = next(_ids)
        self.socket = socket
        self.topic = topic
        self.sub_topic = topic[len(TOPIC_PREFIX) :]
        self.join_ref = join_ref
        self.private = bool(config.get("private"))
        broadcast = config.get("broadcast") if isinstance(config.get("broadcast"), dict) else {}
        presence = config.get("presence") if isinstance(config.get("presence"), dict) else {}
        assert isinstance(broadcast, dict) and isinstance(presence, dict)
        self.broadcast_self = bool(broadcast.get("self"))
        self.broadcast_ack = bool(broadcast.get("ack"))
        self.presence_enabled = bool(presence.get("enabled"))
        # Supabase: an empty presence key means a generated one per channel
        self.presence_key = str(presence.get("key") or "") or str(uuid.uuid1())
        self.who = who
        self.access = access
        self.bindings = bindings
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def service(self) -> RealtimeService:
        return self.socket.service

    # ------------------------------------------------------------------ lifecycle
    def schedule_expiry(self) -> None:
        """Close the channel when its token expires, as Supabase does."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        # a verified token always has an exp (decode requires it and checks it is a number)
        if self.who.expires_at is not None:  # pragma: no branch - see above
            delay = max(0.0, self.who.expires_at - time.time())
            self._expiry = asyncio.get_running_loop().call_later(delay, self._expired)

    def _expired(self) -> None:
        self._expiry = None
        self.shutdown("Token has expired 0 seconds ago")

    def shutdown(self, message: str) -> None:
        """Close the channel from the server: ``system`` error, then ``phx_close``."""
        self.socket.send_frame(
            Frame(
                self.topic,
                "system",
                {
                    "channel": self.sub_topic,
                    "extension": "system",
                    "message": message,
                    "status": "error",
                },
            )
        )
        self.socket.send_frame(Frame(self.topic, "phx_close", {}, self.join_ref, self.join_ref))
        self.socket.forget(self)

    def detach(self) -> None:
        """Leave the hub (presence leaves) and stop the expiry timer."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.service.hub.remove(self)

    # ------------------------------------------------------------------ pushes
    async def handle(self, frame: Frame) -> None:
        """A client push on this joined channel."""
        if frame.event == "broadcast":
            self._broadcast(frame)
        elif frame.event == "presence":
            self._presence(frame)
        elif frame.event == "access_token":
            await self._access_token(frame)
        elif frame.event == "phx_leave":
            self.socket.send_frame(reply(frame, "ok", {}))
            self.socket.forget(self)
        else:
            log.debug("ignoring event %.40r on %s", frame.event, self.topic)

    def _broadcast(self, frame: Frame) -> None:
        event = frame.payload.get("event")
        if not isinstance(event, str):
            self.socket.send_frame(reply(frame, "error", {"reason": "broadcast needs an event"}))
            return
        if self.private and not self.access.broadcast_write:
            # Supabase drops a broadcast the write policies refuse, without a reply
            return
        message = {"type": "broadcast", "event": event, "payload": frame.payload.get("payload", {})}
        self.service.hub.broadcast(self.sub_topic, self.private, message, sender=self)
        if self.broadcast_ack:
            self.socket.send_frame(reply(frame, "ok", {}))

    def _presence(self, frame: Frame) -> None:
        action = frame.payload.get("event")
        if self.private and not self.access.presence_write:
            reason = (
                f"Unauthorized: You do not have permissions to track presence: {self.sub_topic}"
            )
            self.socket.send_frame(reply(frame, "error", {"reason": reason}))
            return
        group = self.service.hub.groups.get((self.sub_topic, self.private))
        if group is None or self not in group.channels:
            return
        diff: dict[str, Any] | None
        if action == "track":
            meta = frame.payload.get("payload")
            if not isinstance(meta, dict):
                meta = {}
            diff = group.presence.track(self.id, self.presence_key, meta)
        elif action == "untrack":
            diff = group.presence.untrack(self.id)
        else:
            self.socket.send_frame(reply(frame, "error", {"reason": "unknown presence event"}))
            return
        self.socket.send_frame(reply(frame, "ok", {}))
        if diff is not None:
            self.service.hub.fan_out(group, Frame(self.topic, "presence_diff", diff))

    async def _access_token(self, frame: Frame) -> None:
        token = frame.payload.get("access_token")
        try:
            who = identity_from_token(self.service.state.keys, token if token else None)
        except JoinRefused as exc:
            self.shutdown(str(exc).removeprefix("InvalidJWTToken: "))
            return
        if self.private:
            access = await topic_access(self.service.state.pool, who, self.sub_topic)
            if not access.read:
                self.shutdown(refused_read(self.sub_topic))
                return
            self.access = access
        self.who = who
        self.schedule_expiry()


async def join(socket: ClientSocket, frame: Frame) -> Channel | None:
    """Handle ``phx_join``: reply ok and return the channel, or reply with the refusal."""
    service = socket.service
    if not frame.topic.startswith(TOPIC_PREFIX):
        socket.send_frame(reply(frame, "error", {"reason": "unmatched topic"}))
        return None
    config = frame.payload.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        socket.send_frame(reply(frame, "error", {"reason": "config must be an object"}))
        return None
    try:
        token = frame.payload.get("access_token") or socket.apikey
        who = identity_from_token(service.state.keys, token if isinstance(token, str) else None)
        sub_topic = frame.topic[len(TOPIC_PREFIX) :]
        access = FULL_ACCESS
        if config.get("private"):
            access = await topic_access(service.state.pool, who, sub_topic)
            if not access.read:
                raise JoinRefused(refused_read(sub_topic))
        raw_bindings = config.get("postgres_changes") or []
        if not isinstance(raw_bindings, list):
            raise BindingError("postgres_changes must be a list")
        bindings = [parse_binding(raw) for raw in raw_bindings]
        if bindings and not await service.capture.sync():
            raise JoinRefused(
                "postgres_changes needs the local stack (no change capture on this database)"
            )
    except (JoinRefused, BindingError) as exc:
        socket.send_frame(reply(frame, "error", {"reason": str(exc)}))
        return None
    channel = Channel(
        socket, frame.topic, frame.join_ref or frame.ref, config, who, access, bindings
    )
    socket.send_frame(reply(frame, "ok", {"postgres_changes": reply_bindings(bindings)}))
    group = service.hub.add(channel)
    if bindings:
        system = {
            "channel": channel.sub_topic,
            "extension": "postgres_changes",
            "message": "Subscribed to PostgreSQL",
            "status": "ok",
        }
        socket.send_frame(Frame(frame.topic, "system", system))
    if channel.presence_enabled:
        socket.send_frame(Frame(frame.topic, "presence_state", group.presence.state()))
    channel.schedule_expiry()
    return channel
