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

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
