"""Tenancy by identity (0033): runner-owned organisations, reserved slugs, one slug error.

Each case acts as PostgREST would (role + JWT claims per transaction, ``helpers``); the
service role is the ``service_role`` database role, a superuser connection is the system.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from helpers import World, acting_as, seed
from psycopg import errors
from test_start_suite_run import shop_request

pytestmark = pytest.mark.db

SLUG_ERROR = "organization slug is invalid or not available"


def one(url: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def user_org(url: str, world: World, actor: str, slug: str) -> uuid.UUID:
    """An organisation ``actor`` creates for themselves, as over REST."""
    with acting_as(url, world, actor) as cur:
        cur.execute(
            "insert into organizations (name, slug) values (%s, %s) returning id", (slug, slug)
        )
        row = cur.fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def start_as(url: str, world: World, actor: str, organization: str) -> dict[str, Any]:
    """``public.start_suite_run`` for the shop suite, as ``actor``."""
    with acting_as(url, world, actor) as cur:
        cur.execute(
            "select public.start_suite_run(%s::jsonb)",
            (json.dumps(shop_request(organization=organization)),),
        )
        row = cur.fetchone()
    assert row is not None
    return dict(row[0])


def slug_error(url: str, world: World, actor: str, sql: str, params: Any) -> str:
    """The error ``actor`` gets for a statement that claims a slug (it must fail)."""
    with pytest.raises(errors.CheckViolation) as refused, acting_as(url, world, actor) as cur:
        cur.execute(sql, params)
    return str(refused.value.diag.message_primary)


def test_the_default_organisation_belongs_to_no_user(migrated_db: str) -> None:
    """`local` exists after the migrations: runner-owned, no creator, no members, reserved."""
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select o.runner_owned, o.created_by, "
            "(select count(*) from organization_members m where m.organization_id = o.id), "
            "exists (select 1 from private.reserved_slugs r where r.slug = 'local') "
            "from organizations o where o.slug = 'local'"
        ).fetchone()
    assert row == (True, None, 0, True)


def test_taken_reserved_and_malformed_slugs_give_one_error(migrated_db: str) -> None:
    """A user claiming `local`, another's slug, a uuid or a malformed slug: the same 23514."""
    world = seed(migrated_db)
    insert = "insert into organizations (name, slug) values ('X', %s)"
    claims = ["local", "org-b", str(uuid.uuid4()), "Not A Slug!", "-x", "a" * 64]
    messages = {slug_error(migrated_db, world, "outsider", insert, (s,)) for s in claims}
    assert messages == {SLUG_ERROR}
    # renaming into a taken or reserved slug is refused the same way
    rename = "update organizations set slug = %s where id = %s"
    for taken in ("org-b", "local"):
        assert slug_error(migrated_db, world, "owner", rename, (taken, world.org_a)) == SLUG_ERROR
    # a free, well-formed slug is fine, and the creator owns it
    mine = user_org(migrated_db, world, "outsider", "fresh-slug")
    assert (
        one(migrated_db, "select runner_owned from organizations where id = %s", (mine,)) is False
    )


def test_users_cannot_make_an_organisation_runner_owned(migrated_db: str) -> None:
    """runner_owned given on insert is ignored for users; updating it is not granted."""
    world = seed(migrated_db)
    with acting_as(migrated_db, world, "outsider") as cur:
        cur.execute(
            "insert into organizations (name, slug, runner_owned) values ('M', 'mine', true) "
            "returning runner_owned"
        )
        assert cur.fetchone() == (False,)
    with (
        pytest.raises(errors.InsufficientPrivilege),
        acting_as(migrated_db, world, "owner") as cur,
    ):
        cur.execute("update organizations set runner_owned = true where id = %s", (world.org_a,))


def test_reserved_slugs_are_readable_by_no_api_role(migrated_db: str) -> None:
    """private.reserved_slugs: no grant for authenticated or service_role."""
    world = seed(migrated_db)
    for actor in ("owner", "service_role"):
        with (
            pytest.raises(errors.InsufficientPrivilege),
            acting_as(migrated_db, world, actor) as cur,
        ):
            cur.execute("select slug from private.reserved_slugs")


def test_service_role_never_records_into_a_users_slug(migrated_db: str) -> None:
    """By slug a user's organisation is refused (nothing written); by id the run lands there."""
    world = seed(migrated_db)
    squatted = user_org(migrated_db, world, "outsider", "ci-prod")
    runs = "select count(*) from test_runs r where r.organization_id = %s"
    with pytest.raises(errors.InsufficientPrivilege, match="only by id"):
        start_as(migrated_db, world, "service_role", "CI Prod")
    assert (
        one(migrated_db, "select count(*) from projects where organization_id = %s", (squatted,))
        == 0
    )
    # the owner of the intended organisation gives the runner its id
    started = start_as(migrated_db, world, "service_role", str(world.org_a))
    assert (
        one(
            migrated_db, "select organization_id from test_runs where id = %s", (started["run_id"],)
        )
        == world.org_a
    )
    assert one(migrated_db, runs, (squatted,)) == 0
    with acting_as(migrated_db, world, "outsider") as cur:
        cur.execute("select count(*) from test_runs")
        assert cur.fetchone() == (0,)


def test_service_role_slugs_stay_reserved(migrated_db: str) -> None:
    """A slug the runner created is reserved, even after its organisation is renamed."""
    world = seed(migrated_db)
    started = start_as(migrated_db, world, "service_role", "Nightly")
    org = one(
        migrated_db, "select organization_id from test_runs where id = %s", (started["run_id"],)
    )
    assert one(migrated_db, "select runner_owned from organizations where id = %s", (org,)) is True
    with psycopg.connect(migrated_db) as conn:
        conn.execute("update organizations set slug = 'nightly-old' where id = %s", (org,))
    insert = "insert into organizations (name, slug) values ('N', 'nightly')"
    assert slug_error(migrated_db, world, "outsider", insert, None) == SLUG_ERROR


def test_user_runs_resolve_by_membership(migrated_db: str) -> None:
    """A user records by slug or id into their organisation; another's id is refused."""
    world = seed(migrated_db)
    # admin: the shop suite's environments are written too
    by_slug = start_as(migrated_db, world, "admin", "org-a")
    by_id = start_as(migrated_db, world, "admin", str(world.org_a))
    assert by_slug["project_id"] == by_id["project_id"]
    with pytest.raises(errors.InsufficientPrivilege, match="no organisation with id"):
        start_as(migrated_db, world, "outsider", str(world.org_a))
    with pytest.raises(errors.InsufficientPrivilege, match="no organisation with id"):
        start_as(migrated_db, world, "outsider", str(uuid.uuid4()))


def test_stored_secrets_follow_the_same_rule(migrated_db: str) -> None:
    """The system cannot read a user organisation's secrets by slug, only by id."""
    world = seed(migrated_db)
    user_org(migrated_db, world, "outsider", "ci-prod")
    with (
        pytest.raises(errors.InsufficientPrivilege),
        acting_as(migrated_db, world, "service_role") as cur,
    ):
        cur.execute("select public.stored_environment_secrets('ci-prod', 'shop', 'staging')")
    with acting_as(migrated_db, world, "service_role") as cur:
        cur.execute(
            "select public.stored_environment_secrets(%s, 'shop', 'nope')", (str(world.org_a),)
        )
        assert cur.fetchone() == (None,)
