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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from runner.db.connect import Target, describe
from runner.db.identity import Identity, apply_identity
from runner.errors import DatabaseError
from runner.secrets.crypto import SecretBox, box_from_settings, is_sealed, sealed_in, sealed_object
from runner.secrets.redact import REDACTED
from runner.settings import Settings

if TYPE_CHECKING:
    import httpx
    import psycopg

    from runner.models import CaptureSpec, Suite
    from runner.plan.graph import Plan
    from runner.suite.load import LoadedSuite

PROVENANCE = "_provenance"
"""Key of ``captured_data`` that holds provenance entries (never a test id)."""

_SQL_SET_SHARED_AUTH = "select public.set_shared_auth_token(%s, %s, %s)"
_READ = """
select shared_auth_tokens, shared_variables, captured_data, test_order, expires_at, updated_at
  from public.test_execution_context where run_id = %s
"""


@dataclass(frozen=True)
class Provided:
    """A value a test may use, with the test that produced it and when."""

    value: Any
    produced_by: str | None = None
    at: datetime | None = None


@dataclass
class RunContext:
    """A run's context, secrets decrypted (in memory only)."""

    run_id: str
    tokens: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    captured: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_order: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    updated_at: datetime | None = None

    def produced(self, kind: str, name: str) -> tuple[str | None, datetime | None]:
        """(test, time) that produced ``kind:name`` (kind: test, token, variable)."""
        entry = self.provenance.get(f"{kind}:{name}") or {}
        at = entry.get("at")
        return entry.get("by"), datetime.fromisoformat(at) if isinstance(at, str) else None


@dataclass(frozen=True)
class Resolution:
    """Whether a test may start, and what it may use, each value with its provenance."""

    test_id: str
    ready: bool
    waiting_for: tuple[str, ...]
    """Direct dependencies that have not produced anything yet."""
    dependencies: tuple[str, ...]
    """Every test it depends on, directly or not."""
    tokens: dict[str, Provided]
    variables: dict[str, Provided]
    captured: dict[str, dict[str, Provided]]
    """Captures of its dependencies: test id -> capture name -> value."""


@dataclass(frozen=True)
class CacheStats:
    """Hits and misses of the context cache."""

    hits: int
    misses: int

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before any lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


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
        self.cipher = cipher
        self.ttl = ttl
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()  # one transaction at a time on the connection
        self._cache: dict[str, RunContext] = {}
        self._plain: dict[str, dict[tuple[str, ...], Any]] = {}  # redacted secrets we know
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
        calls: list[tuple[str, tuple[Any, ...]]] = []
        provenance: dict[str, Any] = {}
        for name, token in tokens.items():
            stored = None if token is None else self._hide(run_id, ("token", name), token, False)
            calls.append(
                ("select public.set_shared_auth_token(%s, %s, %s)", (run_id, name, stored))
            )
            provenance[f"token:{name}"] = {"by": produced_by, "at": at}
        calls.append(self._provenance_call(run_id, provenance))
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
            ("select public.set_shared_variables(%s, %s)", (run_id, Jsonb(dict(variables)))),
            self._provenance_call(run_id, provenance),
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
            secret = cap.secret or cap.as_token is not None
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
        calls: list[tuple[str, tuple[Any, ...]]] = [
            (
                "select public.merge_captured_data(%s, %s, %s)",
                (run_id, test_id, Jsonb(stored)),
            )
        ]
        for name, token in tokens.items():
            hidden = self._hide(run_id, ("token", name), token, False)
            calls.append(
                ("select public.set_shared_auth_token(%s, %s, %s)", (run_id, name, hidden))
            )
        if variables:
            calls.append(("select public.set_shared_variables(%s, %s)", (run_id, Jsonb(variables))))
        calls.append(self._provenance_call(run_id, provenance))
        await self._write(run_id, calls)
        return values

    # ---------------------------------------------------------- dependencies

    async def resolve_dependencies(
        self, run_id: str, test_id: str, plan: Plan | Suite | LoadedSuite
    ) -> Resolution:
        """Is ``test_id`` ready (every direct dependency produced something or passed),
        and which tokens, variables and captures may it use, with their provenance."""
        run_id = str(run_id)
        graph_plan = _as_plan(plan)
        direct = graph_plan.dependencies(test_id)
        import networkx as nx

        ancestors = tuple(
            t for t in graph_plan.order if t in nx.ancestors(graph_plan.graph, test_id)
        )
        context = await self.get_test_run_context(run_id)
        waiting = [d for d in direct if not self._done(context, d)]
        if waiting:  # the cache may be behind another process: ask the database
            self.invalidate(run_id)
            context = await self._read(run_id) or await self._write(run_id, [])
            passed = await self._passed(run_id, waiting)
            waiting = [d for d in waiting if not self._done(context, d) and d not in passed]
        tokens = {
            name: Provided(value, *context.produced("token", name))
            for name, value in context.tokens.items()
        }
        variables = {
            name: Provided(value, *context.produced("variable", name))
            for name, value in context.variables.items()
        }
        captured: dict[str, dict[str, Provided]] = {}
        for dep in ancestors:
            if dep in context.captured:
                by, at = context.produced("test", dep)
                captured[dep] = {
                    k: Provided(v, by or dep, at) for k, v in context.captured[dep].items()
                }
        return Resolution(
            test_id, not waiting, tuple(waiting), ancestors, tokens, variables, captured
        )

    # --------------------------------------------------------------- cleanup

    async def cleanup_expired_contexts(self, ttl: timedelta | None = None) -> int:
        """Delete contexts past ``expires_at`` (and, with ``ttl``, those created longer
        ago than that); returns how many. The service role only."""
        await self.connect()
        conn = self._connection()
        try:
            async with self._lock, conn.transaction():
                await apply_identity(conn, self.identity)
                cur = await conn.execute("select public.cleanup_expired_contexts()")
                row = await cur.fetchone()
                count = int(row[0]) if row else 0
                if ttl is not None:
                    cur = await conn.execute(
                        "delete from public.test_execution_context where created_at < now() - %s",
                        (ttl,),
                    )
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

    def _hide(self, run_id: str, where: tuple[str, ...], value: Any, as_object: bool) -> Any:
        self._plain.setdefault(run_id, {})[where] = value
        if self.cipher is None:
            return REDACTED
        return sealed_object(self.cipher, value) if as_object else self.cipher.seal(value)

    def _provenance_call(
        self, run_id: str, provenance: dict[str, Any]
    ) -> tuple[str, tuple[Any, ...]]:
        from psycopg.types.json import Jsonb

        return (
            "select public.merge_captured_data(%s, %s, %s)",
            (run_id, PROVENANCE, Jsonb(provenance)),
        )

    async def _write(self, run_id: str, calls: list[tuple[str, tuple[Any, ...]]]) -> RunContext:
        """Run ``calls`` and re-read the row in one transaction; cache the result."""
        await self.connect()
        conn = self._connection()
        try:
            async with self._lock, conn.transaction():
                await apply_identity(conn, self.identity)
                await conn.execute(
                    "select public.init_run_context(%s, '[]'::jsonb, %s)", (run_id, self.ttl)
                )
                for sql, params in calls:
                    await conn.execute(sql, params)
                cur = await conn.execute(_READ, (run_id,))
                row = await cur.fetchone()
        except Exception as exc:
            raise _database_error(f"cannot update the context of run {run_id}", exc) from None
        assert row is not None
        context = self._decode(run_id, row)
        self._cache[run_id] = context
        return context

    async def _read(self, run_id: str) -> RunContext | None:
        """The stored context (members may read it; only editors+ may create it)."""
        await self.connect()
        conn = self._connection()
        try:
            async with self._lock, conn.transaction():
                await apply_identity(conn, self.identity)
                cur = await conn.execute(_READ, (run_id,))
                row = await cur.fetchone()
        except Exception as exc:
            raise _database_error(f"cannot read the context of run {run_id}", exc) from None
        if row is None:
            return None
        context = self._decode(run_id, row)
        self._cache[run_id] = context
        return context

    async def _passed(self, run_id: str, tests: list[str]) -> set[str]:
        conn = self._connection()
        async with self._lock, conn.transaction():
            await apply_identity(conn, self.identity)
            cur = await conn.execute(
                "select test_key from public.test_results "
                "where run_id = %s and test_key = any(%s) and status = 'passed'",
                (run_id, tests),
            )
            return {str(r[0]) for r in await cur.fetchall()}

    @staticmethod
    def _done(context: RunContext, test_id: str) -> bool:
        return test_id in context.captured or f"test:{test_id}" in context.provenance

    def _open(self, run_id: str, where: tuple[str, ...], value: Any) -> Any:
        sealed = sealed_in(value) if isinstance(value, dict) else value
        if isinstance(sealed, str) and is_sealed(sealed) and self.cipher is not None:
            return self.cipher.unseal(sealed)
        if value == REDACTED or sealed_in(value) is not None or is_sealed(value):
            return self._plain.get(run_id, {}).get(where, value)
        return value

    def _decode(self, run_id: str, row: tuple[Any, ...]) -> RunContext:
        tokens, variables, captured, order, expires_at, updated_at = row
        provenance = captured.pop(PROVENANCE, {}) or {}
        return RunContext(
            run_id=run_id,
            tokens={k: self._open(run_id, ("token", k), v) for k, v in tokens.items()},
            variables={k: self._open(run_id, ("variable", k), v) for k, v in variables.items()},
            captured={
                test: (
                    {k: self._open(run_id, ("captured", test, k), v) for k, v in values.items()}
                    if isinstance(values, dict)
                    else values
                )
                for test, values in captured.items()
            },
            provenance=provenance,
            test_order=list(order),
            expires_at=expires_at,
            updated_at=updated_at,
        )


def _as_plan(plan: Any) -> Plan:
    from runner.models import Suite
    from runner.plan.graph import Plan, build_plan
    from runner.suite.load import LoadedSuite, loaded_from_suite

    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, Suite):
        plan = loaded_from_suite(plan)
    if isinstance(plan, LoadedSuite):
        return build_plan(plan)
    raise TypeError(f"expected a Plan, Suite or LoadedSuite, not {type(plan).__name__}")


def _database_error(what: str, exc: Exception) -> Exception:
    import psycopg

    if isinstance(exc, psycopg.Error):
        return DatabaseError(f"{what}: {describe(exc)}")
    return exc
