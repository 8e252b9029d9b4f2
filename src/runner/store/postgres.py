"""``PostgresStore``: records a run through our SQL functions on a direct connection.

Acts as the service role (or a user) by setting ``role`` and ``request.jwt.claims``
at the start of every transaction, exactly as PostgREST does, so RLS and the
functions' own checks apply the same way as on the REST path. Writes from the hot
path are queued and written in batches by a ``BatchWriter``.

One connection is in use at a time (a lock keeps the writer's transactions and the
capabilities' calls apart) and kept across batches, so recording costs no extra
round trip. The first one is opened directly, so a database that is down when a
command starts fails at once with the driver's reason; when a connection is lost,
its replacement comes from a ``psycopg_pool`` pool that health-checks it
(``check_connection``) and reconnects in the background. A batch that fails
because the database is unreachable is retried by the writer for up to
``outage_s`` seconds (``RUNNER_DB_OUTAGE_S``), then spilled and replayed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from runner.db.connect import Target, connect, connect_kwargs, describe
from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.secrets.crypto import SecretBox
from runner.store.base import RunInfo
from runner.store.calls import batch_calls
from runner.store.capabilities import StoredCapabilities
from runner.store.heartbeat import HEARTBEAT_S, Heartbeat, postgres_heartbeat
from runner.store.heartbeat import stop as stop_heartbeat
from runner.store.pgcall import call_function, call_statement
from runner.store.queued import QueuedStore
from runner.store.records import RotationReport
from runner.store.sealing import USER_HINT
from runner.store.sync import StartedRun, announce, run_request
from runner.store.writer import FINISH, OUTAGE_S, TRANSIENT_SQLSTATE_CLASSES, BatchWriter, Op

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

LEASE_TIMEOUT_S = 3.0
"""Longest one attempt waits for a connection from the pool (the writer then backs off)."""
RECONNECT_S = 3.0
"""How long the pool keeps trying one replacement connection before a new attempt."""


POOL_NAME = "runner-store"
_returning: ContextVar[bool] = ContextVar("runner_store_returning", default=False)


class _PoolNoise(logging.Filter):
    """Drops the pool's warnings about our connections.

    The writer says once that the database is unreachable, and again when it is
    back; the pool would add a warning for each reconnection attempt and for each
    broken connection handed back.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        ours = isinstance(args, tuple) and bool(args) and args[0] == POOL_NAME
        return not (ours or _returning.get())


logging.getLogger("psycopg.pool").addFilter(_PoolNoise())


def is_outage(exc: BaseException) -> bool:
    """Whether a driver error means the database is unreachable (or briefly unable)."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        state = exc.sqlstate
        return state is None or state[:2] in TRANSIENT_SQLSTATE_CLASSES
    return isinstance(exc, OSError | TimeoutError)


class PostgresStore(StoredCapabilities, QueuedStore):
    """The direct-Postgres ``Store``: every capability, key rotation included."""

    name = "postgres"
    user_hint = USER_HINT

    def __init__(
        self,
        target: Target,
        *,
        identity: Identity | None = None,
        organization: str = "local",
        project: str | None = None,
        spill_dir: Path = Path(".runner/spill"),
        max_batch: int = 500,
        cipher: SecretBox | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        outage_s: float = OUTAGE_S,
    ) -> None:
        self.target = target
        self.heartbeat_s = heartbeat_s
        self.heartbeat: Heartbeat | None = None
        self.cipher = cipher
        """Seals tokens and secret captures in the context; None: they are redacted."""
        self.identity = identity or Identity.service()
        self.organization = organization
        self.project = project
        self.spill_dir = spill_dir
        self.max_batch = max_batch
        self.outage_s = outage_s
        self.run_id: str | None = None
        self.case_ids: dict[str, str] = {}
        self.quarantined: frozenset[str] = frozenset()
        """Test ids quarantined when the run started (read by ``start_run``)."""
        self.writer: BatchWriter | None = None
        self._conn: Conn | None = None
        self._pooled = False
        """Whether ``_conn`` came from the pool (the first one did not)."""
        self._lost = False
        """The last use of the connection found it broken (it was given up)."""
        self._pool: AsyncConnectionPool[Conn] | None = None
        self._using = asyncio.Lock()

    async def __aenter__(self) -> PostgresStore:
        self._conn = await connect(self.target)
        self._pool = AsyncConnectionPool(
            self.target.url,
            kwargs=connect_kwargs(),
            min_size=0,
            max_size=2,
            open=False,
            check=AsyncConnectionPool.check_connection,
            timeout=LEASE_TIMEOUT_S,
            reconnect_timeout=RECONNECT_S,
            name=POOL_NAME,
        )
        await self._pool.open(wait=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await stop_heartbeat(self.heartbeat)
        await self._close_writer()
        await self._drop_connection()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def user(self) -> str | None:
        """The signed-in user the store acts as (``RUNNER_DATABASE_ROLE=authenticated``)."""
        if self.identity.role != "authenticated" or not self.identity.claims.get("sub"):
            return None
        return str(self.identity.claims.get("email") or self.identity.claims["sub"])

    # -------------------------------------------------------------- connection
    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Conn]:
        """The store's connection, alone; a lost one is replaced from the pool."""
        if self._pool is None:
            raise DatabaseError("the store is not open")
        async with self._using:
            self._lost = False
            if self._conn is None or self._conn.closed:
                self._conn = await self._pool.getconn()
                self._pooled = True
            conn = self._conn
            try:
                yield conn
            except BaseException:
                status = conn.info.transaction_status
                if conn.broken or conn.closed or status != TransactionStatus.IDLE:
                    self._lost = True
                    await self._drop_connection()
                raise

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._pooled and self._pool is not None:
            token = _returning.set(True)
            try:
                await self._pool.putconn(conn)  # a broken one is discarded and replaced
            finally:
                _returning.reset(token)
        else:
            await conn.close()

    async def _with_connection(self, work: Callable[[Conn], Awaitable[T]], doing: str) -> T:
        """``work`` on the connection; once more on a new one when that one was lost."""
        for attempt in range(2):
            try:
                async with self._connection() as conn:
                    return await work(conn)
            except (psycopg.Error, DatabaseError) as exc:
                if attempt == 0 and self._lost:
                    continue
                if isinstance(exc, psycopg.Error):
                    raise DatabaseError(f"cannot {doing}: {describe(exc)}") from None
                raise
        raise AssertionError("unreachable")

    async def _call(
        self, function: str, args: dict[str, Any], doing: str, refused: str = ""
    ) -> Any:
        """``select public.<function>(...)`` as the store's identity, in its own transaction."""
        return await self._with_connection(
            lambda conn: call_function(conn, self.identity, function, args, doing, refused),
            doing,
        )

    async def rotate_secret_key(self, old: SecretBox, new: SecretBox) -> RotationReport:
        """Re-encrypt every ciphertext from ``old`` to ``new`` in one transaction."""
        from runner.store.vault import rotate_secrets

        return await self._with_connection(
            lambda conn: rotate_secrets(conn, old, new), "rotate the secret key"
        )

    # --------------------------------------------------------------- recording
    async def start_run(self, info: RunInfo) -> str | None:
        """Sync the suite and create the run and its context: ``public.start_suite_run``.

        The same function SupabaseStore calls over RPC, so both paths share the rules.
        """
        request = run_request(info, organization=self.organization, project=self.project)

        async def start(conn: Conn) -> Any:
            try:
                async with conn.transaction():
                    await apply_identity(conn, self.identity)
                    cur = await conn.execute(query("start_suite_run"), (Jsonb(request),))
                    row = await cur.fetchone()
                    assert row is not None
            except psycopg.Error as exc:
                raise DatabaseError(
                    f"cannot record the run: {describe(exc)}{self._refused(exc)}"
                ) from None
            return row[0]

        started = StartedRun.from_json(await self._with_connection(start, "record the run"))
        announce(started, info.suite)
        self.heartbeat = postgres_heartbeat(
            self.target, self.identity, started.run_id, self.heartbeat_s
        )
        self.run_id = started.run_id
        self.case_ids = started.case_ids
        # quarantined tests run, but their failures do not fail the run
        self.quarantined = started.quarantined
        self._start_writer(started.run_id)
        return started.run_id

    def _refused(self, exc: psycopg.Error) -> str:
        """A hint when row-level security refused a signed-in user."""
        if exc.sqlstate != "42501" or self.identity.role != "authenticated":
            return ""
        who = self.identity.claims.get("email") or self.identity.claims.get("sub")
        return (
            f" (acting as user {who}: recording runs needs the editor role or above "
            f"in organisation {self.organization!r})"
        )

    def _is_outage(self, exc: BaseException) -> bool:
        return is_outage(exc)

    def _describe(self, exc: BaseException) -> str:
        return describe(exc)

    async def _write_batch(self, run_id: str, batch: Sequence[Op]) -> None:
        # pipeline mode: the batch's statements go out together and their answers are
        # read together, one round trip and one transaction per batch
        async with self._connection() as conn, conn.transaction(), conn.pipeline():
            await apply_identity(conn, self.identity)
            if batch and batch[0][0] == FINISH:
                # every batch refreshed its metrics groups: finishing need not (0022)
                await conn.execute(query("metrics_current"))
            # the batch's daily percentiles are recomputed by its own trigger, while the
            # tests go on: not deferred to the end of the run (0022)
            for function, args in batch_calls(run_id, batch):
                await conn.execute(*call_statement(function, args))
