"""Personal API credentials: encrypted, their owner's alone (RLS), usable by the owner's runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from helpers import World, seed

from runner.api import run_suite
from runner.db.connect import Target, connect
from runner.db.identity import Identity
from runner.errors import ConfigError
from runner.secrets.crypto import SecretBox, generate_key
from runner.settings import Settings
from runner.store.credentials import (
    credentials_used,
    delete_credential,
    load_credential,
    save_credential,
)
from runner.store.factory import open_store
from runner.suite.load import load_suite_text

pytestmark = pytest.mark.db

KEY = generate_key()


def who(world: World, actor: str) -> Identity:
    return Identity.user(str(world.users[actor]), f"{actor}@example.test")


async def test_a_credential_is_stored_encrypted_and_read_back_by_its_owner(
    migrated_db: str,
) -> None:
    """The owner reads the secret back; the row holds ciphertext and key id only."""
    world, box = seed(migrated_db), SecretBox.from_base64(KEY)
    conn = await connect(Target(migrated_db, embedded=True))
    async with conn:
        await save_credential(
            conn, who(world, "editor"), "shop", "basic", {"username": "u", "password": "pw-1"}, box
        )
        credential = await load_credential(conn, who(world, "editor"), "shop", box)
    assert (credential.kind, credential.secret) == ("basic", {"username": "u", "password": "pw-1"})
    with psycopg.connect(migrated_db) as sync:
        row = sync.execute(
            "select encrypted_secret, key_id, last_used_at is not null from api_credentials "
            "where name = 'shop' and user_id = %s",
            (world.users["editor"],),
        ).fetchone()
    assert row is not None
    assert b"pw-1" not in bytes(row[0]) and row[1] == box.key_id and row[2]


async def test_another_user_sees_nothing_of_it(migrated_db: str) -> None:
    """Another member of the same organisation cannot load, list or delete it."""
    world, box = seed(migrated_db), SecretBox.from_base64(KEY)
    conn = await connect(Target(migrated_db, embedded=True))
    async with conn:
        await save_credential(conn, who(world, "editor"), "shop", "bearer", {"token": "t-9"}, box)
        with pytest.raises(ConfigError, match=r"no credential 'shop' for user admin@example\.test"):
            await load_credential(conn, who(world, "admin"), "shop", box)
        assert not await delete_credential(conn, who(world, "admin"), "shop")
        async with conn.transaction():
            await conn.execute(
                "select set_config('role', 'authenticated', true), "
                "set_config('request.jwt.claims', %s, true)",
                (json.dumps(who(world, "admin").claims),),
            )
            cur = await conn.execute("select count(*) from api_credentials where name = 'shop'")
            assert await cur.fetchone() == (0,)
        assert (await load_credential(conn, who(world, "editor"), "shop", box)).secret == {
            "token": "t-9"
        }


async def test_only_a_signed_in_user_with_complete_fields_can_save(migrated_db: str) -> None:
    """The service role owns no credentials; a basic credential needs a password."""
    world, box = seed(migrated_db), SecretBox.from_base64(KEY)
    conn = await connect(Target(migrated_db, embedded=True))
    async with conn:
        with pytest.raises(ConfigError, match="signed-in user"):
            await save_credential(conn, Identity.service(), "x", "api_key", {"key": "k"}, box)
        with pytest.raises(ConfigError, match="needs password"):
            await save_credential(conn, who(world, "editor"), "x", "basic", {"username": "u"}, box)


async def test_the_owners_run_uses_the_credential_and_stores_it_redacted(
    migrated_db: str, tmp_path: Path
) -> None:
    """{{ credentials.shop.key }} is sent as the owner's key and never stored in plaintext."""
    world, box = seed(migrated_db), SecretBox.from_base64(KEY)
    conn = await connect(Target(migrated_db, embedded=True))
    async with conn:
        await save_credential(conn, who(world, "editor"), "shop", "api_key", {"key": "k-777"}, box)
    suite = """
name: creds
base_url: http://api.test
tests:
  - id: call
    request:
      url: /items
      query: {api_key: "{{ credentials.shop.key }}"}
      json: {sent: "{{ credentials.shop.key }}", kind: "{{ credentials.shop.kind }}"}
    checks: {status: 200}
"""
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"echo": seen[-1]["sent"]})

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        RUNNER_DATABASE_URL=migrated_db,
        RUNNER_DATABASE_ROLE="authenticated",
        RUNNER_USER_ID=str(world.users["editor"]),
        RUNNER_ORGANIZATION="Org A",
        RUNNER_PROJECT="Shop",
        RUNNER_SECRET_KEY=KEY,
        RUNNER_DATA_DIR=str(tmp_path),
    )
    async with (
        open_store(settings) as store,
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
    ):
        result = await run_suite(
            load_suite_text(suite, file="s.yaml"),
            store=store,
            client=client,
            services=(),
            environ={},
            settings=settings,
        )
    assert result.ok, [r.message for r in result.results]
    assert seen == [{"sent": "k-777", "kind": "api_key"}]
    with psycopg.connect(migrated_db) as sync:
        stored = sync.execute(
            "select request_snapshot::text || response_snapshot::text from test_results "
            "where run_id = %s",
            (result.run_id,),
        ).fetchone()
    assert stored is not None and "k-777" not in stored[0] and "[REDACTED]" in stored[0]


async def test_another_users_run_cannot_use_it(migrated_db: str, tmp_path: Path) -> None:
    """A run as a different user stops before any request: it has no such credential."""
    world, box = seed(migrated_db), SecretBox.from_base64(KEY)
    conn = await connect(Target(migrated_db, embedded=True))
    async with conn:
        await save_credential(conn, who(world, "editor"), "shop", "api_key", {"key": "k-1"}, box)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        RUNNER_DATABASE_URL=migrated_db,
        RUNNER_DATABASE_ROLE="authenticated",
        RUNNER_USER_ID=str(world.users["admin"]),
        RUNNER_ORGANIZATION="Org A",
        RUNNER_SECRET_KEY=KEY,
        RUNNER_DATA_DIR=str(tmp_path),
    )
    text = "name: c\nbase_url: http://a.test\ntests:\n  - id: t\n    request: {url: "
    text += "\"/{{ credentials['shop'].key }}\"}\n"
    requests: list[httpx.Request] = []
    async with (
        open_store(settings) as store,
        httpx.AsyncClient(transport=httpx.MockTransport(requests.append)) as client,  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match="no credential 'shop'"):
            await run_suite(
                load_suite_text(text, file="s.yaml"),
                store=store,
                client=client,
                services=(),
                environ={},
                settings=settings,
            )
    assert requests == []


def test_credential_names_are_found_in_either_template_spelling() -> None:
    """credentials.a and credentials['b'] both count; other names do not."""
    assert credentials_used("{{ credentials.a.key }} {{ credentials['b'].token }} {{ env.c }}") == {
        "a",
        "b",
    }
