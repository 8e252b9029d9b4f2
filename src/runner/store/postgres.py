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
from psycopg import sql
from psycopg.types.json import Jsonb

from runner.crypto import SecretBox, sealed_object
from runner.database import Target, connect, describe
from runner.errors import DatabaseError
from runner.identity import Identity, apply_identity
from runner.models import RunStatus, TestResult
from runner.store.base import RunInfo
from runner.store.calls import batch_calls, context_ops, redact_only
from runner.store.sync import StartedRun, run_request
from runner.store.writer import BatchWriter, Op

JSON_ARGUMENTS = frozenset({"p_data", "p_vars", "p_results", "p_request"})
"""Arguments of our run functions that are jsonb (the others are text, uuid or text[])."""


def call_statement(function: str, args: dict[str, Any]) -> tuple[sql.Composed, list[Any]]:
    """``select public.<function>(p_a => %s, ...)`` with named arguments, as RPC calls it."""
    names = list(args)
    statement = sql.SQL("select public.{}({})").format(
        sql.Identifier(function),
        sql.SQL(", ").join(sql.SQL("{} => %s").format(sql.Identifier(n)) for n in names),
    )
    values = [Jsonb(args[n]) if n in JSON_ARGUMENTS else args[n] for n in names]
    return statement, values


def result_row(result: TestResult, case_ids: dict[str, str]) -> dict[str, Any]:
    """A result in the shape ``public.record_results`` takes."""
    return {
        "test_case_id": case_ids.get(result.test_id),
        "test_key": result.key,
        "name": result.name,
        "row_index": result.row_index,
        "status": result.status.value,
        "error_category": result.error_category.value if result.error_category else None,
        "message": result.message,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "finished_at": result.finished_at.isoformat() if result.finished_at else None,
        "response_time_ms": result.duration_ms,
        "status_code": result.status_code,
        "passed_after_retry": result.passed_after_retry,
        "request": result.request.model_dump(mode="json") if result.request else None,
        "response": result.response.model_dump(mode="json") if result.response else None,
        "captured": result.captured,
        "checks": [c.model_dump(mode="json") for c in result.checks],
        "attempts": [a.model_dump(mode="json") for a in result.attempts],
    }


class PostgresStore:
    """The direct-Postgres ``Store``."""

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
    ) -> None:
        self.target = target
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

    async def start_run(self, info: RunInfo) -> str | None:
        """Sync the suite and create the run and its context: ``public.start_suite_run``.

        The same function SupabaseStore calls over RPC, so both paths share the rules.
        """
        request = run_request(info, organization=self.organization, project=self.project)
        try:
            async with self.conn.transaction():
                await apply_identity(self.conn, self.identity)
                cur = await self.conn.execute(
                    "select public.start_suite_run(%s)", (Jsonb(request),)
                )
                row = await cur.fetchone()
                assert row is not None
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot record the run: {describe(exc)}{self._refused(exc)}"
            ) from None
        started = StartedRun.from_json(row[0])
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

    async def test_started(self, test_key: str) -> None:
        """Queue a start; the batch announces its starts in one ``tests_started`` call."""
        if self.writer is not None:
            self.writer.put("started", test_key)

    async def record_result(self, result: TestResult) -> None:
        """Queue a result; written with the next batch."""
        if self.writer is not None:
            self.writer.put("result", result_row(result, self.case_ids))

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        """Queue the context changes; tokens and secret captures never in plaintext.

        With a ``cipher`` they are sealed (``{"enc": "v1:<key id>:..."}`` in
        captured_data, the sealed string as the token), else replaced by
        ``[REDACTED]`` (see ``runner.store.calls.context_ops``).
        """
        if self.writer is None:
            return
        hide = redact_only if self.cipher is None else self._seal
        for kind, payload in context_ops(test_id, captured, tokens, variables, secret_keys, hide):
            self.writer.put(kind, payload)

    def _seal(self, value: Any, as_object: bool) -> Any:
        assert self.cipher is not None
        return sealed_object(self.cipher, value) if as_object else self.cipher.seal(value)

    async def finish_run(self, status: RunStatus) -> None:
        """Write everything queued, then mark the run finished."""
        if self.run_id is None:
            return
        if self.writer is not None:
            await self.writer.close()
        try:
            async with self.conn.transaction():
                await apply_identity(self.conn, self.identity)
                await self.conn.execute(
                    "select public.finish_run(%s, %s)", (self.run_id, status.value)
                )
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot finish run {self.run_id}: {describe(exc)}") from None

    async def _flush(self, batch: Sequence[Op]) -> None:
        assert self.run_id is not None
        # pipeline mode: the batch's statements go out together and their answers are
        # read together, one round trip and one transaction per batch
        async with self.conn.transaction(), self.conn.pipeline():
            await apply_identity(self.conn, self.identity)
            # the daily percentiles are computed once, when the run finishes (0013)
            await self.conn.execute("select set_config('runner.defer_metrics', 'on', true)")
            for function, args in batch_calls(self.run_id, batch):
                await self.conn.execute(*call_statement(function, args))
