"""``/realtime/v1/websocket``: Phoenix channels as Supabase Realtime speaks them."""

from __future__ import annotations

from starlette.websockets import WebSocket

from runner.serve.state import ServeState


class RealtimeService:
    """Owns the sockets, channels and the database listener of one ``serve``."""

    def __init__(self, state: ServeState) -> None:
        self.state = state

    async def start(self) -> None:
        """Start listening to the database (being built: issue #5)."""

    async def stop(self) -> None:
        """Close every socket and the listener."""

    async def endpoint(self, websocket: WebSocket) -> None:
        """One client socket (being built: issue #5): refused for now."""
        await websocket.close(code=1011)
