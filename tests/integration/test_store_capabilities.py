"""Every Store capability, the same cases against PostgresStore and SupabaseStore.

Each test runs twice: ``PostgresStore`` on a direct connection and ``SupabaseStore``
by RPC through a live ``serve``, both acting as an admin user of ``acme`` (or as the
system where a case says so), through the same SQL functions (migration 0024).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest

from runner.api import run_suite
from runner.errors import CapabilityError, ConfigError
from runner.reporting.analytics import analysis_for_store
from runner.secrets.crypto import SecretBox, generate_key
from runner.settings import Settings
from runner.store.base import Store
from runner.suite.load import load_suite_text
from support_serve import serving
from support_stores import KINDS, ORG, StoreWorld, make_world

pytestmark = pytest.mark.db

SUITE = """
name: mini
base_url: http://api.test
default_env: staging
environments:
  staging: {}
tests:
  - id: ping
    request: {url: /ping}
    checks: {status: 200}
  - id: broken
    request: {url: /broken}
    checks: {status: 200}
"""


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500 if request.url.path == "/broken" else 200, json={})


@pytest.fixture(params=KINDS)
async def world(
    request: pytest.FixtureRequest, migrated_db: str, tmp_path: Path
) -> AsyncIterator[StoreWorld]:
    """An admin user of ``acme``; the store under test is ``request.param``."""
    with serving(migrated_db) as handle:
        yield await make_world(request.param, handle, tmp_path / "spill")


async def _run(store: Store) -> str:
    """Run (and store) suite ``mini``; the run's id."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(_answer)) as client:
        result = await run_suite(
            load_suite_text(SUITE, file="mini.yaml"),
            store=store,
            client=client,
            services=(),
            environ={},
            settings=Settings(_env_file=None),  # type: ignore[call-arg]
        )
    assert result.run_id is not None
    return result.run_id


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


async def test_an_environment_secret_is_stored_encrypted_and_read_back(
    world: StoreWorld,
) -> None:
    """set_environment_secret writes ciphertext only; environment_secrets opens it again."""
    async with world.user_store() as store:
        await _run(store)
        await store.set_environment_secret("mini", "staging", "API_KEY", "k-secret-1")
        assert await store.environment_secrets("mini", "staging") == {"API_KEY": "k-secret-1"}
        assert await store.environment_secrets("mini", "production") == {}
        with pytest.raises(ConfigError, match="no environment 'nope' in project 'mini'"):
            await store.set_environment_secret("mini", "nope", "API_KEY", "x")
    ((value, blob, key_id),) = _rows(
        world.serve.db_url,
        "select value, encrypted_value, key_id from environment_variables where name = 'API_KEY'",
    )
    assert value is None and b"k-secret-1" not in bytes(blob) and key_id == world.box.key_id  # type: ignore[arg-type]


async def test_secrets_under_another_key_are_not_opened_quietly(world: StoreWorld) -> None:
    """A store with a different key refuses to read the secrets rather than call them missing."""
    async with world.user_store() as store:
        await _run(store)
        await store.set_environment_secret("mini", "staging", "API_KEY", "k-1")
    other = SecretBox.from_base64(generate_key())
    async with world.user_store(cipher=other) as store:
        with pytest.raises(ConfigError):
            await store.environment_secrets("mini", "staging")
    async with world.user_store(cipher=None) as store:
        assert await store.environment_secrets("mini", "staging") == {}


async def test_a_personal_credential_round_trip(world: StoreWorld) -> None:
    """save, load (marking it used), delete; another name is a one-line ConfigError."""
    async with world.user_store() as store:
        assert store.user == world.email
        await store.save_credential(
            "shop", "basic", {"username": "u", "password": "pw-9"}, metadata={"realm": "r"}
        )
        found = await store.load_credentials(["shop"])
        assert (found["shop"].kind, found["shop"].secret) == (
            "basic",
            {"username": "u", "password": "pw-9"},
        )
        assert found["shop"].metadata == {"realm": "r"}
        with pytest.raises(ConfigError, match=f"no credential 'other' for user {world.email}"):
            await store.load_credentials(["shop", "other"])
        ((blob, used),) = _rows(
            world.serve.db_url,
            "select encrypted_secret, last_used_at is not null from api_credentials",
        )
        assert b"pw-9" not in bytes(blob) and used  # type: ignore[arg-type]
        assert await store.delete_credential("shop") is True
        assert await store.delete_credential("shop") is False
    assert _rows(world.serve.db_url, "select 1 from api_credentials") == []


async def test_credentials_need_a_signed_in_user(world: StoreWorld) -> None:
    """Acting as the system, the store has no user and refuses to keep credentials."""
    async with world.service_store() as store:
        assert store.user is None
        with pytest.raises(ConfigError, match="credentials belong to a signed-in user"):
            await store.save_credential("shop", "api_key", {"key": "k"})
        with pytest.raises(ConfigError, match="credentials belong to a signed-in user"):
            await store.load_credentials(["shop"])


async def test_quarantine_add_list_remove(world: StoreWorld) -> None:
    """A stored test is quarantined, listed with its reason and author, then lifted."""
    async with world.user_store() as store:
        await _run(store)
        assert await store.add_quarantine("mini", "broken", "BUG-1") is True
        assert await store.add_quarantine("mini", "broken", "BUG-2") is False
        (listed,) = await store.list_quarantines()
        assert (listed.project, listed.suite, listed.test, listed.reason) == (
            "mini",
            "mini",
            "broken",
            "BUG-2",
        )
        assert listed.quarantined_by == world.email and listed.quarantined_at.tzinfo is not None
        assert await store.list_quarantines("other") == []
        with pytest.raises(ConfigError, match="no stored test 'nope' in suite 'mini'"):
            await store.add_quarantine("mini", "nope", "x")
        with pytest.raises(ConfigError, match="needs a reason"):
            await store.add_quarantine("mini", "broken", " ")
        assert await store.remove_quarantine("mini", "broken") is True
        assert await store.remove_quarantine("mini", "broken") is False
        assert await store.list_quarantines() == []


async def test_a_run_knows_its_quarantined_tests_and_their_failures(world: StoreWorld) -> None:
    """The next run starts with the quarantine; its analysis lists the quarantined failure."""
    async with world.user_store() as store:
        await _run(store)
        await store.add_quarantine("mini", "broken", "BUG-1")
    async with world.user_store() as store:
        run_id = await _run(store)
        assert store.run_id == run_id and store.quarantined == frozenset({"broken"})
        analysis = await analysis_for_store(store, run_id)
    assert analysis is not None
    assert [(q.test_key, q.status, q.reason) for q in analysis.quarantined_failures] == [
        ("broken", "error", "BUG-1")
    ]
    assert analysis.regressions == () and analysis.flaky == ()


async def test_a_stored_suite_is_loaded_by_name(world: StoreWorld) -> None:
    """load_suite rebuilds the suite's tests in order; an unknown name is a ConfigError."""
    async with world.user_store() as store:
        await _run(store)
        loaded = await store.load_suite("mini")
        assert [t.id for t in loaded.suite.tests] == ["ping", "broken"]
        assert loaded.suite.name == "mini"
        with pytest.raises(ConfigError, match="no suite file or stored suite named 'gone'"):
            await store.load_suite("gone")


async def test_rotation_is_a_direct_connection_task(world: StoreWorld) -> None:
    """PostgresStore rotates the key; SupabaseStore refuses in one line naming itself."""
    new = SecretBox.from_base64(generate_key())
    async with world.service_store() as store:
        await _run(store)
        await store.set_environment_secret("mini", "staging", "API_KEY", "k-1")
        if world.kind == "supabase":
            with pytest.raises(CapabilityError) as refused:
                await store.rotate_secret_key(world.box, new)
            assert str(refused.value) == (
                "the supabase store cannot rotate the secret key: "
                "use a database URL (RUNNER_DATABASE_URL)"
            )
            return
        report = await store.rotate_secret_key(world.box, new)
    assert report.environment_variables == 1
    async with world.service_store(cipher=new) as store:
        assert await store.environment_secrets("mini", "staging") == {"API_KEY": "k-1"}


async def test_the_organisation_is_the_stores(world: StoreWorld) -> None:
    """Runs land in organisation acme, whichever path recorded them."""
    async with world.user_store() as store:
        run_id = await _run(store)
    rows = _rows(
        world.serve.db_url,
        f"select o.slug from test_runs r join projects p on p.id = r.project_id "  # noqa: S608
        f"join organizations o on o.id = p.organization_id where r.id = '{run_id}'",
    )
    assert rows == [(ORG,)]
