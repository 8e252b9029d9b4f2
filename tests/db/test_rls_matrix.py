"""The access matrix: every actor x every table x select/insert/update/delete.

``EXPECTED`` is the one place the matrix is written in code; docs/security.md holds the
same matrix for people, and a test keeps the two equal. Each case runs in its own
transaction (rolled back): allowed operations must succeed and RETURN the row, denied
reads must return nothing (or be refused), denied writes must raise or change nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import ACTORS, World, create_user, reset_identity, seed, set_identity
from psycopg import errors

pytestmark = pytest.mark.db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"

# Operations each actor may perform on the target row of each table (S select, I insert,
# U update, D delete; "-" none). Target rows belong to organisation A; personal rows
# (profile, credential, preferences, saved search) belong to "self". Columns: ACTORS.
# table                 anon  outsd guest membr edtor admin owner self  service_role
_MATRIX = """
users                   -     -     S     S     S     S     S     SU    SIUD
organizations           -     I     SI    SI    SI    SIU   SIUD  SI    SIUD
organization_members    -     -     -     S     S     SIUD  SIUD  SD    SIUD
api_credentials         -     -     -     -     -     -     -     SIUD  SIUD
user_preferences        -     -     -     -     -     -     -     SIUD  SIUD
saved_searches          -     -     -     -     -     -     -     SIUD  SIUD
projects                -     -     -     S     SIU   SIUD  SIUD  S     SIUD
test_suites             -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
suite_versions          -     -     -     S     SI    SI    SI    S     SIUD
test_cases              -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
api_endpoints           -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
test_dependencies       -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
test_request_configs    -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
test_response_specs     -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
test_data_fixtures      -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
fixture_usage           -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
report_templates        -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
environments            -     -     -     S     S     SIUD  SIUD  S     SIUD
environment_variables   -     -     -     S     S     SIUD  SIUD  S     SIUD
test_runs               -     -     S     S     SI    SI    SI    S     SIUD
test_execution_context  -     -     -     S     S     S     S     S     SIUD
test_results            -     -     S     S     S     S     S     S     SIUD
test_result_details     -     -     S     S     S     S     S     S     SIUD
performance_metrics     -     -     -     S     S     S     S     S     SIUD
test_run_history        -     -     -     S     S     S     S     S     SIUD
failure_analysis        -     -     -     S     S     S     S     S     SIUD
audit_log               -     -     -     -     -     S     S     -     SI
analytics_settings      -     -     -     S     SIU   SIU   SIU   S     SIUD
test_quarantines        -     -     -     S     SIUD  SIUD  SIUD  S     SIUD
flaky_test_detections   -     -     -     S     S     S     S     S     SIUD
performance_regressions -     -     -     S     S     S     S     S     SIUD
retention_policies      -     -     -     S     S     SIUD  SIUD  S     SIUD
performance_metrics_monthly - -   -     S     S     S     S     S     SIUD
"""
EXPECTED: dict[str, dict[str, str]] = {
    line.split()[0]: dict(zip(ACTORS, line.split()[1:], strict=True))
    for line in _MATRIX.strip().splitlines()
}

Insert = Callable[[psycopg.Cursor[Any], World, "uuid.UUID | None"], tuple[str, tuple[Any, ...]]]


@dataclass(frozen=True)
class Spec:
    """How to exercise one table: a valid new row, and a harmless update of its target row."""

    insert: Insert
    update: str  # "column = expression" applied to the target row


def _new() -> str:
    return uuid.uuid4().hex[:10]


def _ins(sql: str, *params: Any) -> tuple[str, tuple[Any, ...]]:
    return sql + " returning id", params


def _new_user_profile(cur: psycopg.Cursor[Any], w: World, uid: uuid.UUID | None) -> Any:
    # the auth.users trigger creates profiles; remove one so the actor may insert it
    new = create_user(cur, "newcomer")
    cur.execute("delete from public.users where id = %s", (new,))
    return _ins("insert into public.users (id, email) values (%s, 'n@example.test')", new)


def _new_membership(cur: psycopg.Cursor[Any], w: World, uid: uuid.UUID | None) -> Any:
    new = create_user(cur, "newcomer")
    return _ins(
        "insert into organization_members (organization_id, user_id, role) "
        "values (%s, %s, 'member')",
        w.org_a,
        new,
    )


def _new_preferences(cur: psycopg.Cursor[Any], w: World, uid: uuid.UUID | None) -> Any:
    cur.execute("delete from user_preferences where user_id = %s", (w.uid("self"),))
    return _ins("insert into user_preferences (user_id, theme) values (%s, 'light')", w.uid("self"))


def _new_context(cur: psycopg.Cursor[Any], w: World, uid: uuid.UUID | None) -> Any:
    cur.execute("insert into test_runs (project_id) values (%s) returning id", (w.project,))
    row = cur.fetchone()
    assert row is not None
    return _ins("insert into test_execution_context (run_id) values (%s)", row[0])


def _new_analytics_settings(cur: psycopg.Cursor[Any], w: World, uid: uuid.UUID | None) -> Any:
    # every project has its row (created with it): remove it so the actor may insert it
    cur.execute("delete from analytics_settings where project_id = %s", (w.project,))
    return _ins("insert into analytics_settings (project_id) values (%s)", w.project)


def _new_retention_policy(cur: psycopg.Cursor[Any], w: World, uid: uuid.UUID | None) -> Any:
    # one policy per project: remove the seeded one so the actor may insert it
    cur.execute("delete from retention_policies where project_id = %s", (w.project,))
    return _ins("insert into retention_policies (project_id) values (%s)", w.project)


SPECS: dict[str, Spec] = {
    "users": Spec(_new_user_profile, "display_name = 'Renamed'"),
    "organizations": Spec(
        lambda c, w, uid: _ins(
            "insert into organizations (name, slug, created_by) values ('New', %s, %s)",
            f"new-{_new()}",
            uid,
        ),
        "name = 'Renamed'",
    ),
    "organization_members": Spec(_new_membership, "role = 'guest'"),
    "api_credentials": Spec(
        lambda c, w, uid: _ins(
            "insert into api_credentials (user_id, name, kind, encrypted_secret, key_id) "
            "values (%s, %s, 'api_key', '\\x01', 'k1')",
            w.uid("self"),
            _new(),
        ),
        "name = 'renamed'",
    ),
    "user_preferences": Spec(_new_preferences, "theme = 'light'"),
    "saved_searches": Spec(
        lambda c, w, uid: _ins(
            "insert into saved_searches (user_id, name) values (%s, %s)", w.uid("self"), _new()
        ),
        "name = 'renamed'",
    ),
    "projects": Spec(
        lambda c, w, uid: _ins(
            "insert into projects (organization_id, name, slug) values (%s, 'New', %s)",
            w.org_a,
            f"new-{_new()}",
        ),
        "name = 'Renamed'",
    ),
    "test_suites": Spec(
        lambda c, w, uid: _ins(
            "insert into test_suites (project_id, name, slug) values (%s, 'New', %s)",
            w.project,
            f"new-{_new()}",
        ),
        "name = 'Renamed'",
    ),
    "suite_versions": Spec(
        lambda c, w, uid: _ins(
            "insert into suite_versions (suite_id, content_hash) values (%s, md5(%s))",
            w.suite,
            _new(),
        ),
        "source_path = 'changed.yaml'",
    ),
    "test_cases": Spec(
        lambda c, w, uid: _ins(
            "insert into test_cases (suite_id, stable_id, name) values (%s, %s, 'New')",
            w.suite,
            f"t{_new()}",
        ),
        "name = 'Renamed'",
    ),
    "api_endpoints": Spec(
        lambda c, w, uid: _ins(
            "insert into api_endpoints (project_id, method, path) values (%s, 'GET', %s)",
            w.project,
            f"/{_new()}",
        ),
        "summary = 'changed'",
    ),
    "test_dependencies": Spec(
        lambda c, w, uid: _ins(
            "insert into test_dependencies (test_case_id, depends_on_test_case_id) values (%s, %s)",
            w.cart,
            w.catalog,
        ),
        "dependency_type = 'data'",
    ),
    "test_request_configs": Spec(
        lambda c, w, uid: _ins(
            "insert into test_request_configs (test_case_id, url_template) values (%s, '/items')",
            w.catalog,
        ),
        "timeout_ms = 1234",
    ),
    "test_response_specs": Spec(
        lambda c, w, uid: _ins(
            "insert into test_response_specs (test_case_id, expected_status) values (%s, '{200}')",
            w.catalog,
        ),
        "max_response_ms = 999",
    ),
    "test_data_fixtures": Spec(
        lambda c, w, uid: _ins(
            "insert into test_data_fixtures (project_id, name) values (%s, %s)", w.project, _new()
        ),
        "description = 'changed'",
    ),
    "fixture_usage": Spec(
        lambda c, w, uid: _ins(
            "insert into fixture_usage (fixture_id, test_case_id) values (%s, %s)",
            w.fixture,
            w.cart,
        ),
        "alias = 'rows'",
    ),
    "report_templates": Spec(
        lambda c, w, uid: _ins(
            "insert into report_templates (organization_id, name, format) values (%s, %s, 'html')",
            w.org_a,
            _new(),
        ),
        "name = 'Renamed'",
    ),
    "environments": Spec(
        lambda c, w, uid: _ins(
            "insert into environments (project_id, name) values (%s, %s)", w.project, _new()
        ),
        "description = 'changed'",
    ),
    "environment_variables": Spec(
        lambda c, w, uid: _ins(
            "insert into environment_variables (environment_id, name, value) values (%s, %s, 'v')",
            w.environment,
            f"v{_new()}",
        ),
        "description = 'changed'",
    ),
    "test_runs": Spec(
        lambda c, w, uid: _ins(
            "insert into test_runs (project_id, created_by) values (%s, %s)", w.project, uid
        ),
        "pinned = true",
    ),
    "test_execution_context": Spec(_new_context, "test_order = '[\"x\"]'"),
    "test_results": Spec(
        lambda c, w, uid: _ins(
            "insert into test_results (run_id, test_key, name, status) "
            "values (%s, %s, 'New', 'passed')",
            w.run,
            f"k{_new()}",
        ),
        "message = 'changed'",
    ),
    "test_result_details": Spec(
        lambda c, w, uid: _ins(
            "insert into test_result_details (result_id, kind, ordinal, name, passed) "
            "values (%s, 'assertion', 99, 'extra', true)",
            w.result,
        ),
        "message = 'changed'",
    ),
    "performance_metrics": Spec(
        lambda c, w, uid: _ins(
            "insert into performance_metrics (test_case_id, environment_id, metric_date, "
            "total_runs, successful_runs) values (%s, %s, '2000-01-01', 1, 1)",
            w.catalog,
            w.environment,
        ),
        "avg_response_ms = 1",
    ),
    "test_run_history": Spec(
        lambda c, w, uid: _ins(
            "insert into test_run_history (project_id, run_date) values (%s, '2000-01-01')",
            w.project,
        ),
        "avg_duration_ms = 1",
    ),
    "failure_analysis": Spec(
        lambda c, w, uid: _ins(
            "insert into failure_analysis (test_case_id, fingerprint, error_category, "
            "normalized_message, first_seen, last_seen) "
            "values (%s, md5('x'), 'timeout', 'x', now(), now())",
            w.catalog,
        ),
        "sample_message = 'changed'",
    ),
    "audit_log": Spec(
        lambda c, w, uid: _ins(
            "insert into audit_log (organization_id, table_name, operation, actor_role, new_data) "
            "values (%s, 'projects', 'INSERT', 'test', '{}')",
            w.org_a,
        ),
        "actor_role = 'changed'",
    ),
    "analytics_settings": Spec(_new_analytics_settings, "flaky_window_days = 14"),
    "test_quarantines": Spec(
        lambda c, w, uid: _ins(
            "insert into test_quarantines (test_case_id, reason) values (%s, 'flaky')", w.catalog
        ),
        "reason = 'changed'",
    ),
    "flaky_test_detections": Spec(
        lambda c, w, uid: _ins(
            "insert into flaky_test_detections (test_case_id, window_days, runs, failures, "
            "failure_rate, flips, recovered_on_retry, recovered_rate, reasons) "
            "values (%s, 7, 3, 1, 0.33, 2, 0, 0, '{flip_rate}')",
            w.catalog,
        ),
        "reasons = '{flip_rate}'",
    ),
    "performance_regressions": Spec(
        lambda c, w, uid: _ins(
            "insert into performance_regressions (test_case_id, metric_date, p95_ms, "
            "baseline_p95_ms, baseline_days, baseline_runs, ratio, threshold, explanation) "
            "values (%s, '2000-01-01', 2, 1, 7, 3, 2, 0.2, 'x')",
            w.catalog,
        ),
        "explanation = 'changed'",
    ),
    "retention_policies": Spec(_new_retention_policy, "passed_results_days = 30"),
    "performance_metrics_monthly": Spec(
        lambda c, w, uid: _ins(
            "insert into performance_metrics_monthly (test_case_id, environment_id, "
            "metric_month, total_runs, successful_runs) values (%s, %s, '2000-01-01', 1, 1)",
            w.catalog,
            w.environment,
        ),
        "avg_response_ms = 1",
    ),
}

# Refusals: no privilege (42501 from GRANTs, RLS WITH CHECK and the append-only trigger).
DENIED = (errors.InsufficientPrivilege,)


def _snapshot(cur: psycopg.Cursor[Any], table: str, row_id: uuid.UUID) -> Any:
    cur.execute(f"select to_jsonb(t) from public.{table} as t where id = %s", (row_id,))  # noqa: S608
    row = cur.fetchone()
    return row[0] if row else None


def _attempt(
    conn: psycopg.Connection[Any], world: World, table: str, actor: str, op: str
) -> tuple[bool, str]:
    """Run one operation as ``actor`` in a rolled-back transaction: (allowed, how)."""
    spec = SPECS[table]
    target = world.target(table)
    try:
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            before = _snapshot(cur, table, target)
            assert before is not None, f"{table}: target row missing"
            if op == "I":
                sql, params = spec.insert(cur, world, world.uid(actor))
            elif op == "S":
                sql, params = f"select id from public.{table} where id = %s", (target,)  # noqa: S608
            elif op == "U":
                sql = f"update public.{table} set {spec.update} where id = %s returning id"  # noqa: S608
                params = (target,)
            else:
                sql, params = f"delete from public.{table} where id = %s returning id", (target,)  # noqa: S608
            set_identity(cur, world, actor)
            try:
                cur.execute(sql, params)
                rows = cur.fetchall()
            except DENIED as exc:
                return False, f"refused: {exc.sqlstate} {str(exc).splitlines()[0]}"
            if op == "I":
                assert len(rows) <= 1
            elif rows:
                assert rows == [(target,)], rows
            if rows:
                return True, "returned the row"
            # nothing returned: the row must be untouched
            reset_identity(cur)
            after = _snapshot(cur, table, target)
            assert after == before, f"{table} {op} by {actor} returned nothing but changed the row"
            return False, "no rows"
    except psycopg.errors.Error as exc:
        # anything but a refusal is a broken test fixture, reported with the case
        raise AssertionError(f"{table} {op} as {actor}: unexpected {exc!r}") from exc


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_access_matrix(migrated_db: str, table: str) -> None:
    """Each actor can do exactly the operations the matrix lists on the table, no more."""
    world = seed(migrated_db)
    mismatches = []
    with psycopg.connect(migrated_db) as conn:
        for actor in ACTORS:
            for op in "SIUD":
                allowed, how = _attempt(conn, world, table, actor, op)
                expected = op in EXPECTED[table][actor]
                if allowed != expected:
                    want = "allowed" if expected else "denied"
                    mismatches.append(f"{actor} {op}: expected {want}, got {how}")
    assert not mismatches, f"{table}:\n" + "\n".join(mismatches)


def test_matrix_covers_every_public_table(migrated_db: str) -> None:
    """The matrix (and the specs driving it) name exactly the tables in schema public."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('r', 'p')"
        ).fetchall()
    assert {r[0] for r in rows} == set(EXPECTED) == set(SPECS)


def _docs_matrix() -> dict[str, dict[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("<!-- rls-matrix:start -->", 1)[1].split("<!-- rls-matrix:end -->", 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "table"
    actors = header[1:]
    matrix: dict[str, dict[str, str]] = {}
    for line in lines[2:]:  # skip the header separator
        cells = [c.strip() for c in line.strip("|").split("|")]
        table = re.sub(r"[`*]", "", cells[0])
        matrix[table] = {a: c.replace(" ", "") for a, c in zip(actors, cells[1:], strict=True)}
    return matrix


def test_docs_matrix_matches_the_tested_one() -> None:
    """docs/security.md shows exactly the matrix this module enforces."""
    assert _docs_matrix() == EXPECTED
