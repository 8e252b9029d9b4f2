"""``TestExecutionContextManager``: a run's shared context, from Python, across processes.

The context of a run (``public.test_execution_context``) holds the tokens, variables
and captured values its tests share. The manager reads and writes it only through
the SQL functions (``init_run_context``, ``merge_captured_data``,
``set_shared_auth_token``, ``set_shared_variables``), so RLS and the functions'
checks apply, and merges are atomic: parallel tests and processes never lose a key.

Secrets (tokens, captures marked ``secret`` or published ``as_token``) are sealed
with the ``SecretBox`` when there is one (``RUNNER_SECRET_KEY``) and stored as
``[REDACTED]`` otherwise; in that case only this manager's cache knows the value.

Provenance — which test produced a value and when — is kept in the context itself,
under ``captured_data["_provenance"]`` (test ids cannot start with ``_``):
``"test:<id>"``, ``"token:<name>"`` and ``"variable:<name>"`` map to
``{"by": <test id or null>, "at": <ISO 8601>}``.

A write-through cache sits in front of the database: a write refreshes the cached
row from the database in the same transaction (so it also picks up what others
wrote); reads are served from the cache and counted as hits. A dependency that the
cache says is not ready yet is looked up in the database again before answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from runner.context.models import PROVENANCE, CacheStats, Provided, Resolution, RunContext
from runner.context.resolve import ancestors, as_plan, resolution
from runner.context.sealing import Sealer
from runner.db.connect import Target, describe
from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import query
from runner.errors import DatabaseError
from runner.secrets.crypto import SecretBox, box_from_settings
from runner.secrets.names import capture_is_secret
from runner.settings import Settings

if TYPE_CHECKING:
    import httpx
    import psycopg

    from runner.models import CaptureSpec, Suite
    from runner.plan.graph import Plan
    from runner.suite.load import LoadedSuite

__all__ = [
    "PROVENANCE",
    "CacheStats",
    "Provided",
    "Resolution",
    "RunContext",
    "TestExecutionContextManager",
]

Call = tuple[str, dict[str, Any]]
"""A statement of a write: the name of its ``sql/queries`` file, and its parameters."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class TestExecutionContextManager:
    """Reads and writes the execution contexts of runs, async, with a write-through cache.

    ``database`` is a connection URL, a ``Target``, or ``Settings`` (default: the
    process settings; the embedded server is started on demand). ``identity`` is who
    the manager acts as (default: the service role). ``cipher`` seals secrets; by
    default it comes from ``RUNNER_SECRET_KEY`` when ``database`` is settings.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        database: str | Target | Settings | None = None,
        *,
        identity: Identity | None = None,
        cipher: SecretBox | None = None,
        ttl: timedelta = timedelta(hours=24),
    ) -> None:
        if isinstance(database, str):
            self.target: Target | None = Target(database, embedded=False)
            self._settings: Settings | None = None
        elif isinstance(database, Target):
            self.target, self._settings = database, None
        else:
            self.target, self._settings = None, database or Settings()
            if cipher is None:
                cipher = box_from_settings(self._settings)
        self.identity = identity or Identity.service()
        self._sealer = Sealer(cipher)
        self.ttl = ttl
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()  # one transaction at a time on the connection
        self._cache: dict[str, RunContext] = {}
        self.hits = 0
        self.misses = 0

    # ------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> TestExecutionContextManager:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection (``async with`` does it for you)."""
        from runner.db.connect import connect, resolve_target

        if self._conn is None:
            if self.target is None:
                assert self._settings is not None
                self.target = resolve_target(self._settings)
            self._conn = await connect(self.target)

    async def close(self) -> None:
        """Close the connection; the cache is kept."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def cache_stats(self) -> CacheStats:
        """Hits and misses so far."""
        return CacheStats(self.hits, self.misses)

    def invalidate(self, run_id: str | None = None) -> None:
        """Forget the cached context of ``run_id`` (of every run when None)."""
        if run_id is None:
            self._cache.clear()
        else:
            self._cache.pop(str(run_id), None)

    # ----------------------------------------------------------------- reads

    async def get_test_run_context(self, run_id: str) -> RunContext:
        """The run's context (created if missing), from the cache when there."""
        run_id = str(run_id)
        cached = self._cache.get(run_id)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        return await self._read(run_id) or await self._write(run_id, [])

    # ---------------------------------------------------------------- writes

    async def update_shared_auth_tokens(
        self, run_id: str, tokens: Mapping[str, str | None], *, produced_by: str | None = None
    ) -> RunContext:
        """Set several named tokens at once (None removes one); stored sealed or redacted."""
        run_id = str(run_id)
        at = _now()
        calls: list[Call] = []
        provenance: dict[str, Any] = {}
        for name, token in tokens.items():
            stored = None if token is None else self._hide(run_id, ("token", name), token, False)
            calls.append(_set_token(run_id, name, stored))
            provenance[f"token:{name}"] = {"by": produced_by, "at": at}
        calls.append(_provenance_call(run_id, provenance))
        return await self._write(run_id, calls)

    async def update_shared_variables(
        self, run_id: str, variables: Mapping[str, Any], *, produced_by: str | None = None
    ) -> RunContext:
        """Merge variables into ``shared_variables`` (top-level keys replaced)."""
        from psycopg.types.json import Jsonb

        run_id = str(run_id)
        at = _now()
        provenance = {f"variable:{name}": {"by": produced_by, "at": at} for name in variables}
        calls = [
            ("context_set_variables", {"run_id": run_id, "variables": Jsonb(dict(variables))}),
            _provenance_call(run_id, provenance),
        ]
        return await self._write(run_id, calls)

    async def capture_variables_from_response(
        self,
        run_id: str,
        test_id: str,
        response: httpx.Response,
        spec: Mapping[str, CaptureSpec],
        *,
        elapsed_ms: float = 0.0,
    ) -> dict[str, Any]:
        """Capture from ``response`` as a suite test would, and merge it atomically.

        Returns the captured values. Tokens (``as_token``) and variables
        (``as_variable``) are published in the same transaction. A capture that finds
        nothing raises ``runner.execute.capture.CaptureError`` and nothing is written.
        """
        from psycopg.types.json import Jsonb

        from runner.execute.capture import ResponseView, capture_all

        run_id = str(run_id)
        values = capture_all(spec, ResponseView(response, elapsed_ms))
        at = _now()
        stored: dict[str, Any] = {}
        tokens: dict[str, str] = {}
        variables: dict[str, Any] = {}
        provenance: dict[str, Any] = {f"test:{test_id}": {"by": test_id, "at": at}}
        for name, value in values.items():
            cap = spec[name]
            secret = capture_is_secret(name, cap)
            stored[name] = (
                self._hide(run_id, ("captured", test_id, name), value, True) if secret else value
            )
            if cap.as_token:
                tokens[cap.as_token] = value if isinstance(value, str) else str(value)
                provenance[f"token:{cap.as_token}"] = {"by": test_id, "at": at}
            if cap.as_variable:
                variables[cap.as_variable] = (
                    self._hide(run_id, ("variable", cap.as_variable), value, True)
                    if secret
                    else value
                )
                provenance[f"variable:{cap.as_variable}"] = {"by": test_id, "at": at}
        calls = [_merge_captured(run_id, test_id, stored)]
        for name, token in tokens.items():
            calls.append(
                _set_token(run_id, name, self._hide(run_id, ("token", name), token, False))
            )
        if variables:
            calls.append(
                ("context_set_variables", {"run_id": run_id, "variables": Jsonb(variables)})
            )
        calls.append(_provenance_call(run_id, provenance))
        await self._write(run_id, calls)
        return values

    # ---------------------------------------------------------- dependencies

    async def resolve_dependencies(
        self, run_id: str, test_id: str, plan: Plan | Suite | LoadedSuite
    ) -> Resolution:
        """Is ``test_id`` ready (every direct dependency produced something or passed),
        and which tokens, variables and captures may it use, with their provenance."""
        run_id = str(run_id)
        graph_plan = as_plan(plan)
        direct = graph_plan.dependencies(test_id)
        dependencies = ancestors(graph_plan, test_id)
        context = await self.get_test_run_context(run_id)
        waiting = [d for d in direct if not context.done(d)]
        if waiting:  # the cache may be behind another process: ask the database
            self.invalidate(run_id)
            context = await self._read(run_id) or await self._write(run_id, [])
            passed = await self._passed(run_id, waiting)
            waiting = [d for d in waiting if not context.done(d) and d not in passed]
        return resolution(context, test_id, waiting, dependencies)

    # --------------------------------------------------------------- cleanup

    async def cleanup_expired_contexts(self, ttl: timedelta | None = None) -> int:
        """Delete contexts past ``expires_at`` (and, with ``ttl``, those created longer
        ago than that); returns how many. The service role only."""
        await self.connect()
        conn = self._connection()
        try:
            async with self._lock, conn.transaction():
                await apply_identity(conn, self.identity)
                cur = await conn.execute(query("context_cleanup_expired"))
                row = await cur.fetchone()
                count = int(row[0]) if row else 0
                if ttl is not None:
                    cur = await conn.execute(query("context_delete_older_than"), {"ttl": ttl})
                    count += cur.rowcount
        except Exception as exc:
            raise _database_error("cannot clean up contexts", exc) from None
        self.invalidate()
        return count

    # -------------------------------------------------------------- internal

    def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            raise DatabaseError("the context manager is not connected")
        return self._conn

    @property
    def cipher(self) -> SecretBox | None:
        """What seals secrets (None: they are stored redacted)."""
        return self._sealer.cipher

    def _hide(self, run_id: str, where: tuple[str, ...], value: Any, as_object: bool) -> Any:
        return self._sealer.hide(run_id, where, value, as_object)

    async def _write(self, run_id: str, calls: list[Call]) -> RunContext:
        """Run ``calls`` and re-read the row in one transaction; cache the result."""
        await self.connect()
        conn = self._connection()
        try:
            async with self._lock, conn.transaction():
                await apply_identity(conn, self.identity)
                await conn.execute(query("context_init"), {"run_id": run_id, "ttl": self.ttl})
                for name, params in calls:
                    await conn.execute(query(name), params)
                cur = await conn.execute(query("context_read"), {"run_id": run_id})
                row = await cur.fetchone()
        except Exception as exc:
            raise _database_error(f"cannot update the context of run {run_id}", exc) from None
        assert row is not None
        context = self._sealer.decode(run_id, row)
        self._cache[run_id] = context
        return context

    async def _read(self, run_id: str) -> RunContext | None:
        """The stored context (members may read it; only editors+ may create it)."""
        await self.connect()
        conn = self._connection()
        try:
            async with self._lock, conn.transaction():
                await apply_identity(conn, self.identity)
                cur = await conn.execute(query("context_read"), {"run_id": run_id})
                row = await cur.fetchone()
        except Exception as exc:
            raise _database_error(f"cannot read the context of run {run_id}", exc) from None
        if row is None:
            return None
        context = self._sealer.decode(run_id, row)
        self._cache[run_id] = context
        return context

    async def _passed(self, run_id: str, tests: list[str]) -> set[str]:
        conn = self._connection()
        async with self._lock, conn.transaction():
            await apply_identity(conn, self.identity)
            cur = await conn.execute(
                query("context_passed_tests"), {"run_id": run_id, "tests": tests}
            )
            return {str(r[0]) for r in await cur.fetchall()}


def _set_token(run_id: str, name: str, token: Any) -> Call:
    return ("context_set_token", {"run_id": run_id, "name": name, "token": token})


def _merge_captured(run_id: str, key: str, data: dict[str, Any]) -> Call:
    from psycopg.types.json import Jsonb

    return ("context_merge_captured", {"run_id": run_id, "test_key": key, "data": Jsonb(data)})


def _provenance_call(run_id: str, provenance: dict[str, Any]) -> Call:
    return _merge_captured(run_id, PROVENANCE, provenance)


def _database_error(what: str, exc: Exception) -> Exception:
    import psycopg

    if isinstance(exc, psycopg.Error):
        return DatabaseError(f"{what}: {describe(exc)}")
    return exc
