"""Recording a run as a signed-in user (RUNNER_DATABASE_ROLE=authenticated): RLS decides."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest
from helpers import World, seed

from runner.api import run_suite
from runner.db.identity import Identity, identity_from_settings
from runner.errors import ConfigError, DatabaseError
from runner.settings import Settings
from runner.store.factory import open_store
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

SUITE = """
name: as-user
base_url: http://api.test
tests:
  - id: login
    request: {method: POST, url: /login}
    captures: {token: {path: $.token, as_token: user}}
  - id: me
    request: {url: /me, headers: {Authorization: "Bearer {{ shared_auth_tokens.user }}"}}
    checks: {status: 200}
"""


def settings_for(url: str, world: World, actor: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        RUNNER_DATABASE_URL=url,
        RUNNER_DATABASE_ROLE="authenticated",
        RUNNER_USER_ID=str(world.users[actor]),
        RUNNER_USER_EMAIL=f"{actor}@example.test",
        RUNNER_ORGANIZATION="Org A",
        RUNNER_PROJECT="Shop",
        RUNNER_DATA_DIR=str(tmp_path),
    )


async def run_as(settings: Settings) -> str | None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "tok"})

    async with (
        open_store(settings) as store,
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
    ):
        result = await run_suite(
            load_suite_text(SUITE, file="s.yaml"),
            store=store,
            client=client,
            services=(),
            environ={},
            settings=settings,
        )
    assert result.ok
    return result.run_id


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"select count(*) from {table}").fetchone()  # noqa: S608 - fixed names
        assert row is not None
        return int(row[0])


async def test_an_editor_records_a_run_under_their_own_identity(
    migrated_db: str, tmp_path: Path
) -> None:
    """As an editor of the organisation the run, its results and context are written."""
    world = seed(migrated_db)
    settings = settings_for(migrated_db, world, "editor", tmp_path)
    assert identity_from_settings(settings) == Identity.user(
        str(world.users["editor"]), "editor@example.test"
    )
    run_id = await run_as(settings)
    with psycopg.connect(migrated_db) as conn:
        run = conn.execute(
            "select r.status, r.completed_tests, o.slug from test_runs r "
            "join organizations o on o.id = r.organization_id where r.id = %s",
            (run_id,),
        ).fetchall()
        keys = conn.execute(
            "select test_key from test_results where run_id = %s order by 1", (run_id,)
        ).fetchall()
    assert run == [("passed", 2, "org-a")]
    assert keys == [("login",), ("me",)]


async def test_a_member_is_refused_and_nothing_is_half_written(
    migrated_db: str, tmp_path: Path
) -> None:
    """A plain member may not record runs: a DatabaseError, and no run, suite or case rows."""
    world = seed(migrated_db)
    before = {t: count(migrated_db, t) for t in ("test_runs", "test_suites", "test_cases")}
    settings = settings_for(migrated_db, world, "member", tmp_path)
    with pytest.raises(DatabaseError, match="cannot record the run") as refused:
        await run_as(settings)
    assert "acting as user member@example.test: recording runs needs the editor role" in str(
        refused.value
    )
    after = {t: count(migrated_db, t) for t in before}
    assert after == before


def test_authenticated_without_a_user_id_is_a_config_error() -> None:
    """RUNNER_DATABASE_ROLE=authenticated needs RUNNER_USER_ID, a UUID."""
    settings = Settings(_env_file=None, RUNNER_DATABASE_ROLE="authenticated")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="RUNNER_USER_ID"):
        identity_from_settings(settings)
    bad = Settings(  # type: ignore[call-arg]
        _env_file=None, RUNNER_DATABASE_ROLE="authenticated", RUNNER_USER_ID="alice"
    )
    with pytest.raises(ConfigError, match="must be a UUID"):
        identity_from_settings(bad)


def test_the_service_role_is_the_default() -> None:
    """Without settings the runner acts as the service role."""
    assert identity_from_settings(Settings(_env_file=None)) == Identity.service()  # type: ignore[call-arg]
