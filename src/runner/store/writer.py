"""Batched, off-the-hot-path writing that rides out database outages.

The engine hands over operations without awaiting the database. One background
task drains whatever has accumulated and writes it in one transaction, so a fast
run costs a handful of round trips per hundred tests, and a slow one writes each
result moments after its test finished. Between two writes it waits up to
``min_interval`` for more to gather (unless a full batch is waiting or the run is
closing): every transaction also runs the result triggers (counters, percentiles),
and thousands of tiny ones cost the database more CPU than the run itself.

A batch that fails because the database cannot be reached (``is_outage``) is
retried with exponential backoff and jitter for up to ``outage_s`` seconds from the
start of the outage, while the run goes on and later operations queue up behind
it. Any other failure (a data error) is retried ``retries`` times. What still could
not be written is appended to a JSON Lines spill file; the next batch that goes
through first replays the spill file, so the database receives everything in the
order it was queued. A file left at the end of a run is replayed by a later command
(``runner.store.replay``). Every write is idempotent (0031), so a batch that was
committed but whose answer was lost is simply written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("runner.store")

Op = tuple[str, Any]
"""(kind, payload): kind in result | started | capture | token | variables | finish."""

Flush = Callable[[Sequence[Op]], Awaitable[None]]

FINISH = "finish"
"""The run's last operation (payload: its final status), always written alone."""

OUTAGE_S = 300.0
"""How long a batch is retried while the database is unreachable (``RUNNER_DB_OUTAGE_S``)."""


TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""SQLSTATE classes of states that pass: connection exception, transaction rollback
(serialization, deadlock), insufficient resources, operator intervention (shutdown,
starting up, cancelled) and system error. Data errors do not (nor ``55000``: a run
already finished)."""


def connection_lost(exc: BaseException) -> bool:
    """The default outage test: the operating system says the connection failed."""
    return isinstance(exc, OSError | TimeoutError)


def spill_path(spill_dir: Path, run_id: str) -> Path:
    """Where the operations of run ``run_id`` that could not be written are kept."""
    return spill_dir / f"run-{run_id}.jsonl"


@dataclass
class BatchWriter:
    """Queue operations; a background task writes them in batches through ``flush``."""

    flush: Flush
    spill_path: Path
    max_batch: int = 500
    retries: int = 3
    """Attempts after the first for a batch that fails for a reason other than an outage."""
    retry_delay: float = 0.2
    min_interval: float = 0.1
    outage_s: float = OUTAGE_S
    max_delay: float = 2.0
    """Longest pause between two attempts (and between probes once the outage limit passed)."""
    is_outage: Callable[[BaseException], bool] = connection_lost
    _queue: list[Op] = field(default_factory=list)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _urgent: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _closing: bool = False
    _down_since: float | None = None
    _last_try: float = 0.0
    _told: bool = False
    _in_spill: Counter[str] = field(default_factory=Counter)
    _lock: IO[str] | None = None
    _jitter: random.Random = field(default_factory=random.Random)
    spilled: int = 0
    """Operations this writer put in the spill file (replayed or not)."""
    replayed: int = 0
    """Operations taken back from the spill file and written."""
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
        if len(self._queue) >= self.max_batch or kind == FINISH:
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

    def release(self) -> None:
        """Let other processes replay what is left in the spill file (the run is over)."""
        if self._lock is not None:
            if not self.spill_path.exists():  # all replayed: nothing left to guard
                lock_path(self.spill_path).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def unwritten(self) -> Counter[str]:
        """Operations not in the database, by kind: in the spill file or still queued."""
        left = Counter(self._in_spill)
        left.update(kind for kind, _ in self._queue)
        return left

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
            batch = next(batches(self._queue[: self.max_batch], self.max_batch))
            del self._queue[: len(batch)]
            pending -= len(batch)
            await self._write(batch)

    async def _write(self, batch: list[Op]) -> None:
        try:
            written = await self._try(batch)
        except asyncio.CancelledError:
            # stopped for good (a second Ctrl-C while waiting out an outage): keep this
            # batch and everything queued after it
            self._spill([*batch, *self._queue])
            self._queue.clear()
            raise
        if not written:
            self._spill(batch)

    async def _try(self, batch: list[Op]) -> bool:
        """Write ``batch`` (spilled operations first), retrying; False to spill it."""
        attempt = 0
        while not self._given_up() or self._probe_due():
            self._last_try = time.monotonic()
            try:
                await self._replay_spilled()  # earlier operations first: order is kept
                await self.flush(batch)
            except Exception as exc:
                delay = self._retry_in(exc, attempt, len(batch))
                if delay is None:
                    break
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self.written += len(batch)
            self._recovered()
            return True
        return False

    def _given_up(self) -> bool:
        """The database has been unreachable for longer than the outage limit."""
        if self._down_since is None:
            return False
        return time.monotonic() - self._down_since >= self.outage_s

    def _probe_due(self) -> bool:
        return time.monotonic() - self._last_try >= self.max_delay

    def _retry_in(self, exc: Exception, attempt: int, size: int) -> float | None:
        """Seconds to wait before the next attempt, or None to spill the batch."""
        self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        # exponential backoff, capped, with jitter so parallel runs do not retry in step
        backoff = min(self.max_delay, self.retry_delay * 2.0 ** min(attempt, 32))
        delay = backoff * self._jitter.uniform(0.5, 1.0)
        if not self.is_outage(exc):
            log.warning(
                "writing %d operations failed (attempt %d): %s", size, attempt + 1, self.last_error
            )
            return delay if attempt < self.retries else None
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "database unreachable (%s): retrying for up to %g s while the run goes on",
                self.last_error,
                self.outage_s,
            )
        left = self._down_since + self.outage_s - now
        if left <= 0:
            return None
        return min(delay, left)

    def _recovered(self) -> None:
        self._told = False
        if self._down_since is not None:
            log.warning(
                "database reachable again after %.1f s: recording goes on",
                time.monotonic() - self._down_since,
            )
            self._down_since = None

    async def _replay_spilled(self) -> None:
        """Write what this writer spilled, then forget the file; raises if that fails."""
        if not self._in_spill:
            return
        ops = read_spill(self.spill_path)
        for batch in batches(ops, self.max_batch):
            await self.flush(batch)
        self.spill_path.unlink(missing_ok=True)
        self.replayed += len(ops)
        self._in_spill.clear()
        log.warning("wrote the %d operations kept in %s", len(ops), self.spill_path)

    def _spill(self, batch: list[Op]) -> None:
        if self._lock is None:
            self._lock = hold_spill_lock(self.spill_path)
        append_spill(self.spill_path, batch)
        self.spilled += len(batch)
        self._in_spill.update(kind for kind, _ in batch)
        with contextlib.suppress(Exception):  # said once per outage, not once per batch
            log.log(
                logging.DEBUG if self._told else logging.ERROR,
                "could not write %d operations, kept in %s (%s)",
                len(batch),
                self.spill_path,
                self.last_error,
            )
        self._told = True


def batches(ops: Sequence[Op], max_batch: int) -> Iterator[list[Op]]:
    """``ops`` in batches of at most ``max_batch``, each ``finish`` alone in its own."""
    batch: list[Op] = []
    for op in ops:
        if op[0] == FINISH or len(batch) >= max_batch:
            if batch:
                yield batch
            batch = []
        batch.append(op)
        if op[0] == FINISH:
            yield batch
            batch = []
    if batch:
        yield batch


def append_spill(path: Path, ops: Sequence[Op]) -> None:
    """Add operations to a spill file (one JSON object per line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for kind, payload in ops:
            handle.write(json.dumps({"kind": kind, "payload": payload}, default=str) + "\n")


def read_spill(path: Path) -> list[Op]:
    """The operations of a spill file, in the order they were queued (to hand to a flush).

    A line cut short (the process died while writing it) is skipped with a warning.
    """
    ops: list[Op] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                ops.append((record["kind"], record["payload"]))
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: not a complete operation, skipped", path, number)
    return ops


def lock_path(spill: Path) -> Path:
    """The lock a spill file's writer holds while its run goes on."""
    return spill.with_suffix(".lock")


def hold_spill_lock(spill: Path) -> IO[str] | None:
    """Lock ``spill`` for this process; None when another one holds it.

    The writer of a run holds the lock from its first spill until the run is over,
    so a command started meanwhile leaves the file to it; a process that dies
    releases the lock with it.
    """
    lock = lock_path(spill)
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = lock.open("a", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    with contextlib.suppress(OSError):
        os.utime(lock)
    return handle
