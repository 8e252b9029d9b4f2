"""Running ``serve`` in tests: a handle on a live server, and starting one in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass

import uvicorn

from runner.serve.app import create_app
from runner.serve.keys import ServeKeys
from runner.serve.state import ServeState

# fixed: tests may sign their own tokens with it
JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256-0123456789"


@dataclass(frozen=True)
class ServeHandle:
    """Where the test server listens and the keys it accepts."""

    url: str
    db_url: str
    keys: ServeKeys
    state: ServeState

    @property
    def anon_key(self) -> str:
        return self.keys.anon_key

    @property
    def service_role_key(self) -> str:
        return self.keys.service_role_key


def start_server(state: ServeState, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    """Run ``create_app(state)`` on ``sock`` in a thread; returns once it accepts requests."""
    config = uvicorn.Config(
        create_app(state), log_level="warning", lifespan="on", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="serve", daemon=True
    )
    thread.start()
    started = threading.Event()

    def watch() -> None:
        while thread.is_alive() and not server.started:
            thread.join(0.01)
        started.set()

    threading.Thread(target=watch, daemon=True).start()
    if not started.wait(30) or not server.started:
        raise RuntimeError("serve did not start")
    return server, thread
