"""Helpers of the browser tests: users through supabase-js, rows through the database.

Users sign up in the page (the auth contract); organisations, projects and runs are
written as the database superuser, the way the runner's service role records them.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from playwright.sync_api import Page

PASSWORD = "correct-horse-battery-staple"


@dataclass(frozen=True)
class PageUser:
    """A user signed in through supabase-js; ``client`` names its ``window`` global."""

    client: str
    id: str
    email: str
    access_token: str


def sign_up(page: Page, client: str, email: str | None = None) -> PageUser:
    """Make ``window[client]`` (supabase-js) and sign a new user up with it."""
    email = email or f"{client}-{uuid.uuid4().hex[:8]}@example.com"
    result: dict[str, Any] = page.evaluate(
        """async ([name, email, password]) => {
            const client = window.makeClient('sb-' + name);
            window[name] = client;
            const { data, error } = await client.auth.signUp({ email, password });
            if (error) return { error: error.message };
            return { id: data.user?.id, token: data.session?.access_token ?? null };
        }""",
        [client, email, PASSWORD],
    )
    assert "error" not in result, f"signUp failed: {result}"
    assert result["token"], "signUp gave no session (email confirmation must be off locally)"
    return PageUser(client, result["id"], email, result["token"])


def seed_org(db_url: str, owner_id: str, slug: str) -> tuple[str, str]:
    """An organisation owned by ``owner_id`` with one project: (organization id, project id)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.organizations (name, slug, created_by) values (%s, %s, %s)"
            " returning id",
            (slug.title(), slug, owner_id),
        ).fetchone()
        assert row is not None
        org_id = str(row[0])
        row = conn.execute(
            "insert into public.projects (organization_id, name, slug) values (%s, %s, 'api')"
            " returning id",
            (org_id, f"{slug} api"),
        ).fetchone()
        assert row is not None
        return org_id, str(row[0])


def add_member(db_url: str, org_id: str, user_id: str, role: str = "member") -> None:
    """Put ``user_id`` in the organisation with ``role``."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.organization_members (organization_id, user_id, role)"
            " values (%s, %s, %s)",
            (org_id, user_id, role),
        )


def insert_run(db_url: str, project_id: str, *, suite_name: str = "shop") -> str:
    """A running test run of the project (as the service role would record it)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.test_runs (project_id, suite_name, environment_name, trigger)"
            " values (%s, %s, 'local', 'ci') returning id",
            (project_id, suite_name),
        ).fetchone()
        assert row is not None
        return str(row[0])


def sql(db_url: str, query: str, params: tuple[Any, ...] = ()) -> None:
    """Run one statement as the database superuser (committed)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(query, params)


@dataclass(frozen=True)
class SeededRun:
    """A stored suite (cases and dependencies) and a running run of it."""

    project_id: str
    suite_id: str
    run_id: str
    case_ids: dict[str, str]


def seed_suite_run(
    db_url: str, project_id: str, cases: list[str], edges: list[tuple[str, str]]
) -> SeededRun:
    """Store a suite of ``cases`` with ``edges`` (dependency, dependent) and start a run."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into public.test_suites (project_id, name, slug) values (%s, 'shop', 'shop')"
            " returning id",
            (project_id,),
        ).fetchone()
        assert row is not None
        suite_id = str(row[0])
        case_ids: dict[str, str] = {}
        for order, key in enumerate(cases):
            row = conn.execute(
                "insert into public.test_cases (project_id, suite_id, stable_id, name, sort_order)"
                " values (%s, %s, %s, %s, %s) returning id",
                (project_id, suite_id, key, key.replace("_", " ").title(), order),
            ).fetchone()
            assert row is not None
            case_ids[key] = str(row[0])
        for dep, test in edges:
            conn.execute(
                "insert into public.test_dependencies"
                " (suite_id, test_case_id, depends_on_test_case_id, dependency_type)"
                " values (%s, %s, %s, 'data')",
                (suite_id, case_ids[test], case_ids[dep]),
            )
        row = conn.execute(
            "insert into public.test_runs"
            " (project_id, suite_id, suite_name, environment_name, trigger, total_tests)"
            " values (%s, %s, 'shop', 'local', 'ci', %s) returning id",
            (project_id, suite_id, len(cases)),
        ).fetchone()
        assert row is not None
        run_id = str(row[0])
        conn.execute("select public.init_run_context(%s, %s::jsonb)", (run_id, json.dumps(cases)))
    return SeededRun(project_id, suite_id, run_id, case_ids)


def result(key: str, status: str = "passed", **extra: Any) -> dict[str, Any]:
    """One result as record_results takes it, with a check and an attempt."""
    passed = status == "passed"
    return {
        "test_key": key,
        "name": key,
        "status": status,
        "error_category": None if passed else ("blocked" if status == "skipped" else "assertion"),
        "message": "" if passed else f"{key} did not pass",
        "started_at": "2026-01-01T10:00:00Z",
        "finished_at": "2026-01-01T10:00:01Z",
        "response_time_ms": 12.5,
        "status_code": 200 if passed else 500,
        "request": {
            "method": "GET",
            "url": f"http://api.test/{key}",
            "headers": {"authorization": "[REDACTED]"},
        },
        "response": {"status": 200 if passed else 500, "body": {"ok": passed}},
        "checks": [
            {"name": "status", "passed": passed, "expected": 200, "actual": 200 if passed else 500}
        ],
        "attempts": [
            {
                "number": 1,
                "started_at": "2026-01-01T10:00:00Z",
                "duration_ms": 12.5,
                "status_code": 200 if passed else 500,
            }
        ],
        **extra,
    }


def record(db_url: str, run_id: str, *results: dict[str, Any]) -> None:
    """record_results as the runner calls it (service role)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "select public.record_results(%s, %s::jsonb)", (run_id, json.dumps(list(results)))
        )
