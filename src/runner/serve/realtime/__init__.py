"""``/realtime/v1/websocket``: Phoenix channels as Supabase Realtime speaks them.

Modules: ``protocol`` (frames of vsn 1.0.0 and 2.0.0, binary broadcasts),
``connection`` (one socket: queue, heartbeats), ``channel`` (join, broadcast,
presence, tokens), ``hub`` (topics and fan-out), ``presence``, ``authz`` (JWTs and
private channels), ``changes`` (postgres_changes bindings, filters, payloads),
``capture`` (local change capture, RLS per subscriber) and ``listener`` (the
database side, reconnecting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import ClassVar

import psycopg
from starlette.websockets import WebSocket

from runner.serve.realtime.authz import ChannelIdentity, JoinRefused, identity_from_token
from runner.serve.realtime.capture import ChangeCapture
from runner.serve.realtime.changes import Change, change_data
from runner.serve.realtime.connection import ClientSocket
from runner.serve.realtime.hub import Hub
from runner.serve.realtime.listener import DatabaseListener, Message
from runner.serve.realtime.protocol import SUPPORTED_VSN, VSN_1, Frame
from runner.serve.state import ServeState

log = logging.getLogger("runner.serve.realtime")


class RealtimeService:
    """Owns the sockets, channels and the database listener of one ``serve``."""

    # Phoenix closes a socket that sends nothing for 60 s (clients beat every 25 s)
    heartbeat_timeout_s: ClassVar[float] = 60.0
    # frames queued per socket before a socket that cannot keep up is dropped
    send_queue_size: ClassVar[int] = 4096
    # how long start-up waits for the database listener before serving anyway
    listen_start_timeout_s: ClassVar[float] = 10.0

    def __init__(self, state: ServeState) -> None:
        self.state = state
        self.hub = Hub()
        self.sockets: set[ClientSocket] = set()
        self.capture: ChangeCapture = ChangeCapture(None)
        self.listener = DatabaseListener(
            state.target.url, self.deliver_messages, self.deliver_changes
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Install local change capture (local stack only) and start listening."""
        self.capture = ChangeCapture(self.state.pool)
        try:
            await self.capture.install()
        except Exception as exc:
            log.warning("postgres_changes capture not installed: %s", type(exc).__name__)
        self._task = asyncio.create_task(self.listener.run(), name="realtime-listener")
        # serve is ready only once it LISTENs: a broadcast committed right after start-up
        # must not be missed (if the database is down, the listener keeps trying)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listener.connected.wait(), self.listen_start_timeout_s)

    async def stop(self) -> None:
        """Close every socket and the listener."""
        for socket in list(self.sockets):
            socket.stop(1001, "server shutting down")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def endpoint(self, websocket: WebSocket) -> None:
        """One client socket: ``?apikey=<JWT>&vsn=1.0.0|2.0.0``."""
        vsn = websocket.query_params.get("vsn", VSN_1)
        apikey = websocket.query_params.get("apikey") or websocket.headers.get("apikey")
        try:
            if vsn not in SUPPORTED_VSN:
                raise JoinRefused(f"unsupported vsn {vsn[:20]!r}")
            identity_from_token(self.state.keys, apikey)
        except JoinRefused:
            # refused before the upgrade: the client sees HTTP 403, as from Supabase
            await websocket.close(code=1008)
            return
        await websocket.accept()
        socket = ClientSocket(self, websocket, vsn, apikey)
        self.sockets.add(socket)
        try:
            await socket.run()
        finally:
            self.sockets.discard(socket)

    # ------------------------------------------------------------ from the database
    def deliver_messages(self, messages: list[Message]) -> None:
        """Broadcasts sent with realtime.send: to the channels of their topic and privacy."""
        for message in messages:
            payload = message.payload if isinstance(message.payload, dict) else {}
            # the payload already carries the message id (realtime.send puts it there)
            out = {"type": "broadcast", "event": message.event or "", "payload": payload}
            self.hub.broadcast(message.topic, message.private, out)

    async def deliver_changes(self, changes: list[Change]) -> None:
        """Row changes: to each channel whose bindings match and whose identity may see them."""
        for change in changes:
            try:
                await self._deliver_change(change)
            except psycopg.Error as exc:
                # one change that cannot be checked must not stop the others (or the listener)
                log.warning(
                    "postgres_changes on %s.%s not delivered: %s",
                    change.schema,
                    change.table,
                    type(exc).__name__,
                )

    async def _deliver_change(self, change: Change) -> None:
        """One change to the channels it is for (RLS checked per distinct identity)."""
        targets = []
        for channel in list(self.hub.change_channels):
            ids = [
                b.id
                for b in channel.bindings
                if b.matches(change.schema, change.table, change.type, change.row)
            ]
            if ids:
                targets.append((channel, ids))
        if not targets:
            return
        info = await self.capture.table(change.schema, change.table)
        if info is None:
            return
        identities: dict[str, ChannelIdentity] = {}
        for channel, _ in targets:
            if not channel.who.bypasses_rls:
                identities.setdefault(channel.who.key, channel.who)
        allowed = (
            await self.capture.visible(list(identities.values()), change, info)
            if identities
            else {}
        )
        data = change_data(change, info)
        for channel, ids in targets:
            if channel.who.bypasses_rls or allowed.get(channel.who.key):
                channel.socket.send_frame(
                    Frame(channel.topic, "postgres_changes", {"data": data, "ids": ids})
                )


__all__ = ["RealtimeService"]
