"""What the migrations leave in the catalog: RLS, comments, triggers, grants, indexes, checks."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from helpers import TARGET_ROW, seed
from psycopg import errors

pytestmark = pytest.mark.db

TABLES = sorted([*TARGET_ROW, "users"])


def _rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def test_every_table_has_row_level_security(migrated_db: str) -> None:
    """RLS is enabled on every table of schema public (and the test knows them all)."""
    rows = _rows(
        migrated_db,
        "select c.relname, c.relrowsecurity from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1",
    )
    assert [r[0] for r in rows] == TABLES
    assert [r[0] for r in rows if not r[1]] == []


def test_every_table_and_column_has_a_comment(migrated_db: str) -> None:
    """COMMENT ON covers every table and every column of schema public."""
    rows = _rows(
        migrated_db,
        "select c.relname, null from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind = 'r' "
        "  and coalesce(obj_description(c.oid, 'pg_class'), '') = '' "
        "union all "
        "select c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped "
        "  and coalesce(col_description(c.oid, a.attnum), '') = ''",
    )
    assert rows == []


def test_every_updated_at_column_has_its_trigger(migrated_db: str) -> None:
    """Each table with updated_at has a BEFORE UPDATE row trigger calling private.set_updated_at."""
    with_column = {
        r[0]
        for r in _rows(
            migrated_db,
            "select table_name from information_schema.columns "
            "where table_schema = 'public' and column_name = 'updated_at'",
        )
    }
    with_trigger = {
        r[0]
        for r in _rows(
            migrated_db,
            "select c.relname from pg_trigger t join pg_class c on c.oid = t.tgrelid "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and t.tgfoid = 'private.set_updated_at()'::regprocedure "
            "  and (t.tgtype & 2) <> 0 and (t.tgtype & 16) <> 0 and (t.tgtype & 1) <> 0",
        )
    }
    assert with_column == set(TABLES) - {"audit_log"}
    assert with_trigger == with_column


def test_updated_at_is_set_by_the_database(migrated_db: str) -> None:
    """An update moves updated_at to the transaction time, whatever value the client sent."""
    world = seed(migrated_db)
    stale = []
    with psycopg.connect(migrated_db) as conn:
        for table in sorted(set(TABLES) - {"audit_log"}):
            conn.execute(
                f"update public.{table} set updated_at = '2000-01-01' where id = %s",  # noqa: S608
                (world.target(table),),
            )
            row = conn.execute(
                f"select updated_at = now() from public.{table} where id = %s",  # noqa: S608
                (world.target(table),),
            ).fetchone()
            if row != (True,):
                stale.append(table)
    assert stale == []


def test_policies_are_for_authenticated_only(migrated_db: str) -> None:
    """Every policy of schema public applies to the authenticated role and no other."""
    rows = _rows(
        migrated_db,
        "select tablename, policyname, roles from pg_policies where schemaname = 'public'",
    )
    assert rows
    assert [r for r in rows if r[2] != ["authenticated"]] == []


def test_columns_policies_filter_on_are_indexed(migrated_db: str) -> None:
    """Each column a policy compares (organization_id, user_id, id, created_by) leads an index."""
    policies = _rows(
        migrated_db,
        "select tablename, coalesce(qual, '') || ' ' || coalesce(with_check, '') "
        "from pg_policies where schemaname = 'public'",
    )
    leading = {
        (r[0], r[1])
        for r in _rows(
            migrated_db,
            "select c.relname, a.attname from pg_index i join pg_class c on c.oid = i.indrelid "
            "join pg_namespace n on n.oid = c.relnamespace "
            "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0] "
            "where n.nspname = 'public'",
        )
    }
    checked, missing = set(), set()
    for table, text in policies:
        # bare column references only: skip function arguments and qualified names
        for column in re.findall(r"(?<![.\w'])(organization_id|user_id|id|created_by)\b", text):
            checked.add((table, column))
            if (table, column) not in leading:
                missing.add((table, column))
    assert len({t for t, _ in checked}) == len(TABLES)
    assert missing == set()


def test_every_foreign_key_is_indexed(migrated_db: str) -> None:
    """Each foreign key has an index led by one of its columns (cheap cascades and joins)."""
    rows = _rows(
        migrated_db,
        "select c.conrelid::regclass::text, c.conname from pg_constraint c "
        "join pg_class t on t.oid = c.conrelid join pg_namespace n on n.oid = t.relnamespace "
        "where c.contype = 'f' and n.nspname = 'public' and not exists ("
        "  select 1 from pg_index i where i.indrelid = c.conrelid and i.indkey[0] = any "
        "(c.conkey))",
    )
    assert rows == []


REQUIRED_INDEXES = [
    (
        "test_execution_context",
        "UNIQUE INDEX test_execution_context_run_id_key ON public.test_execution_context "
        "USING btree (run_id)",
    ),
    (
        "test_results",
        "INDEX test_results_run_id_idx ON public.test_results USING btree (run_id, created_at)",
    ),
    (
        "test_results",
        "INDEX test_results_created_at_idx ON public.test_results USING btree (created_at DESC)",
    ),
    (
        "test_dependencies",
        "UNIQUE INDEX test_dependencies_pair_key ON public.test_dependencies USING btree "
        "(test_case_id, depends_on_test_case_id)",
    ),
    (
        "performance_metrics",
        "INDEX performance_metrics_test_case_idx ON public.performance_metrics USING btree "
        "(test_case_id)",
    ),
    (
        "performance_metrics",
        "INDEX performance_metrics_date_idx ON public.performance_metrics USING btree "
        "(metric_date DESC)",
    ),
    (
        "performance_metrics",
        "INDEX performance_metrics_lookup_idx ON public.performance_metrics USING btree "
        "(test_case_id, environment_id, metric_date DESC)",
    ),
    (
        "test_suites",
        "UNIQUE INDEX test_suites_project_id_slug_key ON public.test_suites USING btree "
        "(project_id, slug)",
    ),
    (
        "test_cases",
        "INDEX test_cases_suite_id_enabled_idx ON public.test_cases USING btree (suite_id, "
        "enabled)",
    ),
    (
        "api_credentials",
        "UNIQUE INDEX api_credentials_user_id_name_key ON public.api_credentials USING btree "
        "(user_id, name)",
    ),
    (
        "test_runs",
        "INDEX test_runs_lookup_idx ON public.test_runs USING btree (project_id, status, "
        "created_at DESC)",
    ),
    ("api_endpoints", "INDEX api_endpoints_tags_idx ON public.api_endpoints USING gin (tags)"),
    (
        "test_data_fixtures",
        "INDEX test_data_fixtures_tags_idx ON public.test_data_fixtures USING gin (tags)",
    ),
]
"""(table, index definition) the queries of the runner and the UI rely on."""


def test_required_indexes_exist(migrated_db: str) -> None:
    """The indexes the queries of the runner and the UI rely on exist as defined."""
    defs = {
        (r[0], r[1])
        for r in _rows(
            migrated_db, "select tablename, indexdef from pg_indexes where schemaname = 'public'"
        )
    }
    assert [i for i in REQUIRED_INDEXES if (i[0], f"CREATE {i[1]}") not in defs] == []


def test_metrics_group_key_treats_null_environments_as_equal(migrated_db: str) -> None:
    """performance_metrics is unique per (test case, environment, day) with NULLS NOT DISTINCT."""
    world = seed(migrated_db)
    insert = (
        "insert into performance_metrics (test_case_id, environment_id, metric_date) "
        "values (%s, null, '2001-01-01')"
    )
    with psycopg.connect(migrated_db) as conn:
        conn.execute(insert, (world.catalog,))
        with pytest.raises(errors.UniqueViolation):
            conn.execute(insert, (world.catalog,))


def test_grants_anon_nothing_and_service_role_everything(migrated_db: str) -> None:
    """anon holds no table privilege; service_role writes every table (audit_log: append only)."""
    rows = _rows(
        migrated_db,
        "select c.relname, "
        "  has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate, "
        "references, trigger'), "
        "  has_table_privilege('service_role', c.oid, 'select'), "
        "  has_table_privilege('service_role', c.oid, 'insert'), "
        "  has_table_privilege('service_role', c.oid, 'update'), "
        "  has_table_privilege('service_role', c.oid, 'delete') "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relkind = 'r' order by 1",
    )
    assert [r[0] for r in rows if r[1]] == []
    for table, _, s, i, u, d in rows:
        assert (s, i, u, d) == (
            (True, True, False, False) if table == "audit_log" else (True,) * 4
        ), table


# one invalid value per CHECK that encodes an enum or a validation rule
INVALID = [
    (
        "update organization_members set role = 'superuser' where id = %(membership_self)s",
        errors.CheckViolation,
    ),
    ("update organizations set slug = 'Not A Slug' where id = %(org_a)s", errors.CheckViolation),
    (
        "update api_credentials set kind = 'password' where id = %(credential)s",
        errors.CheckViolation,
    ),
    ("update test_runs set status = 'done' where id = %(run)s", errors.CheckViolation),
    ("update test_runs set trigger = 'cron' where id = %(run)s", errors.CheckViolation),
    (
        "update test_runs set passed_tests = passed_tests + 1 where id = %(run)s",
        errors.CheckViolation,
    ),
    ("update test_runs set finished_at = now() where id = %(run)s", errors.CheckViolation),
    ("update test_results set status = 'ok' where id = %(result)s", errors.CheckViolation),
    (
        "update test_results set error_category = 'oops' where id = %(result)s",
        errors.CheckViolation,
    ),
    (
        "update test_results set error_category = 'timeout' where id = %(result)s",
        errors.CheckViolation,
    ),
    ("update test_results set status_code = 99 where id = %(result)s", errors.CheckViolation),
    ("update test_result_details set kind = 'log' where id = %(detail)s", errors.CheckViolation),
    ("update test_result_details set passed = null where id = %(detail)s", errors.CheckViolation),
    (
        "update test_dependencies set dependency_type = 'soft' where id = %(dependency)s",
        errors.CheckViolation,
    ),
    (
        "update test_dependencies set depends_on_test_case_id = test_case_id where id = "
        "%(dependency)s",
        errors.CheckViolation,
    ),
    ("update test_cases set stable_id = '1bad id' where id = %(login)s", errors.CheckViolation),
    ("update test_cases set definition = '[]' where id = %(login)s", errors.CheckViolation),
    ("update api_endpoints set method = 'FETCH' where id = %(endpoint)s", errors.CheckViolation),
    ("update api_endpoints set path = 'no-slash' where id = %(endpoint)s", errors.CheckViolation),
    (
        "update environments set base_url = 'ftp://x' where id = %(environment)s",
        errors.CheckViolation,
    ),
    (
        "update environment_variables set value = 'plain' where id = %(secret)s",
        errors.CheckViolation,
    ),
    (
        "update environment_variables set encrypted_value = '\\x01' where id = %(variable)s",
        errors.CheckViolation,
    ),
    (
        "update environment_variables set is_secret = true where id = %(variable)s",
        errors.CheckViolation,
    ),
    (
        "update test_request_configs set body_kind = 'json' where id = %(request_config)s",
        errors.CheckViolation,
    ),
    (
        "update test_response_specs set expected_status = '{200, 700}' where id = "
        "%(response_spec)s",
        errors.CheckViolation,
    ),
    (
        "update performance_metrics set successful_runs = total_runs + 1 where id = %(metric)s",
        errors.CheckViolation,
    ),
    (
        "update performance_metrics set success_rate = 1.5 where id = %(metric)s",
        errors.CheckViolation,
    ),
    (
        "update failure_analysis set fingerprint = 'xyz' where id = %(failure)s",
        errors.CheckViolation,
    ),
    ("update report_templates set format = 'pdf' where id = %(template)s", errors.CheckViolation),
    (
        "update user_preferences set theme = 'neon' where id = %(preferences)s",
        errors.CheckViolation,
    ),
    (
        "update saved_searches set target = 'users' where id = %(saved_search)s",
        errors.CheckViolation,
    ),
    (
        "update test_execution_context set captured_data = '[]' where id = %(context)s",
        errors.CheckViolation,
    ),
    (
        "insert into test_cases (suite_id, stable_id, name) select suite_id, stable_id, 'dup' "
        "from test_cases where id = %(login)s",
        errors.UniqueViolation,
    ),
    (
        "insert into environments (project_id, name) values (%(project)s, 'staging')",
        errors.UniqueViolation,
    ),
    (
        "insert into organization_members (organization_id, user_id) select organization_id, "
        "user_id from organization_members where id = %(membership_self)s",
        errors.UniqueViolation,
    ),
]


def test_constraints_reject_invalid_values(migrated_db: str) -> None:
    """Enums and validation rules are enforced by the database itself."""
    world = seed(migrated_db)
    accepted = []
    with psycopg.connect(migrated_db) as conn:
        for sql, error in INVALID:
            try:
                with conn.transaction():
                    conn.execute(sql, world.rows)
            except error:
                continue
            accepted.append(sql)
    assert accepted == []
