"""The audit log: written by triggers, redacted, append-only for everyone."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from helpers import acting_as, seed
from psycopg import errors

pytestmark = pytest.mark.db

AUDITED = {
    "organizations",
    "organization_members",
    "projects",
    "test_suites",
    "test_cases",
    "api_endpoints",
    "test_dependencies",
    "test_request_configs",
    "test_response_specs",
    "test_data_fixtures",
    "fixture_usage",
    "environments",
    "test_quarantines",  # 0014: who quarantined or lifted a test, and when
    "retention_policies",  # 0016: who changed what retention deletes
    "environment_variables",
    "report_templates",
}


def _entries(url: str, row_id: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select operation, actor_id, actor_role, organization_id, old_data, new_data "
            "from audit_log where row_id = %s order by created_at, operation desc",
            (row_id,),
        ).fetchall()


def test_configuration_and_membership_tables_are_audited(migrated_db: str) -> None:
    """Exactly the configuration, environment and membership tables carry the audit trigger."""
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "select c.relname from pg_trigger t join pg_class c on c.oid = t.tgrelid "
            "where t.tgfoid = 'private.audit_change()'::regprocedure"
        ).fetchall()
    assert {r[0] for r in rows} == AUDITED


def test_changes_are_logged_with_actor_and_row_images(migrated_db: str) -> None:
    """Insert, update and delete by an editor each append one entry naming the editor."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute(
            "insert into api_endpoints (project_id, method, path) values (%s, 'GET', '/a') "
            "returning id",
            (world.project,),
        )
        row = cur.fetchone()
        assert row is not None
        endpoint = row[0]
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("update api_endpoints set summary = 'A' where id = %s", (endpoint,))
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute("delete from api_endpoints where id = %s", (endpoint,))
    entries = _entries(migrated_db, endpoint)
    assert [(e[0], e[1], e[2], e[3]) for e in entries] == [
        ("INSERT", world.uid("editor"), "authenticated", world.org_a),
        ("UPDATE", world.uid("editor"), "authenticated", world.org_a),
        ("DELETE", world.uid("editor"), "authenticated", world.org_a),
    ]
    insert, update, delete = entries
    assert insert[4] is None and insert[5]["path"] == "/a"
    assert update[4]["summary"] is None and update[5]["summary"] == "A"
    assert delete[4]["summary"] == "A" and delete[5] is None


def test_ciphertext_is_redacted_in_the_log(migrated_db: str) -> None:
    """A secret variable's encrypted_value appears as "[redacted]", never as its bytes."""
    world = seed(migrated_db)
    entries = _entries(migrated_db, world.secret)
    assert len(entries) == 1
    assert entries[0][5]["encrypted_value"] == "[redacted]"
    assert entries[0][5]["key_id"] == "k1"


@pytest.mark.parametrize("actor", ["service_role", "superuser"])
@pytest.mark.parametrize(
    "sql",
    [
        "update audit_log set actor_role = 'forged'",
        "delete from audit_log",
        "truncate audit_log",
    ],
)
def test_the_log_is_append_only_for_everyone(migrated_db: str, actor: str, sql: str) -> None:
    """UPDATE, DELETE and TRUNCATE of audit_log raise for the service role and the superuser."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        before = conn.execute("select count(*) from audit_log").fetchone()
        with (
            pytest.raises(errors.InsufficientPrivilege, match=r"append-only|permission denied"),
            conn.transaction(),
            conn.cursor() as cur,
        ):
            if actor == "service_role":
                cur.execute("select set_config('role', 'service_role', true)")
            cur.execute(sql)
        after = conn.execute(
            "select count(*) from audit_log where actor_role <> 'forged'"
        ).fetchone()
    assert before == after and before is not None and before[0] > 0
    assert world.audit
