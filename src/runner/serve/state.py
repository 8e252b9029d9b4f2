"""What every part of ``serve`` shares: the database, the keys, the public URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.db.connect import Target, connect_kwargs
from runner.serve.keys import ServeKeys

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool


@dataclass
class ServeState:
    """Shared by the REST, auth, realtime and web parts of one ``serve`` process.

    ``target`` is a connection with rights to set any role (the embedded superuser, or
    a hosted database's ``postgres``), the way PostgREST's ``authenticator`` switches
    role per request; RLS then decides what each request sees.
    """

    target: Target
    keys: ServeKeys
    public_url: str
    web_dir: Path | None = None
    pool_size: int = 10
    stale_run_s: float = 60.0
    """Runs silent this long are marked interrupted by the reaper task (RUNNER_STALE_RUN_S)."""
    _pool: AsyncConnectionPool[Any] | None = field(default=None, repr=False)

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        """The open connection pool (``open()`` first)."""
        if self._pool is None:
            raise RuntimeError("serve state is not open")
        return self._pool

    async def open(self) -> None:
        """Open the pool (waits until one connection works)."""
        from psycopg_pool import AsyncConnectionPool

        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self.target.url,
            min_size=1,
            max_size=self.pool_size,
            kwargs=connect_kwargs(),
            open=False,
            # a connection broken by a database restart is replaced, not handed out
            check=AsyncConnectionPool.check_connection,
        )
        await pool.open(wait=True, timeout=30)
        self._pool = pool

    async def reap_stale_runs(self) -> int:
        """Mark running runs whose heartbeat is older than ``stale_run_s`` interrupted."""
        from runner.db.sqlfiles import query

        async with self.pool.connection() as conn:
            cur = await conn.execute(query("reap_stale_runs"), {"stale_after_s": self.stale_run_s})
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def reap_periodically(self) -> None:
        """The reaper task of ``serve``: every half stale limit (at most 30 s), until cancelled.

        A failure (the database restarting) is logged and retried at the next tick.
        """
        import asyncio
        import logging

        interval = max(0.1, min(30.0, self.stale_run_s / 2))
        while True:
            try:
                await self.reap_stale_runs()
            except Exception as exc:
                logging.getLogger(__name__).debug("reaper tick failed: %s", exc)
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
