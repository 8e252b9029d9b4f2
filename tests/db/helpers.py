"""Shared by the schema, RLS, function and trigger tests: actors, identities, a seeded world.

Identity is set per transaction exactly as PostgREST does it:
``set_config('role', ..., true)`` and ``set_config('request.jwt.claims', ..., true)``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import tuple_row

ACTORS = ("anon", "outsider", "guest", "member", "editor", "admin", "owner", "self", "service_role")
"""Who acts. ``self`` is a second plain member: the owner of the personal rows (profile,
credential, preferences, saved search) the matrix targets. ``outsider`` owns another
organisation. The organisation roles are those of organisation A, which holds every
target row."""

ORG_ROLES = {
    "owner": "owner",
    "admin": "admin",
    "editor": "editor",
    "member": "member",
    "guest": "guest",
    "self": "member",
}

TARGET_ROW = {
    "organizations": "org_a",
    "organization_members": "membership_self",
    "api_credentials": "credential",
    "user_preferences": "preferences",
    "saved_searches": "saved_search",
    "projects": "project",
    "test_suites": "suite",
    "suite_versions": "suite_version",
    "test_cases": "login",
    "api_endpoints": "endpoint",
    "test_dependencies": "dependency",
    "test_request_configs": "request_config",
    "test_response_specs": "response_spec",
    "test_data_fixtures": "fixture",
    "fixture_usage": "fixture_use",
    "report_templates": "template",
    "environments": "environment",
    "environment_variables": "variable",
    "test_runs": "run",
    "test_execution_context": "context",
    "test_results": "result",
    "test_result_details": "detail",
    "performance_metrics": "metric",
    "test_run_history": "history",
    "failure_analysis": "failure",
    "audit_log": "audit",
    "retention_policies": "retention_policy",
    "performance_metrics_monthly": "metric_monthly",
    "analytics_settings": "analytics_settings",
    "test_quarantines": "quarantine",
    "flaky_test_detections": "flaky_detection",
    "performance_regressions": "regression",
}
"""Which seeded row (a key of ``World.rows``) stands for each table; ``users`` is self's profile."""

SET_IDENTITY = "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"


@dataclass
class World:
    """Ids of everything seeded: users by actor name, and one row of each table in org A."""

    users: dict[str, uuid.UUID] = field(default_factory=dict)
    rows: dict[str, uuid.UUID] = field(default_factory=dict)

    def uid(self, actor: str) -> uuid.UUID | None:
        """The auth.uid() of an actor (None for anon and service_role)."""
        return self.users.get(actor)

    def target(self, table: str) -> uuid.UUID:
        """The seeded row of ``table`` that the access tests aim at."""
        if table == "users":
            return self.users["self"]
        return self.rows[TARGET_ROW[table]]

    def __getattr__(self, name: str) -> uuid.UUID:
        try:
            return self.__dict__["rows"][name]
        except KeyError:
            raise AttributeError(name) from None


def claims_for(world: World, actor: str) -> tuple[str, dict[str, Any]]:
    """The database role and JWT claims PostgREST would set for an actor."""
    if actor == "anon":
        return "anon", {"role": "anon"}
    if actor == "service_role":
        return "service_role", {"role": "service_role"}
    uid = world.users[actor]
    return "authenticated", {
        "sub": str(uid),
        "role": "authenticated",
        "email": f"{actor}@example.test",
        "aud": "authenticated",
    }


def set_identity(cur: psycopg.Cursor[Any], world: World, actor: str) -> None:
    """Act as ``actor`` until the end of the current transaction."""
    role, claims = claims_for(world, actor)
    cur.execute(SET_IDENTITY, (role, json.dumps(claims)))


def reset_identity(cur: psycopg.Cursor[Any]) -> None:
    """Back to the superuser for the rest of the transaction."""
    cur.execute(
        "select set_config('role', 'none', true), set_config('request.jwt.claims', '', true)"
    )


@contextmanager
def acting_as(url: str, world: World, actor: str) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor in a transaction acting as ``actor``; committed if the block succeeds."""
    with psycopg.connect(url, row_factory=tuple_row) as conn, conn.cursor() as cur:
        set_identity(cur, world, actor)
        yield cur


def create_user(cur: psycopg.Cursor[Any], name: str) -> uuid.UUID:
    """An auth.users account (its profile comes from the trigger)."""
    uid = uuid.uuid4()
    cur.execute(
        "insert into auth.users (id, email, aud, role, raw_user_meta_data) "
        "values (%s, %s, 'authenticated', 'authenticated', %s)",
        (uid, f"{name}@example.test", json.dumps({"display_name": name})),
    )
    return uid


def _one(cur: psycopg.Cursor[Any], sql: str, params: tuple[Any, ...] = ()) -> Any:
    cur.execute(sql, params)
    row = cur.fetchone()
    assert row is not None, sql
    return row[0]


def seed(url: str) -> World:
    """Organisation A with one user per role and one row in every table; org B for the outsider.

    Written as the superuser (RLS does not apply), committed.
    """
    w = World()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for actor in ("owner", "admin", "editor", "member", "guest", "self", "outsider"):
            w.users[actor] = create_user(cur, actor)
        r = w.rows
        r["org_a"] = _one(
            cur,
            "insert into organizations (name, slug, created_by) values ('Org A', 'org-a', %s) "
            "returning id",
            (w.users["owner"],),
        )
        r["org_b"] = _one(
            cur,
            "insert into organizations (name, slug, created_by) values ('Org B', 'org-b', %s) "
            "returning id",
            (w.users["outsider"],),
        )
        for actor, role in ORG_ROLES.items():
            if role != "owner":
                cur.execute(
                    "insert into organization_members (organization_id, user_id, role) "
                    "values (%s, %s, %s)",
                    (r["org_a"], w.users[actor], role),
                )
        r["membership_self"] = _one(
            cur,
            "select id from organization_members where organization_id = %s and user_id = %s",
            (r["org_a"], w.users["self"]),
        )
        r["project"] = _one(
            cur,
            "insert into projects (organization_id, name, slug) values (%s, 'Shop', 'shop') "
            "returning id",
            (r["org_a"],),
        )
        r["project_b"] = _one(
            cur,
            "insert into projects (organization_id, name, slug) values (%s, 'B', 'b') returning id",
            (r["org_b"],),
        )
        r["suite"] = _one(
            cur,
            "insert into test_suites (project_id, name, slug) values (%s, 'Shop', 'shop') "
            "returning id",
            (r["project"],),
        )
        r["endpoint"] = _one(
            cur,
            "insert into api_endpoints (project_id, method, path, tags) "
            "values (%s, 'POST', '/cart', '{cart}') returning id",
            (r["project"],),
        )
        for key in ("login", "catalog", "cart"):
            r[key] = _one(
                cur,
                "insert into test_cases (suite_id, stable_id, name, tags) "
                "values (%s, %s, %s, '{smoke}') returning id",
                (r["suite"], key, key.title()),
            )
        cur.execute(
            "update test_cases set api_endpoint_id = %s where id = %s", (r["endpoint"], r["cart"])
        )
        r["suite_version"] = _one(
            cur,
            "insert into suite_versions (suite_id, content_hash, case_ids) "
            "values (%s, repeat('a', 64), array[%s, %s, %s]::uuid[]) returning id",
            (r["suite"], r["login"], r["catalog"], r["cart"]),
        )
        cur.execute(
            "update test_suites set current_version_id = %s where id = %s",
            (r["suite_version"], r["suite"]),
        )
        r["dependency"] = _one(
            cur,
            "insert into test_dependencies (test_case_id, depends_on_test_case_id, dependency_type)"
            " values (%s, %s, 'token') returning id",
            (r["cart"], r["login"]),
        )
        r["request_config"] = _one(
            cur,
            "insert into test_request_configs (test_case_id, method, url_template) "
            "values (%s, 'POST', '/login') returning id",
            (r["login"],),
        )
        r["response_spec"] = _one(
            cur,
            "insert into test_response_specs (test_case_id, expected_status) "
            "values (%s, '{200}') returning id",
            (r["login"],),
        )
        r["fixture"] = _one(
            cur,
            "insert into test_data_fixtures (project_id, name, data, tags) "
            """values (%s, 'users', '[{"name": "a"}]', '{data}') returning id""",
            (r["project"],),
        )
        r["fixture_use"] = _one(
            cur,
            "insert into fixture_usage (fixture_id, test_case_id) values (%s, %s) returning id",
            (r["fixture"], r["login"]),
        )
        r["environment"] = _one(
            cur,
            "insert into environments (project_id, name, base_url) "
            "values (%s, 'staging', 'https://staging.example.test') returning id",
            (r["project"],),
        )
        r["variable"] = _one(
            cur,
            "insert into environment_variables (environment_id, name, value) "
            "values (%s, 'region', 'eu') returning id",
            (r["environment"],),
        )
        r["secret"] = _one(
            cur,
            "insert into environment_variables (environment_id, name, is_secret, encrypted_value,"
            " key_id) values (%s, 'password', true, '\\xdeadbeef', 'k1') returning id",
            (r["environment"],),
        )
        r["finished_run"] = _one(
            cur,
            "insert into test_runs (project_id, suite_id, environment_id, status, started_at) "
            "values (%s, %s, %s, 'passed', now() - interval '1 minute') returning id",
            (r["project"], r["suite"], r["environment"]),
        )
        r["run"] = _one(
            cur,
            "insert into test_runs (project_id, suite_id, environment_id, total_tests, created_by)"
            " values (%s, %s, %s, 3, %s) returning id",
            (r["project"], r["suite"], r["environment"], w.users["editor"]),
        )
        r["context"] = _one(cur, "select public.init_run_context(%s, '[\"login\"]')", (r["run"],))
        cur.execute(
            "select public.record_results(%s, %s)",
            (
                r["run"],
                json.dumps(
                    [
                        {
                            "test_case_id": str(r["login"]),
                            "test_key": "login",
                            "name": "Login",
                            "status": "passed",
                            "response_time_ms": 10.0,
                            "checks": [{"name": "status", "passed": True, "expected": 200}],
                        },
                        {
                            "test_case_id": str(r["cart"]),
                            "test_key": "cart",
                            "name": "Cart",
                            "status": "failed",
                            "error_category": "assertion",
                            "message": "expected 3 items, got 4",
                            "response_time_ms": 30.0,
                        },
                    ]
                ),
            ),
        )
        r["result"] = _one(
            cur, "select id from test_results where run_id = %s and test_key = 'login'", (r["run"],)
        )
        r["detail"] = _one(
            cur, "select id from test_result_details where result_id = %s", (r["result"],)
        )
        r["metric"] = _one(
            cur, "select id from performance_metrics where test_case_id = %s", (r["login"],)
        )
        r["history"] = _one(
            cur, "select id from test_run_history where project_id = %s", (r["project"],)
        )
        r["failure"] = _one(
            cur, "select id from failure_analysis where test_case_id = %s", (r["cart"],)
        )
        r["analytics_settings"] = _one(
            cur, "select id from analytics_settings where project_id = %s", (r["project"],)
        )
        r["quarantine"] = _one(
            cur,
            "insert into test_quarantines (test_case_id, reason) values (%s, 'seeded') "
            "returning id",
            (r["login"],),
        )
        r["flaky_detection"] = _one(
            cur,
            "insert into flaky_test_detections (test_case_id, environment_id, window_days, "
            "runs, failures, failure_rate, flips, flip_rate, recovered_on_retry, recovered_rate, "
            "reasons) "
            "values (%s, %s, 7, 3, 1, 0.33, 2, 1, 0, 0, '{failure_rate}') returning id",
            (r["login"], r["environment"]),
        )
        r["regression"] = _one(
            cur,
            "insert into performance_regressions (test_case_id, environment_id, metric_date, "
            "p95_ms, baseline_p95_ms, baseline_days, baseline_runs, ratio, threshold, explanation) "
            "values (%s, %s, '2000-01-08', 130, 100, 7, 7, 1.3, 0.2, 'seeded') returning id",
            (r["login"], r["environment"]),
        )
        r["retention_policy"] = _one(
            cur,
            "insert into retention_policies (project_id) values (%s) returning id",
            (r["project"],),
        )
        r["metric_monthly"] = _one(
            cur,
            "insert into performance_metrics_monthly (test_case_id, environment_id, metric_month, "
            "total_runs, successful_runs) "
            "values (%s, %s, date_trunc('month', current_date)::date, 2, 1) returning id",
            (r["login"], r["environment"]),
        )
        r["template"] = _one(
            cur,
            "insert into report_templates (organization_id, project_id, name, format) "
            "values (%s, %s, 'Summary', 'markdown') returning id",
            (r["org_a"], r["project"]),
        )
        r["preferences"] = _one(
            cur,
            "insert into user_preferences (user_id, theme) values (%s, 'dark') returning id",
            (w.users["self"],),
        )
        r["saved_search"] = _one(
            cur,
            "insert into saved_searches (user_id, organization_id, name) "
            "values (%s, %s, 'failures') returning id",
            (w.users["self"], r["org_a"]),
        )
        r["credential"] = _one(
            cur,
            "insert into api_credentials (user_id, name, kind, encrypted_secret, key_id) "
            "values (%s, 'shop', 'bearer', '\\x0102', 'k1') returning id",
            (w.users["self"],),
        )
        r["audit"] = _one(
            cur,
            "select id from audit_log where table_name = 'projects' and row_id = %s",
            (r["project"],),
        )
    return w
