"""One request, one transaction: identity set like PostgREST, driver errors translated once.

The transaction starts with ``set transaction read only`` for GET/HEAD, then
``role`` and ``request.jwt.claims`` (``runner.db.identity.apply_identity``); RLS decides
the rest. A name missing from the schema cache reloads it once and retries (the schema
may have changed since ``serve`` started). An unreachable database is a 503.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import PoolTimeout

from runner.db.connect import connect_kwargs
from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import query
from runner.serve.rest import errors
from runner.serve.rest.catalog import Catalog, CatalogCache
from runner.serve.state import ServeState

log = logging.getLogger(__name__)
T = TypeVar("T")
# how long a request waits for a connection before answering 503
POOL_TIMEOUT_S = 5.0
# how long a direct connection attempt may take while the database is known to be down
PROBE_TIMEOUT_S = 3
# errors that mean "not in the schema cache": worth one reload
_CACHE_MISSES = {"PGRST200", "PGRST202", "PGRST204", "PGRST205", "42703"}


class Connector:
    """Connections for requests: the pool, or a direct one while the database was down.

    After an outage the pool re-grows only on its back-off schedule (seconds, then
    minutes); a request must not wait for that. So once a request has seen the
    database down, the next ones connect directly (failing fast with 503) until one
    succeeds, by which time the pool is being refilled.
    """

    def __init__(self, state: ServeState) -> None:
        self.state = state
        self.down = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        if self.down:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.state.target.url,
                    **{**connect_kwargs(), "connect_timeout": PROBE_TIMEOUT_S},
                )
            except psycopg.OperationalError:
                raise errors.database_unavailable() from None
            self.down = False
            try:
                yield conn
            finally:
                await conn.close()
            return
        try:
            async with self.state.pool.connection(timeout=POOL_TIMEOUT_S) as conn:
                yield conn
        except PoolTimeout:
            self.down = True
            raise errors.database_unavailable() from None


async def in_transaction(
    connector: Connector,
    cache: CatalogCache,
    identity: Identity,
    work: Callable[[Any, Catalog], Awaitable[T]],
    *,
    read_only: bool,
) -> T:
    """Run ``work(conn, catalog)`` in one transaction as ``identity``."""
    for attempt in (0, 1):
        try:
            return await _once(
                connector, cache, identity, work, read_only=read_only, reload=attempt > 0
            )
        except errors.ApiError as exc:
            if attempt == 0 and exc.code in _CACHE_MISSES and exc.status != 409:
                continue
            raise
    raise AssertionError("unreachable")


async def _once(
    connector: Connector,
    cache: CatalogCache,
    identity: Identity,
    work: Callable[[Any, Catalog], Awaitable[T]],
    *,
    read_only: bool,
    reload: bool,
) -> T:
    try:
        async with connector.connection() as conn:
            try:
                async with conn.transaction():
                    if read_only:
                        await conn.execute(query("transaction_read_only"))
                    catalog = await (cache.refresh(conn) if reload else cache.get(conn))
                    await apply_identity(conn, identity)
                    return await work(conn, catalog)
            except psycopg.Error as exc:
                if conn.broken or (isinstance(exc, psycopg.OperationalError) and _is_down(exc)):
                    connector.down = True
                    raise errors.database_unavailable() from None
                raise errors.from_database_error(exc, identity.role) from None
    except psycopg.OperationalError as exc:
        log.warning("database unavailable: %s", type(exc).__name__)
        connector.down = True
        raise errors.database_unavailable() from None


def _is_down(exc: psycopg.Error) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in ("57P01", "57P03")
