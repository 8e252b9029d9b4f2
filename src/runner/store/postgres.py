"""``PostgresStore``: records a run through our SQL functions on a direct connection.

Acts as the service role (or a user) by setting ``role`` and ``request.jwt.claims``
at the start of every transaction, exactly as PostgREST does, so RLS and the
functions' own checks apply the same way as on the REST path. Writes from the hot
path are queued and written in batches by a ``BatchWriter``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from runner.db.connect import Target, connect, describe
from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.models import RunStatus
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
from runner.store.writer import BatchWriter, Op


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
        self.run_id: str | None = None
        self.case_ids: dict[str, str] = {}
        self.quarantined: frozenset[str] = frozenset()
        """Test ids quarantined when the run started (read by ``start_run``)."""
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self.writer: BatchWriter | None = None

    async def __aenter__(self) -> PostgresStore:
        self._conn = await connect(self.target)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await stop_heartbeat(self.heartbeat)
        if self.writer is not None:
            await self.writer.close()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> psycopg.AsyncConnection[Any]:
        """The open connection (``async with`` the store first)."""
        if self._conn is None:
            raise DatabaseError("the store is not open")
        return self._conn

    @property
    def user(self) -> str | None:
        """The signed-in user the store acts as (``RUNNER_DATABASE_ROLE=authenticated``)."""
        if self.identity.role != "authenticated" or not self.identity.claims.get("sub"):
            return None
        return str(self.identity.claims.get("email") or self.identity.claims["sub"])

    async def _call(
        self, function: str, args: dict[str, Any], doing: str, refused: str = ""
    ) -> Any:
        """``select public.<function>(...)`` as the store's identity, in its own transaction."""
        return await call_function(self.conn, self.identity, function, args, doing, refused)

    async def rotate_secret_key(self, old: SecretBox, new: SecretBox) -> RotationReport:
        """Re-encrypt every ciphertext from ``old`` to ``new`` in one transaction."""
        from runner.store.vault import rotate_secrets

        return await rotate_secrets(self.conn, old, new)

    async def start_run(self, info: RunInfo) -> str | None:
        """Sync the suite and create the run and its context: ``public.start_suite_run``.

        The same function SupabaseStore calls over RPC, so both paths share the rules.
        """
        request = run_request(info, organization=self.organization, project=self.project)
        try:
            async with self.conn.transaction():
                await apply_identity(self.conn, self.identity)
                cur = await self.conn.execute(query("start_suite_run"), (Jsonb(request),))
                row = await cur.fetchone()
                assert row is not None
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot record the run: {describe(exc)}{self._refused(exc)}"
            ) from None
        started = StartedRun.from_json(row[0])
        announce(started, info.suite)
        self.heartbeat = postgres_heartbeat(
            self.target, self.identity, started.run_id, self.heartbeat_s
        )
        self.run_id = started.run_id
        self.case_ids = started.case_ids
        # quarantined tests run, but their failures do not fail the run
        self.quarantined = started.quarantined
        self.writer = BatchWriter(
            self._flush,
            self.spill_dir / f"run-{started.run_id}.jsonl",
            max_batch=self.max_batch,
        )
        self.writer.start()
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

    async def finish_run(self, status: RunStatus) -> None:
        """Write everything queued, then mark the run finished."""
        if self.run_id is None:
            return
        if self.writer is not None:
            await self.writer.close()
        try:
            async with self.conn.transaction():
                await apply_identity(self.conn, self.identity)
                # every batch refreshed its metrics groups: finishing need not (0022)
                await self.conn.execute(query("metrics_current"))
                await self.conn.execute(query("finish_run"), (self.run_id, status.value))
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot finish run {self.run_id}: {describe(exc)}") from None

    async def _flush(self, batch: Sequence[Op]) -> None:
        assert self.run_id is not None
        # pipeline mode: the batch's statements go out together and their answers are
        # read together, one round trip and one transaction per batch
        async with self.conn.transaction(), self.conn.pipeline():
            await apply_identity(self.conn, self.identity)
            # the batch's daily percentiles are recomputed by its own trigger, while the
            # tests go on: not deferred to the end of the run (0022)
            for function, args in batch_calls(self.run_id, batch):
                await self.conn.execute(*call_statement(function, args))
