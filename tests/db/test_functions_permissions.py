"""Who may call the run functions: the function matrix of docs/security.md, cell by cell."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import ACTORS, World, acting_as, seed, set_identity
from psycopg import errors

pytestmark = pytest.mark.db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"

_EDITORS = {"editor", "admin", "owner", "service_role"}
_ADMINS = {"admin", "owner", "service_role"}

# function -> actors allowed to call it on organisation A's run (or environment)
EXPECTED: dict[str, set[str]] = {
    "init_run_context": _EDITORS,
    "merge_captured_data": _EDITORS,
    "merge_captured_data_many": _EDITORS,
    "set_shared_auth_token": _EDITORS,
    "set_shared_variables": _EDITORS,
    "record_results": _EDITORS,
    "finish_run": _EDITORS,
    "run_heartbeat": _EDITORS,
    "cleanup_expired_contexts": {"service_role"},
    "environment_secrets": _ADMINS,
}

_RESULT = json.dumps([{"test_key": "extra", "name": "Extra", "status": "passed"}])

CALLS: dict[str, Callable[[World], tuple[str, tuple[Any, ...]]]] = {
    "init_run_context": lambda w: ("select public.init_run_context(%s)", (w.run,)),
    "merge_captured_data": lambda w: (
        "select public.merge_captured_data(%s, 'login', '{\"a\": 1}')",
        (w.run,),
    ),
    "merge_captured_data_many": lambda w: (
        'select public.merge_captured_data_many(%s, \'{"login": {"a": 1}}\')',
        (w.run,),
    ),
    "set_shared_auth_token": lambda w: (
        "select public.set_shared_auth_token(%s, 'bearer', 'ciphertext')",
        (w.run,),
    ),
    "set_shared_variables": lambda w: (
        "select public.set_shared_variables(%s, '{\"x\": 1}')",
        (w.run,),
    ),
    "record_results": lambda w: ("select public.record_results(%s, %s)", (w.run, _RESULT)),
    "finish_run": lambda w: ("select public.finish_run(%s, 'passed')", (w.run,)),
    "run_heartbeat": lambda w: ("select public.run_heartbeat(%s)", (w.run,)),
    "cleanup_expired_contexts": lambda w: ("select public.cleanup_expired_contexts()", ()),
    "environment_secrets": lambda w: (
        "select * from public.environment_secrets(%s)",
        (w.environment,),
    ),
}


def _call(conn: psycopg.Connection[Any], world: World, fn: str, actor: str) -> bool:
    sql, params = CALLS[fn](world)
    with conn.transaction(force_rollback=True), conn.cursor() as cur:
        set_identity(cur, world, actor)
        try:
            cur.execute(sql, params)
            cur.fetchall()
        except errors.InsufficientPrivilege:
            return False
        return True


def test_function_matrix(migrated_db: str) -> None:
    """Each actor can call exactly the functions the matrix lists; others get 42501."""
    world = seed(migrated_db)
    got: dict[str, set[str]] = {}
    with psycopg.connect(migrated_db) as conn:
        for fn in EXPECTED:
            got[fn] = {a for a in ACTORS if _call(conn, world, fn, a)}
    assert got == EXPECTED


def test_docs_function_matrix_matches_the_tested_one() -> None:
    """docs/security.md shows exactly the function matrix this module enforces."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("<!-- function-matrix:start -->", 1)[1].split(
        "<!-- function-matrix:end -->", 1
    )[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("|")]
    actors = [c.strip() for c in lines[0].strip("|").split("|")][1:]
    docs: dict[str, set[str]] = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        docs[re.sub(r"[`*]", "", cells[0])] = {
            a for a, c in zip(actors, cells[1:], strict=True) if c == "yes"
        }
    assert docs == EXPECTED


def test_member_cannot_record_results_and_nothing_is_written(migrated_db: str) -> None:
    """A plain member is refused by record_results and the run gains no result."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InsufficientPrivilege, match="not allowed to write to run"),
        acting_as(migrated_db, world, "member") as cur,
    ):
        cur.execute("select public.record_results(%s, %s)", (world.run, _RESULT))
    with psycopg.connect(migrated_db) as conn:
        keys = conn.execute(
            "select test_key from test_results where run_id = %s order by 1", (world.run,)
        ).fetchall()
    assert keys == [("cart",), ("login",)]


def test_outsider_cannot_merge_into_another_organisations_context(migrated_db: str) -> None:
    """An authenticated user of another organisation is refused by merge_captured_data."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.InsufficientPrivilege),
        acting_as(migrated_db, world, "outsider") as cur,
    ):
        cur.execute(
            "select public.merge_captured_data(%s, 'login', '{\"stolen\": true}')",
            (world.run,),
        )
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select captured_data from test_execution_context where run_id = %s", (world.run,)
        ).fetchone()
    assert row == ({},)


def test_unknown_run_is_refused_like_a_foreign_one(migrated_db: str) -> None:
    """Users get 42501 for a missing run as for a foreign one; the system gets no_data_found."""
    world = seed(migrated_db)
    missing = uuid.uuid4()
    with (
        pytest.raises(errors.InsufficientPrivilege, match="not allowed to write to run"),
        acting_as(migrated_db, world, "editor") as cur,
    ):
        cur.execute("select public.finish_run(%s, 'passed')", (missing,))
    with (
        pytest.raises(errors.NoDataFound, match="does not exist"),
        acting_as(migrated_db, world, "service_role") as cur,
    ):
        cur.execute("select public.finish_run(%s, 'passed')", (missing,))


def test_jwt_claims_cannot_impersonate_the_service_role(migrated_db: str) -> None:
    """An authenticated session claiming role service_role in its JWT is still refused."""
    world = seed(migrated_db)
    claims = {"sub": str(world.uid("member")), "role": "service_role"}
    with (
        pytest.raises(errors.InsufficientPrivilege),
        psycopg.connect(migrated_db) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "select set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (json.dumps(claims),),
        )
        cur.execute("select public.cleanup_expired_contexts()")


def test_functions_are_security_definer_with_empty_search_path(migrated_db: str) -> None:
    """Every security-definer function of ours pins search_path to the empty string."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select p.oid::regprocedure::text, coalesce(p.proconfig, '{}') "
            "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname in ('public', 'private') and p.prosecdef"
        ).fetchall()
    assert rows, "no security-definer functions found"
    unpinned = [name for name, config in rows if 'search_path=""' not in config]
    assert unpinned == []


def test_no_function_of_ours_is_executable_by_anon_or_public(migrated_db: str) -> None:
    """EXECUTE on public and private functions is granted explicitly, never to anon or PUBLIC."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select p.oid::regprocedure::text from pg_proc p "
            "join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname in ('public', 'private') "
            "and (has_function_privilege('anon', p.oid, 'execute') "
            "     or exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', "
            "p.proowner))) a"
            "                where a.grantee = 0 and a.privilege_type = 'EXECUTE'))"
        ).fetchall()
    assert rows == []
