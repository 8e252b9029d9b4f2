"""Triggers behind access: profiles, owners, membership rules, and scope inheritance."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from helpers import acting_as, create_user, seed
from psycopg import errors

pytestmark = pytest.mark.db


def test_a_new_auth_user_gets_a_profile_that_follows_its_email(migrated_db: str) -> None:
    """Inserting into auth.users creates public.users; changing the email updates it."""
    uid = uuid.uuid4()
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "insert into auth.users (id, email, raw_user_meta_data) values (%s, "
            "'ada@example.test', %s)",
            (uid, json.dumps({"full_name": "Ada L."})),
        )
        first = conn.execute(
            "select email, display_name from public.users where id = %s", (uid,)
        ).fetchone()
        conn.execute("update auth.users set email = 'ada@new.example' where id = %s", (uid,))
        second = conn.execute("select email from public.users where id = %s", (uid,)).fetchone()
        conn.execute("delete from auth.users where id = %s", (uid,))
        gone = conn.execute("select count(*) from public.users where id = %s", (uid,)).fetchone()
    assert first == ("ada@example.test", "Ada L.")
    assert second == ("ada@new.example",)
    assert gone == (0,)


def test_creating_an_organisation_makes_the_creator_its_owner(migrated_db: str) -> None:
    """A user inserting an organisation (with RETURNING) becomes its owner and sees it."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "outsider") as cur:
        cur.execute(
            "insert into organizations (name, slug) values ('New', 'new-org') returning id, "
            "created_by"
        )
        row = cur.fetchone()
        assert row is not None
        org, creator = row
        cur.execute("select role from organization_members where organization_id = %s", (org,))
        assert cur.fetchall() == [("owner",)]
    assert creator == world.uid("outsider")


def test_the_last_owner_can_neither_leave_nor_be_demoted(migrated_db: str) -> None:
    """Removing or demoting the only owner raises; with a second owner it is allowed."""
    world = seed(migrated_db)
    own = "select id from organization_members where organization_id = %s and user_id = %s"
    with (
        pytest.raises(errors.CheckViolation, match="at least one owner"),
        acting_as(migrated_db, world, "owner") as cur,
    ):
        cur.execute("delete from organization_members where user_id = %s", (world.uid("owner"),))
    with (
        pytest.raises(errors.CheckViolation, match="at least one owner"),
        acting_as(migrated_db, world, "owner") as cur,
    ):
        cur.execute(
            "update organization_members set role = 'admin' where user_id = %s",
            (world.uid("owner"),),
        )
    with acting_as(migrated_db, world, "owner") as cur:
        cur.execute(
            "update organization_members set role = 'owner' where user_id = %s and "
            "organization_id = %s",
            (world.uid("admin"), world.org_a),
        )
        cur.execute(
            "delete from organization_members where user_id = %s and organization_id = %s "
            "returning id",
            (world.uid("owner"), world.org_a),
        )
        assert len(cur.fetchall()) == 1
        cur.execute(own, (world.org_a, world.uid("owner")))
        assert cur.fetchall() == []


def test_deleting_the_organisation_or_the_owner_account_is_not_blocked(migrated_db: str) -> None:
    """The one-owner rule does not stand in the way of deleting the organisation or the account."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "owner") as cur:
        cur.execute("delete from organizations where id = %s returning id", (world.org_a,))
        assert cur.fetchall() == [(world.org_a,)]
    with psycopg.connect(migrated_db) as conn:
        conn.execute("delete from auth.users where id = %s", (world.uid("outsider"),))
        left = conn.execute(
            "select count(*) from organization_members where organization_id = %s", (world.org_b,)
        ).fetchone()
    assert left == (0,)


@pytest.mark.parametrize(
    ("sql", "role"),
    [
        ("update organization_members set role = 'owner' where user_id = %(user)s", "member"),
        ("update organization_members set role = 'admin' where user_id = %(user)s", "member"),
        (
            "insert into organization_members (organization_id, user_id, role) values (%(org)s, "
            "%(new)s, 'admin')",
            None,
        ),
        ("update organization_members set role = 'member' where user_id = %(owner)s", None),
    ],
)
def test_admins_cannot_grant_or_touch_admin_rights(
    migrated_db: str, sql: str, role: str | None
) -> None:
    """An admin cannot raise anyone to admin or owner, nor change an owner."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn, conn.cursor() as cur:
        new = create_user(cur, "newcomer")
    params = {
        "user": world.uid("member"),
        "owner": world.uid("owner"),
        "org": world.org_a,
        "new": new,
    }
    with acting_as(migrated_db, world, "admin") as cur:
        try:
            cur.execute(sql + " returning id", params)
            changed = cur.fetchall()
        except errors.InsufficientPrivilege:
            changed = []
    assert changed == []
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select role from organization_members where user_id = %s and organization_id = %s",
            (world.uid("member"), world.org_a),
        ).fetchone()
    assert row == ("member",)


def test_scope_columns_are_filled_from_the_parent(migrated_db: str) -> None:
    """A test case inserted with only its suite gets the suite's project and organisation."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "editor") as cur:
        cur.execute(
            "insert into test_cases (suite_id, stable_id, name) values (%s, 'x', 'X') "
            "returning organization_id, project_id",
            (world.suite,),
        )
        assert cur.fetchone() == (world.org_a, world.project)


def test_a_row_cannot_claim_another_organisation_than_its_parents(migrated_db: str) -> None:
    """An outsider cannot hang a row under org A's parent, whatever organisation it claims."""
    world = seed(migrated_db)
    with (
        pytest.raises(errors.CheckViolation, match="must equal"),
        acting_as(migrated_db, world, "outsider") as cur,
    ):
        cur.execute(
            "insert into test_suites (organization_id, project_id, name, slug) "
            "values (%s, %s, 'Evil', 'evil')",
            (world.org_b, world.project),
        )
    with (
        pytest.raises(errors.InsufficientPrivilege),
        acting_as(migrated_db, world, "outsider") as cur,
    ):
        cur.execute(
            "insert into test_suites (project_id, name, slug) values (%s, 'Evil', 'evil')",
            (world.project,),
        )


@pytest.mark.parametrize(
    "sql",
    [
        "update test_cases set suite_id = %(suite_b)s where id = %(login)s",
        "update test_suites set project_id = %(project_b)s where id = %(suite)s",
        "update projects set organization_id = %(org_b)s where id = %(project)s",
        "update environment_variables set environment_id = %(environment_2)s where id = "
        "%(variable)s",
        "update test_runs set project_id = %(project_b)s where id = %(run)s",
    ],
)
def test_rows_cannot_be_moved_to_another_parent(migrated_db: str, sql: str) -> None:
    """Parent links and scope columns are immutable, even for the superuser."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "insert into test_suites (project_id, name, slug) values (%s, 'B', 'b') returning id",
            (world.project_b,),
        ).fetchone()
        env = conn.execute(
            "insert into environments (project_id, name) values (%s, 'prod') returning id",
            (world.project,),
        ).fetchone()
        assert row is not None and env is not None
        conn.commit()
        with pytest.raises(errors.CheckViolation, match="cannot be changed"):
            conn.execute(sql, {**world.rows, "suite_b": row[0], "environment_2": env[0]})


@pytest.mark.parametrize(
    "sql",
    [
        # a dependency between suites
        "insert into test_dependencies (test_case_id, depends_on_test_case_id) values (%(login)s, "
        "%(case_b)s)",
        # a result of a test case of another project
        "insert into test_results (run_id, test_key, name, status, test_case_id) values (%(run)s, "
        "'x', 'x', 'passed', %(case_b)s)",
        # a run of a suite of another project
        "insert into test_runs (project_id, suite_id) values (%(project)s, %(suite_b)s)",
        # a fixture used by a case of another project
        "insert into fixture_usage (fixture_id, test_case_id) values (%(fixture)s, %(case_b)s)",
    ],
)
def test_links_stay_inside_one_parent(migrated_db: str, sql: str) -> None:
    """Composite foreign keys refuse links across suites and projects."""
    world = seed(migrated_db)
    with psycopg.connect(migrated_db) as conn:
        suite_b = conn.execute(
            "insert into test_suites (project_id, name, slug) values (%s, 'B', 'b') returning id",
            (world.project_b,),
        ).fetchone()
        assert suite_b is not None
        case_b = conn.execute(
            "insert into test_cases (suite_id, stable_id, name) values (%s, 'b', 'B') returning id",
            (suite_b[0],),
        ).fetchone()
        assert case_b is not None
        conn.commit()
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(sql, {**world.rows, "suite_b": suite_b[0], "case_b": case_b[0]})
