"""One client websocket: frames in, a bounded queue of frames out, heartbeats.

Everything sent to a socket goes through its queue and one writer task, so a slow
client only ever blocks itself; when its queue is full the socket is dropped (the
client reconnects and rejoins, as both clients do). A socket that sends nothing for
``heartbeat_timeout_s`` (Phoenix's 60 s; clients beat every 25 s) is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from runner.serve.realtime.channel import Channel, join
from runner.serve.realtime.protocol import Frame, FrameError, decode, encode, reply

if TYPE_CHECKING:
    from runner.serve.realtime import RealtimeService

log = logging.getLogger("runner.serve.realtime")

CLOSE_NORMAL = 1000
CLOSE_TRY_AGAIN_LATER = 1013  # the client is too slow to take what it subscribed to


class ClientSocket:
    """A connected client and the channels it joined."""

    def __init__(
        self, service: RealtimeService, websocket: WebSocket, vsn: str, apikey: str | None
    ) -> None:
        self.service = service
        self.websocket = websocket
        self.vsn = vsn
        self.apikey = apikey
        self.channels: dict[str, Channel] = {}
        self.queue: asyncio.Queue[str | bytes] = asyncio.Queue(service.send_queue_size)
        self.closed = False
        self.close_code = CLOSE_NORMAL
        self.close_reason = ""
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ output
    def send_raw(self, data: str | bytes) -> bool:
        """Queue an encoded frame; False (and the socket is dropped) when it cannot keep up."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("dropping a realtime socket whose send queue is full")
            self.stop(CLOSE_TRY_AGAIN_LATER, "send queue full")
            return False
        return True

    def send_frame(self, frame: Frame) -> bool:
        """Encode ``frame`` for this socket's protocol version and queue it."""
        return self.send_raw(encode(frame, self.vsn))

    def stop(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """End the socket (from any task): channels leave, the websocket closes."""
        if not self.closed:
            self.closed = True
            self.close_code, self.close_reason = code, reason
            self._stop.set()

    def forget(self, channel: Channel) -> None:
        """The channel has left (or was closed by the server)."""
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]
        channel.detach()

    # ------------------------------------------------------------------ tasks
    async def run(self) -> None:
        """Serve the socket until the client leaves, times out or falls behind."""
        writer = asyncio.create_task(self._write())
        reader = asyncio.create_task(self._read())
        stopper = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({writer, reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.closed = True
            for channel in list(self.channels.values()):
                self.forget(channel)
            for task in (writer, reader, stopper):
                task.cancel()
            for task in (writer, reader, stopper):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # a client that does not read may never take the close frame: do not wait for it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.websocket.close(self.close_code, self.close_reason), timeout=1.0
            )

    async def _write(self) -> None:
        send = self.websocket.send
        while True:
            data = await self.queue.get()
            if isinstance(data, bytes):
                await send({"type": "websocket.send", "bytes": data})
            else:
                await send({"type": "websocket.send", "text": data})

    async def _read(self) -> None:
        receive = self.websocket.receive
        timeout = self.service.heartbeat_timeout_s
        while not self.closed:
            try:
                message = await asyncio.wait_for(receive(), timeout=timeout)
            except TimeoutError:
                log.info("closing a realtime socket that sent no heartbeat for %.0fs", timeout)
                self.stop(CLOSE_NORMAL, "heartbeat timeout")
                return
            if message["type"] == "websocket.disconnect":
                self.stop(int(message.get("code") or CLOSE_NORMAL))
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is None:
                continue
            try:
                frame = decode(data, self.vsn)
            except FrameError as exc:
                # Phoenix ignores what it cannot decode; the socket and everyone else go on
                log.debug("ignoring a malformed realtime frame: %s", exc)
                continue
            try:
                await self._dispatch(frame)
            except Exception:
                log.exception("realtime frame on %.80s failed", frame.topic)
                if frame.ref is not None:
                    self.send_frame(reply(frame, "error", {"reason": "internal error"}))

    async def _dispatch(self, frame: Frame) -> None:
        if frame.topic == "phoenix":
            if frame.event == "heartbeat":
                self.send_frame(reply(frame, "ok", {}))
            return
        channel = self.channels.get(frame.topic)
        if frame.event == "phx_join":
            if channel is not None:
                # a second join of the same topic replaces the first, as in Phoenix
                self.forget(channel)
            joined = await join(self, frame)
            if joined is not None and not self.closed:
                self.channels[frame.topic] = joined
            elif joined is not None:
                joined.detach()
            return
        if channel is None:
            if frame.event != "phx_leave":
                self.send_frame(reply(frame, "error", {"reason": "unmatched topic"}))
            else:
                self.send_frame(reply(frame, "ok", {}))
            return
        await channel.handle(frame)
