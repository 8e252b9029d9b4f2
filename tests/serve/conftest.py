"""A real ``serve`` (uvicorn in a thread) in front of a fresh migrated database per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from runner.database import Target
from runner.serve.keys import ServeKeys
from runner.serve.state import ServeState
from support_serve import JWT_SECRET, ServeHandle, start_server


@pytest.fixture
def serve(migrated_db: str) -> Iterator[ServeHandle]:
    """A running ``serve`` on a free port, in front of a fresh migrated database."""
    keys = ServeKeys.from_secret(JWT_SECRET)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = ServeState(target=Target(migrated_db, embedded=True), keys=keys, public_url=url)
    server, thread = start_server(state, sock)
    try:
        yield ServeHandle(url=url, db_url=migrated_db, keys=keys, state=state)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
