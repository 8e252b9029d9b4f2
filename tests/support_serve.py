"""Running ``serve`` in tests: a handle on a live server, and starting one in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from runner.db.connect import Target
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


@contextmanager
def serving(db_url: str, *, web_dir: Path | None = None) -> Iterator[ServeHandle]:
    """A running ``serve`` on a free port of 127.0.0.1 in front of ``db_url``, until exit."""
    keys = ServeKeys.from_secret(JWT_SECRET)
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else ~40 ms per response)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = ServeState(
        target=Target(db_url, embedded=True), keys=keys, public_url=url, web_dir=web_dir
    )
    server, thread = start_server(state, sock)
    try:
        yield ServeHandle(url=url, db_url=db_url, keys=keys, state=state)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
