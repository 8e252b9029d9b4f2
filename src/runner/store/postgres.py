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

from runner.crypto import SecretBox, sealed_object
from runner.database import Target, connect, describe
from runner.errors import DatabaseError
from runner.identity import Identity, apply_identity
from runner.models import RunStatus, TestResult
from runner.redact import REDACTED
from runner.sqlfiles import query
from runner.store.base import RunInfo
from runner.store.sync import sync_suite
from runner.store.writer import BatchWriter, Op


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
        """Sync the suite, create the run and its context, all in one transaction."""
        try:
            async with self.conn.transaction():
                await apply_identity(self.conn, self.identity)
                synced = await sync_suite(
                    self.conn,
                    suite=info.suite,
                    rows=info.rows,
                    edges=info.edges,
                    environment=info.environment,
                    organization=self.organization,
                    project=self.project,
                )
                cur = await self.conn.execute(
                    query("create_run"),
                    {
                        "project_id": synced.project_id,
                        "suite_id": synced.suite_id,
                        "suite_name": info.suite.name,
                        "environment_id": synced.environment_id,
                        "environment_name": info.environment,
                        "trigger": info.trigger,
                        "total_tests": info.total,
                        "metadata": Jsonb(info.metadata),
                    },
                )
                row = await cur.fetchone()
                assert row is not None
                run_id = str(row[0])
                await self.conn.execute(
                    "select public.init_run_context(%s, %s)", (run_id, Jsonb(list(info.order)))
                )
        except psycopg.Error as exc:
            raise DatabaseError(
                f"cannot record the run: {describe(exc)}{self._refused(exc)}"
            ) from None
        self.run_id = run_id
        self.case_ids = synced.case_ids
        self.writer = BatchWriter(
            self._flush,
            self.spill_dir / f"run-{run_id}.jsonl",
            max_batch=self.max_batch,
        )
        self.writer.start()
        return run_id

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
        """Nothing to write yet: results carry their start time."""
        return None

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
        ``[REDACTED]``. A published variable whose value is one of those secrets is
        treated the same way.
        """
        if self.writer is None:
            return
        # a capture published as a token is a secret even without ``secret: true``
        secrets: list[Any] = list(tokens.values())
        secrets.extend(v for k, v in captured.items() if k in secret_keys)
        if captured:
            shown = {
                k: (self._hide(v, as_object=True) if k in secret_keys or v in secrets else v)
                for k, v in captured.items()
            }
            self.writer.put("capture", [test_id, shown])
        for name, token in tokens.items():
            self.writer.put("token", [name, self._hide(token, as_object=False)])
        if variables:
            if secrets:
                variables = {
                    k: (self._hide(v, as_object=True) if v in secrets else v)
                    for k, v in variables.items()
                }
            self.writer.put("variables", variables)

    def _hide(self, value: Any, *, as_object: bool) -> Any:
        if self.cipher is None:
            return REDACTED
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
        results = [payload for kind, payload in batch if kind == "result"]
        # pipeline mode: the batch's statements go out together and their answers are
        # read together, one round trip per batch instead of one per capture or token
        async with self.conn.transaction(), self.conn.pipeline():
            await apply_identity(self.conn, self.identity)
            for kind, payload in batch:
                if kind == "capture":
                    await self.conn.execute(
                        "select public.merge_captured_data(%s, %s, %s)",
                        (self.run_id, payload[0], Jsonb(payload[1])),
                    )
                elif kind == "token":
                    await self.conn.execute(
                        "select public.set_shared_auth_token(%s, %s, %s)",
                        (self.run_id, payload[0], payload[1]),
                    )
                elif kind == "variables":
                    await self.conn.execute(
                        "select public.set_shared_variables(%s, %s)",
                        (self.run_id, Jsonb(payload)),
                    )
            if results:
                await self.conn.execute(
                    "select public.record_results(%s, %s)", (self.run_id, Jsonb(results))
                )
