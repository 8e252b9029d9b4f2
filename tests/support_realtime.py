"""Shared by the realtime tests: users and organisations, tokens, clients, waiting."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import websockets
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from support_serve import ServeHandle

TIMEOUT = 10.0


@dataclass(frozen=True)
class User:
    """A signed-up user (auth.users + profile) and the organisation they own."""

    id: str
    email: str
    org_id: str


def make_user(db_url: str, name: str) -> User:
    """An auth user who owns a fresh organisation named after them."""
    uid, org = str(uuid.uuid4()), str(uuid.uuid4())
    email = f"{name}-{uid[:8]}@example.com"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into auth.users (id, email, aud, role, created_at) "
            "values (%s, %s, 'authenticated', 'authenticated', now())",
            (uid, email),
        )
        conn.execute(
            "insert into public.organizations (id, name, slug, created_by) values (%s, %s, %s, %s)",
            (org, f"Org {name}", f"org-{uid[:8]}", uid),
        )
    return User(uid, email, org)


def user_token(serve: ServeHandle, user: User, lifetime_s: float = 3600) -> str:
    """A user access token as the auth server would issue it."""
    now = int(time.time())
    return serve.keys.sign(
        {
            "sub": user.id,
            "email": user.email,
            "role": "authenticated",
            "aud": "authenticated",
            "iat": now,
            "exp": int(now + lifetime_s),
        }
    )


def sql(db_url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement as the superuser (committed); its rows, if any."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def realtime_url(serve: ServeHandle) -> str:
    return f"{serve.url}/realtime/v1"


@asynccontextmanager
async def realtime_client(serve: ServeHandle, token: str | None = None) -> AsyncIterator[Any]:
    """An official realtime-py client on the anon key, acting as ``token`` if given."""
    client = AsyncRealtimeClient(realtime_url(serve), token=serve.anon_key, auto_reconnect=False)
    if token is not None:
        await client.set_auth(token)
    await client.connect()
    try:
        yield client
    finally:
        await client.close()


async def subscribe(channel: Any) -> tuple[RealtimeSubscribeStates, Exception | None]:
    """Subscribe and return the state the server's reply led to."""
    states: list[tuple[RealtimeSubscribeStates, Exception | None]] = []
    await channel.subscribe(lambda state, err: states.append((state, err)))
    assert states, "subscribe returned without a state"
    return states[0]


class Inbox:
    """Collects callback payloads; ``get`` waits for the next one with a timeout."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def __call__(self, *args: Any) -> None:
        self.queue.put_nowait(args[0] if len(args) == 1 else args)

    async def get(self, wait_s: float = TIMEOUT) -> Any:
        return await asyncio.wait_for(self.queue.get(), wait_s)

    async def nothing(self, within: float = 0.5) -> bool:
        """True if nothing arrives within ``within`` seconds (for negative checks)."""
        try:
            await asyncio.wait_for(self.queue.get(), within)
        except TimeoutError:
            return True
        return False


def ws_url(serve: ServeHandle, vsn: str, apikey: str | None = None) -> str:
    key = serve.anon_key if apikey is None else apikey
    return serve.url.replace("http://", "ws://") + f"/realtime/v1/websocket?apikey={key}&vsn={vsn}"


async def recv_json(ws: websockets.ClientConnection, wait_s: float = TIMEOUT) -> Any:
    """The next text frame, parsed."""
    data = await asyncio.wait_for(ws.recv(), wait_s)
    assert isinstance(data, str), f"expected a text frame, got {data!r}"
    return json.loads(data)
