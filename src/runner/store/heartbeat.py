"""Runs that die are marked: a heartbeat while a run is open, and the reaper.

While a store records a run, a small background task calls ``public.run_heartbeat``
every few seconds. A run whose heartbeat is older than ``RUNNER_STALE_RUN_S`` is
marked ``interrupted`` (``metadata.interrupted_reason = "runner lost"``) by
``public.reap_stale_runs``: the next command that opens a store calls it
(``reap_quietly``), ``runner serve`` calls it periodically, and pg_cron can schedule
it (docs/running.md).

The heartbeat is best effort and silent: a beat that fails (the database is down,
the connection broke) is skipped, and the next one tries again on a new connection.
The database starts counting a run's silence at its own start at the earliest, so a
database restart does not get live runs reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError

if TYPE_CHECKING:
    import psycopg

    from runner.db.connect import Target
    from runner.db.identity import Identity
    from runner.store.capabilities import StoredCapabilities

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
"""Seconds between beats with the default stale limit (60 s)."""

Beat = Callable[[], Awaitable[object]]


def interval_for(stale_after_s: float) -> float:
    """Seconds between beats for a stale limit: four beats per limit, at most ``HEARTBEAT_S``."""
    return max(0.1, min(HEARTBEAT_S, stale_after_s / 4))


class Heartbeat:
    """Calls ``beat`` every ``interval`` seconds until stopped; failures are only logged."""

    def __init__(
        self, beat: Beat, interval: float, close: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.interval = interval
        self.beats = 0
        """Beats that reached the database (for tests and diagnostics)."""
        self.failures = 0
        """Beats that failed and were skipped."""
        self.changed = asyncio.Condition()
        """Notified after every beat, successful or not (tests wait on it)."""
        self._beat = beat
        self._close = close
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Heartbeat:
        """Begin beating (the first beat comes after one interval: the run just started)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="runner-heartbeat")
        return self

    async def stop(self) -> None:
        """Stop beating and close what the beats used."""
        self._stopped.set()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._close is not None:
            with contextlib.suppress(Exception):
                await self._close()

    async def _loop(self) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.interval)
                return
            try:
                # a beat never waits longer than the stale limit it is meant to beat
                await asyncio.wait_for(self._beat(), timeout=max(self.interval * 3, 1.0))
                self.beats += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage must not reach the run
                self.failures += 1
                log.debug("heartbeat skipped: %s", exc)
            async with self.changed:
                self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[Heartbeat], bool]) -> None:
        """Wait until ``predicate(self)`` holds after a beat (bound it with ``asyncio.timeout``)."""
        async with self.changed:
            await self.changed.wait_for(lambda: predicate(self))


async def stop(heartbeat: Heartbeat | None) -> None:
    """Stop ``heartbeat`` if there is one (for a store's ``__aexit__``)."""
    if heartbeat is not None:
        await heartbeat.stop()


class _PostgresBeat:
    """Beats on a connection of its own (never the writer's), reconnecting after failures."""

    def __init__(self, target: Target, identity: Identity, run_id: str) -> None:
        self.target = target
        self.identity = identity
        self.run_id = run_id
        self.conn: psycopg.AsyncConnection[Any] | None = None

    async def beat(self) -> None:
        from runner.db.connect import connect
        from runner.store.pgcall import call_function

        try:
            if self.conn is None or self.conn.closed:
                self.conn = await connect(self.target)
            await call_function(
                self.conn, self.identity, "run_heartbeat", {"p_run_id": self.run_id}, "beat"
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


def postgres_heartbeat(
    target: Target, identity: Identity, run_id: str, interval: float
) -> Heartbeat:
    """A started heartbeat for ``run_id`` on a direct connection of its own."""
    beat = _PostgresBeat(target, identity, run_id)
    return Heartbeat(beat.beat, interval, close=beat.close).start()


def rpc_heartbeat(
    rpc: Callable[[str, dict[str, Any]], Awaitable[Any]], run_id: str, interval: float
) -> Heartbeat:
    """A started heartbeat for ``run_id`` through an RPC function (the Supabase path)."""
    return Heartbeat(lambda: rpc("run_heartbeat", {"p_run_id": run_id}), interval).start()


async def reap_quietly(store: StoredCapabilities, stale_after_s: float) -> int:
    """Mark runs silent for ``stale_after_s`` interrupted; 0 when the database refuses or fails.

    Housekeeping when a command opens its store: it must never stop the command.
    """
    try:
        return await store.reap_stale_runs(stale_after_s)
    except RunnerError as exc:
        log.debug("stale runs not reaped: %s", exc)
        return 0
