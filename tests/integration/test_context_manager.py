"""TestExecutionContextManager against a real database: tokens, captures, provenance, cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

import runner.cli.main as cli
from runner.context.manager import PROVENANCE, TestExecutionContextManager
from runner.db.connect import Target
from runner.db.identity import Identity
from runner.errors import DatabaseError
from runner.execute.capture import CaptureError
from runner.models import CaptureSpec
from runner.secrets.crypto import SecretBox, generate_key, sealed_in
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

SUITE = load_suite_text(
    """
name: ctx
tests:
  - id: login
    request: {method: POST, url: /login}
    captures:
      token: {from: json, path: $.token, as_token: user}
  - id: catalog
    request: {url: /products}
    captures:
      product_id: $.id
  - id: cart
    request:
      url: /cart
      headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}
      json: {product: "{{ captured_data.catalog.product_id }}"}
    depends_on: [login]
""",
    file="ctx.yaml",
)

LOGIN_SPEC = {
    "token": CaptureSpec.model_validate({"from": "json", "path": "$.token", "as_token": "user"}),
    "user_id": CaptureSpec.model_validate({"path": "$.user.id", "as_variable": "uid"}),
    "session": CaptureSpec.model_validate({"from": "header", "name": "X-Session", "secret": True}),
}


def _response(body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        200, json=body, headers=headers, request=httpx.Request("POST", "http://t/login")
    )


def _new_run(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "with o as (insert into organizations (name, slug) values ('O', 'o') returning id), "
            "p as (insert into projects (organization_id, name, slug) "
            "      select id, 'P', 'p' from o returning id) "
            "insert into test_runs (project_id) select id from p returning id"
        ).fetchone()
    assert row is not None
    return str(row[0])


def _row(url: str, run_id: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select shared_auth_tokens, shared_variables, captured_data "
            "from test_execution_context where run_id = %s",
            (run_id,),
        ).fetchone()
    assert row is not None
    return row


def _manager(url: str, box: SecretBox | None) -> TestExecutionContextManager:
    return TestExecutionContextManager(Target(url, embedded=True), cipher=box)


async def test_missing_context_is_created_then_served_from_cache(migrated_db: str) -> None:
    """get_test_run_context creates a missing context (a miss), then hits the cache."""
    run_id = _new_run(migrated_db)
    async with _manager(migrated_db, None) as manager:
        first = await manager.get_test_run_context(run_id)
        second = await manager.get_test_run_context(run_id)
    assert first is second
    assert (first.tokens, first.variables, first.captured) == ({}, {}, {})
    assert first.expires_at is not None
    stats = manager.cache_stats()
    assert (stats.hits, stats.misses, stats.hit_rate) == (1, 1, 0.5)


async def test_several_tokens_are_sealed_and_shared(migrated_db: str) -> None:
    """Named tokens are stored sealed; another manager with the key reads them back."""
    run_id = _new_run(migrated_db)
    box = SecretBox.from_base64(generate_key())
    async with _manager(migrated_db, box) as manager:
        await manager.update_shared_auth_tokens(
            run_id, {"admin": "tok-admin-123", "user": "tok-user-456"}, produced_by="login"
        )
        await manager.update_shared_auth_tokens(run_id, {"admin": None})
    tokens, _, captured = _row(migrated_db, run_id)
    assert set(tokens) == {"user"}
    assert "tok-user-456" not in str(tokens) and box.unseal(tokens["user"]) == "tok-user-456"
    assert captured[PROVENANCE]["token:user"]["by"] == "login"
    async with _manager(migrated_db, box) as other:
        context = await other.get_test_run_context(run_id)
    assert context.tokens == {"user": "tok-user-456"}
    assert context.produced("token", "user")[0] == "login"
    assert PROVENANCE not in context.captured


async def test_variables_merge_and_the_cache_follows_writes(migrated_db: str) -> None:
    """update_shared_variables merges top-level keys and the cached context reflects it."""
    run_id = _new_run(migrated_db)
    async with _manager(migrated_db, None) as manager:
        await manager.update_shared_variables(run_id, {"a": 1, "b": {"x": 1}})
        await manager.update_shared_variables(run_id, {"b": {"y": 2}}, produced_by="t2")
        context = await manager.get_test_run_context(run_id)
    assert context.variables == {"a": 1, "b": {"y": 2}}
    assert context.produced("variable", "b")[0] == "t2"
    assert manager.cache_stats().hits == 1


async def test_capture_from_response_publishes_tokens_variables_and_seals_secrets(
    migrated_db: str,
) -> None:
    """Captures merge into captured_data; as_token/as_variable are published; secrets sealed."""
    run_id = _new_run(migrated_db)
    box = SecretBox.from_base64(generate_key())
    response = _response({"token": "tok-777", "user": {"id": 42}}, {"X-Session": "sess-999"})
    async with _manager(migrated_db, box) as manager:
        values = await manager.capture_variables_from_response(
            run_id, "login", response, LOGIN_SPEC
        )
        context = await manager.get_test_run_context(run_id)
    assert values == {"token": "tok-777", "user_id": 42, "session": "sess-999"}
    assert context.captured["login"] == values
    assert context.tokens == {"user": "tok-777"} and context.variables == {"uid": 42}
    tokens, variables, captured = _row(migrated_db, run_id)
    stored = str((tokens, variables, captured))
    assert "tok-777" not in stored and "sess-999" not in stored
    assert captured["login"]["user_id"] == 42
    sealed = sealed_in(captured["login"]["session"])
    assert sealed is not None and box.unseal(sealed) == "sess-999"


async def test_without_a_key_secrets_are_redacted_in_the_database(migrated_db: str) -> None:
    """With no key the row holds [REDACTED]; only the manager that captured knows the value."""
    run_id = _new_run(migrated_db)
    response = _response({"token": "tok-777", "user": {"id": 42}}, {"X-Session": "sess-999"})
    async with _manager(migrated_db, None) as manager:
        await manager.capture_variables_from_response(run_id, "login", response, LOGIN_SPEC)
        mine = await manager.get_test_run_context(run_id)
    async with _manager(migrated_db, None) as other:
        theirs = await other.get_test_run_context(run_id)
    assert mine.tokens == {"user": "tok-777"}
    assert theirs.tokens == {"user": "[REDACTED]"}
    assert theirs.captured["login"]["session"] == "[REDACTED]"


async def test_a_capture_that_finds_nothing_writes_nothing(migrated_db: str) -> None:
    """A failed capture raises CaptureError and leaves the context unchanged."""
    run_id = _new_run(migrated_db)
    async with _manager(migrated_db, None) as manager:
        with pytest.raises(CaptureError, match=r"\$.token found nothing"):
            await manager.capture_variables_from_response(
                run_id, "login", _response({"nope": 1}), LOGIN_SPEC
            )
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute("select count(*) from test_execution_context").fetchone() == (0,)


async def test_resolve_dependencies_sees_other_managers_writes(migrated_db: str) -> None:
    """Not ready until the dependency captured (even via another manager); then with provenance."""
    run_id = _new_run(migrated_db)
    box = SecretBox.from_base64(generate_key())
    async with _manager(migrated_db, box) as mine, _manager(migrated_db, box) as theirs:
        before = await mine.resolve_dependencies(run_id, "cart", SUITE)
        assert (before.ready, before.waiting_for) == (False, ("login", "catalog"))
        assert before.dependencies == ("login", "catalog")
        await theirs.capture_variables_from_response(
            run_id,
            "login",
            _response({"token": "tok-1", "user": {"id": 5}}, {"X-Session": "s-1"}),
            LOGIN_SPEC,
        )
        spec = {"product_id": CaptureSpec.model_validate("$.id")}
        await theirs.capture_variables_from_response(run_id, "catalog", _response({"id": 3}), spec)
        after = await mine.resolve_dependencies(run_id, "cart", SUITE.suite)
    assert after.ready and after.waiting_for == ()
    assert after.tokens["user"].value == "tok-1"
    assert after.tokens["user"].produced_by == "login" and after.tokens["user"].at is not None
    assert after.captured["catalog"]["product_id"].value == 3
    assert after.captured["catalog"]["product_id"].produced_by == "catalog"
    assert after.variables["uid"].value == 5


async def test_a_passed_result_makes_a_dependency_ready(migrated_db: str) -> None:
    """A dependency with no captures counts as done once its result passed."""
    run_id = _new_run(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "select public.record_results(%s, %s::jsonb)",
            (
                run_id,
                '[{"test_key": "login", "status": "passed"}, '
                '{"test_key": "catalog", "status": "failed"}]',
            ),
        )
    async with _manager(migrated_db, None) as manager:
        resolution = await manager.resolve_dependencies(run_id, "cart", SUITE)
    assert resolution.waiting_for == ("catalog",)


_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    import httpx
    from runner.context.manager import TestExecutionContextManager
    from runner.db.connect import Target
    from runner.models import CaptureSpec

    url, run_id, first = sys.argv[1], sys.argv[2], int(sys.argv[3])

    async def one(manager, i):
        response = httpx.Response(200, json={"v": i}, request=httpx.Request("GET", "http://t/"))
        spec = {f"k{i}": CaptureSpec.model_validate("$.v")}
        await manager.capture_variables_from_response(run_id, f"t{i % 5}", response, spec)

    async def main():
        managers = [TestExecutionContextManager(Target(url, embedded=True)) for _ in range(5)]
        for m in managers:
            await m.connect()
        await asyncio.gather(*(one(managers[i % 5], i) for i in range(first, first + 25)))
        for m in managers:
            await m.close()

    asyncio.run(main())
    """
)


def test_fifty_parallel_captures_from_two_processes_lose_no_key(migrated_db: str) -> None:
    """50 captures from 2 processes (5 connections each) into one context: every key is there."""
    run_id = _new_run(migrated_db)
    procs = [
        subprocess.Popen([sys.executable, "-c", _WORKER, migrated_db, run_id, str(first)])
        for first in (0, 25)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    _, _, captured = _row(migrated_db, run_id)
    keys = {key for test in ("t0", "t1", "t2", "t3", "t4") for key in captured[test]}
    assert keys == {f"k{i}" for i in range(50)}
    assert all(captured[f"t{i % 5}"][f"k{i}"] == i for i in range(50))
    assert {k for k in captured[PROVENANCE]} == {f"test:t{i}" for i in range(5)}


async def test_cleanup_deletes_expired_and_old_contexts(migrated_db: str) -> None:
    """Expired contexts go; with a ttl, contexts created before it go too."""
    expired = _new_run(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        more = conn.execute(
            "insert into test_runs (project_id) select project_id from test_runs "
            "cross join generate_series(1, 2) returning id::text"
        ).fetchall()
    old, fresh = (row[0] for row in more)
    async with _manager(migrated_db, None) as manager:
        for run in (expired, old, fresh):
            await manager.get_test_run_context(run)
        with psycopg.connect(migrated_db) as conn:
            conn.execute(
                "update test_execution_context set expires_at = now() - interval '1 minute' "
                "where run_id = %s",
                (expired,),
            )
            conn.execute(
                "update test_execution_context set created_at = now() - interval '3 hours' "
                "where run_id = %s",
                (old,),
            )
        assert await manager.cleanup_expired_contexts() == 1
        assert await manager.cleanup_expired_contexts(timedelta(hours=2)) == 1
        assert manager.cache_stats().hits == 0
    with psycopg.connect(migrated_db) as conn:
        left = conn.execute("select run_id::text from test_execution_context").fetchall()
    assert left == [(fresh,)]


def test_cli_context_cleanup(
    migrated_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`context cleanup` deletes expired contexts and says how many."""
    run_id = _new_run(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "insert into test_execution_context (run_id, organization_id, project_id, expires_at) "
            "select id, organization_id, project_id, now() - interval '1 hour' "
            "from test_runs where id = %s",
            (run_id,),
        )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_DATABASE_URL", migrated_db)
    assert cli.main(["context", "cleanup"]) == 0
    assert capsys.readouterr().out.strip() == "deleted 1 execution context"


async def test_a_member_reads_but_cannot_write(migrated_db: str) -> None:
    """As a plain member (RLS applies) the context can be read but not changed."""
    run_id = _new_run(migrated_db)
    uid = "00000000-0000-4000-8000-000000000001"
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "insert into auth.users (id, email, aud, role) "
            "values (%s, 'm@example.test', 'authenticated', 'authenticated')",
            (uid,),
        )
        conn.execute(
            "insert into organization_members (organization_id, user_id, role) "
            "select organization_id, %s, 'member' from test_runs where id = %s",
            (uid, run_id),
        )
    async with _manager(migrated_db, None) as service:
        await service.update_shared_variables(run_id, {"a": 1})
    member = TestExecutionContextManager(
        Target(migrated_db, embedded=True), identity=Identity.user(uid)
    )
    async with member:
        context = await member.get_test_run_context(run_id)
        assert context.variables == {"a": 1}
        with pytest.raises(DatabaseError, match="cannot update the context"):
            await member.update_shared_variables(run_id, {"a": 2})
