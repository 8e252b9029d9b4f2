"""The database side of Realtime: LISTEN, read what was committed, hand it on.

Two notification channels, both carrying only an id (NOTIFY payloads are small):
``realtime_messages`` (the bootstrap's trigger on realtime.messages: broadcasts from
``realtime.send``) and ``realtime_local_changes`` (the local change capture). The
ids are read back in batches on a second connection, in notification (commit) order.

If the database goes away (restart, killed backend), the listener reconnects with
exponential backoff while sockets stay up, then catches up on what was committed
in between from the tables themselves (deduplicated by id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from runner.db.connect import connect_kwargs
from runner.db.sqlfiles import serve_sql
from runner.serve.realtime.changes import Change

log = logging.getLogger("runner.serve.realtime")

MESSAGES_CHANNEL = "realtime_messages"
CHANGES_CHANNEL = "realtime_local_changes"
APPLICATION_NAME = "runner-serve-realtime"
CATCH_UP_MARGIN = timedelta(seconds=10)
PRUNE_EVERY_S = 60.0


@dataclass(frozen=True)
class Message:
    """A broadcast row of realtime.messages."""

    id: str
    topic: str
    event: str | None
    payload: Any
    private: bool
    inserted_at: datetime


class Seen:
    """The last ids handled, to deliver each message once across a catch-up."""

    def __init__(self, size: int = 20000) -> None:
        self.order: deque[Any] = deque()
        self.ids: set[Any] = set()
        self.size = size

    def add(self, item: Any) -> bool:
        """Remember ``item``; False if it was already there."""
        if item in self.ids:
            return False
        self.ids.add(item)
        self.order.append(item)
        if len(self.order) > self.size:
            self.ids.discard(self.order.popleft())
        return True


class DatabaseListener:
    """Delivers committed broadcasts and changes to the handlers, surviving restarts."""

    def __init__(
        self,
        url: str,
        on_messages: Callable[[list[Message]], None],
        on_changes: Callable[[list[Change]], Awaitable[None]],
    ) -> None:
        self.url = url
        self.on_messages = on_messages
        self.on_changes = on_changes
        self.connected = asyncio.Event()
        self.sessions = 0
        self._seen_messages = Seen()
        self._seen_changes = Seen()
        self._message_since: datetime | None = None
        self._change_since: datetime | None = None
        self._last_prune = 0.0
        self.backoff_initial_s = 0.05
        self.backoff_max_s = 5.0

    async def run(self) -> None:
        """Listen forever, reconnecting with exponential backoff."""
        backoff = self.backoff_initial_s
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                log.warning(
                    "realtime listener lost the database (%s); reconnecting", type(exc).__name__
                )
            finally:
                self.connected.clear()
            if time.monotonic() - started > 30:
                backoff = self.backoff_initial_s
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max_s)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, application_name=APPLICATION_NAME, **connect_kwargs()
        )

    async def _session(self) -> None:
        listen = await self._connect()
        reader = await self._connect()
        pending: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        processor: asyncio.Task[None] | None = None
        try:
            for channel in (MESSAGES_CHANNEL, CHANGES_CHANNEL):
                await listen.execute(sql.SQL("listen {}").format(sql.Identifier(channel)))
            if self.sessions == 0:
                cur = await reader.execute(serve_sql("clock"))
                row = await cur.fetchone()
                assert row is not None
                self._message_since, self._change_since = row
            else:
                await self._catch_up(reader)
            self.sessions += 1
            self.connected.set()
            processor = asyncio.create_task(self._process(reader, pending))
            async for notify in listen.notifies():
                pending.put_nowait((notify.channel, notify.payload))
                if processor.done():
                    processor.result()  # the reader connection failed: reconnect
        finally:
            if processor is not None:
                processor.cancel()
                with contextlib.suppress(asyncio.CancelledError, psycopg.Error, OSError):
                    await processor
            for conn in (listen, reader):
                # a broken connection may fail to close; it is gone either way
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _process(
        self, reader: psycopg.AsyncConnection[Any], pending: asyncio.Queue[tuple[str, str]]
    ) -> None:
        while True:
            batch = [await pending.get()]
            while not pending.empty():
                batch.append(pending.get_nowait())
            message_ids = [p for c, p in batch if c == MESSAGES_CHANNEL]
            change_ids = [int(p) for c, p in batch if c == CHANGES_CHANNEL and p.isdigit()]
            if message_ids:
                await self._read_messages(reader, message_ids)
            if change_ids:
                await self._read_changes(reader, change_ids)

    async def _read_messages(self, reader: psycopg.AsyncConnection[Any], ids: list[str]) -> None:
        cur = await reader.execute(serve_sql("read_messages"), {"ids": ids})
        by_id = {row[0]: Message(*row) for row in await cur.fetchall()}
        # in notification order, which is commit order
        self._deliver_messages([by_id[i] for i in ids if i in by_id])

    def _deliver_messages(self, messages: list[Message]) -> None:
        fresh = [m for m in messages if self._seen_messages.add(m.id)]
        for m in fresh:
            if self._message_since is None or m.inserted_at > self._message_since:
                self._message_since = m.inserted_at
        if fresh:
            self.on_messages(fresh)

    async def _read_changes(self, reader: psycopg.AsyncConnection[Any], ids: list[int]) -> None:
        cur = await reader.execute(serve_sql("read_changes"), {"ids": ids})
        await self._deliver_changes([Change(*row) for row in await cur.fetchall()])
        if time.monotonic() - self._last_prune > PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            await reader.execute(serve_sql("prune_changes"))

    async def _deliver_changes(self, changes: list[Change]) -> None:
        fresh = [c for c in changes if self._seen_changes.add(c.id)]
        for c in fresh:
            if self._change_since is None or c.commit_timestamp > self._change_since:
                self._change_since = c.commit_timestamp
        if fresh:
            await self.on_changes(fresh)

    async def _catch_up(self, reader: psycopg.AsyncConnection[Any]) -> None:
        """Deliver what was committed while the listener was away."""
        if self._message_since is not None:
            since = self._message_since - CATCH_UP_MARGIN
            cur = await reader.execute(serve_sql("catch_up_messages"), {"since": since})
            self._deliver_messages([Message(*row) for row in await cur.fetchall()])
        if self._change_since is not None:
            since_change = self._change_since - CATCH_UP_MARGIN
            try:
                cur = await reader.execute(serve_sql("catch_up_changes"), {"since": since_change})
            except psycopg.errors.UndefinedTable:
                return  # not the local stack: no change capture
            await self._deliver_changes([Change(*row) for row in await cur.fetchall()])
