"""Batched, off-the-hot-path writing with a spill file as the last resort.

The engine hands over operations without awaiting the database. One background
task drains whatever has accumulated and writes it in one transaction, so a fast
run costs a handful of round trips per hundred tests, and a slow one writes each
result moments after its test finished. Between two writes it waits up to
``min_interval`` for more to gather (unless a full batch is waiting or the run is
closing): every transaction also runs the result triggers (counters, percentiles),
and thousands of tiny ones cost the database more CPU than the run itself. If the
database fails, the batch is retried with backoff; if it keeps failing, the
operations are appended to a JSON Lines spill file so nothing already obtained is
lost; ``read_spill`` gives them back, in order, for the same ``flush`` to replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("runner.store")

Op = tuple[str, Any]
"""(kind, payload): kind in result | started | capture | token | variables."""

Flush = Callable[[Sequence[Op]], Awaitable[None]]


@dataclass
class BatchWriter:
    """Queue operations; a background task writes them in batches through ``flush``."""

    flush: Flush
    spill_path: Path
    max_batch: int = 500
    retries: int = 3
    retry_delay: float = 0.2
    min_interval: float = 0.1
    _queue: list[Op] = field(default_factory=list)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _urgent: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _closing: bool = False
    spilled: int = 0
    written: int = 0
    last_error: str | None = None

    def start(self) -> None:
        """Start the background task (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="store-writer")

    def put(self, kind: str, payload: Any) -> None:
        """Queue one operation; never waits."""
        self._queue.append((kind, payload))
        self._wakeup.set()
        if len(self._queue) >= self.max_batch:
            self._urgent.set()

    async def close(self) -> None:
        """Write everything queued, then stop. Safe to call during cancellation."""
        self._closing = True
        self._wakeup.set()
        self._urgent.set()
        if self._task is not None:
            # shield: an interrupted run must still get its finished results written
            await asyncio.shield(self._task)
            self._task = None
        if self._queue:  # never started, or the loop died: write synchronously
            await self._drain()

    async def _loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._drain()
            if self._closing and not self._queue:
                return
            if self.min_interval > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self.min_interval)
                self._urgent.clear()
                if self._closing:
                    self._urgent.set()

    async def _drain(self) -> None:
        # Only what was queued when the drain began (all of it when closing): what
        # arrives while a batch is being written waits for the next round and its
        # interval. Chasing it made a busy run write hundreds of tiny batches.
        pending = len(self._queue)
        while self._queue and (pending > 0 or self._closing):
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            pending -= len(batch)
            await self._write(batch)

    async def _write(self, batch: list[Op]) -> None:
        delay = self.retry_delay
        for attempt in range(self.retries + 1):
            try:
                await self.flush(batch)
                self.written += len(batch)
                return
            except asyncio.CancelledError:
                self._spill(batch)
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                log.warning(
                    "writing %d operations failed (attempt %d): %s",
                    len(batch),
                    attempt + 1,
                    self.last_error,
                )
                if attempt < self.retries:
                    await asyncio.sleep(delay)
                    delay *= 2
        self._spill(batch)

    def _spill(self, batch: list[Op]) -> None:
        self.spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spill_path.open("a", encoding="utf-8") as handle:
            for kind, payload in batch:
                handle.write(json.dumps({"kind": kind, "payload": payload}, default=str) + "\n")
        self.spilled += len(batch)
        with contextlib.suppress(Exception):
            log.error("database unavailable: %d operations kept in %s", len(batch), self.spill_path)


def read_spill(path: Path) -> list[Op]:
    """The operations of a spill file, in the order they were queued (to hand to a flush)."""
    ops: list[Op] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                ops.append((record["kind"], record["payload"]))
    return ops
