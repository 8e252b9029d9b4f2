"""Secrets at rest in a real database: environment secrets, key rotation, the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from runner.cli.main import main as cli_main
from runner.db.connect import Target, connect
from runner.secrets.crypto import SecretBox, SecretKeyError, generate_key, sealed_in
from runner.store import vault
from runner.store.postgres import PostgresStore

pytestmark = pytest.mark.db


def _one(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def _world(url: str) -> dict[str, Any]:
    """Organisation 'local', project 'shop' with environment 'staging', a user and a run."""
    with psycopg.connect(url) as conn:
        # the default organisation, created by the migrations (0033)
        org = _one(conn, "select id from organizations where slug = 'local'")
        project = _one(
            conn,
            "insert into projects (organization_id, name, slug) values (%s, 'Shop', 'shop') "
            "returning id",
            (org,),
        )
        env = _one(
            conn,
            "insert into environments (project_id, name) values (%s, 'staging') returning id",
            (project,),
        )
        user = uuid.uuid4()
        conn.execute(
            "insert into auth.users (id, email, aud, role) "
            "values (%s, 'u@example.test', 'authenticated', 'authenticated')",
            (user,),
        )
        run = _one(conn, "insert into test_runs (project_id) values (%s) returning id", (project,))
    return {"org": org, "project": project, "env": str(env), "user": user, "run": str(run)}


async def _plant(url: str, world: dict[str, Any], box: SecretBox) -> None:
    """One ciphertext of every kind: env secret, credential, sealed token and capture."""
    async with PostgresStore(Target(url, embedded=True), cipher=box) as store:
        await store.set_environment_secret("shop", "staging", "API_PASSWORD", "pw-1234")
        await store.set_environment_secret("shop", "staging", "API_KEY", "key-5678")
    conn = await connect(Target(url, embedded=True))
    try:
        async with conn.transaction():
            await conn.execute(
                "insert into api_credentials (user_id, name, kind, encrypted_secret, key_id) "
                "values (%s, 'ci', 'bearer', %s, %s)",
                (world["user"], box.encrypt_text("cred-9999"), box.key_id),
            )
            await conn.execute(
                "select public.set_shared_auth_token(%s, 'admin', %s)",
                (world["run"], box.seal("tok-admin-1")),
            )
            await conn.execute(
                "select public.set_shared_variables(%s, %s::jsonb)",
                (world["run"], json.dumps({"plain": 1, "sess": {"enc": box.seal("sess-77")}})),
            )
            await conn.execute(
                "select public.merge_captured_data(%s, 'login', %s::jsonb)",
                (world["run"], json.dumps({"user_id": 7, "sid": {"enc": box.seal("sid-42")}})),
            )
    finally:
        await conn.close()


def _decrypt_everything(url: str, box: SecretBox) -> dict[str, Any]:
    """Every stored secret, decrypted with ``box`` (raises when one does not decrypt)."""
    with psycopg.connect(url) as conn:
        found: dict[str, Any] = {}
        for name, blob, key_id in conn.execute(
            "select name, encrypted_value, key_id from environment_variables where is_secret"
        ):
            found[f"env.{name}"] = box.decrypt_text(bytes(blob), key_id)
        for name, blob, key_id in conn.execute(
            "select name, encrypted_secret, key_id from api_credentials"
        ):
            found[f"cred.{name}"] = box.decrypt_text(bytes(blob), key_id)
        tokens, variables, captured = conn.execute(
            "select shared_auth_tokens, shared_variables, captured_data from test_execution_context"
        ).fetchone() or ({}, {}, {})
    for name, sealed in tokens.items():
        found[f"token.{name}"] = box.unseal(sealed)
    sess = sealed_in(variables["sess"])
    assert sess is not None
    found["variable.sess"] = box.unseal(sess)
    found["variable.plain"] = variables["plain"]
    sid = sealed_in(captured["login"]["sid"])
    assert sid is not None
    found["capture.login.sid"] = box.unseal(sid)
    found["capture.login.user_id"] = captured["login"]["user_id"]
    return found


EXPECTED = {
    "env.API_KEY": "key-5678",
    "env.API_PASSWORD": "pw-1234",
    "cred.ci": "cred-9999",
    "token.admin": "tok-admin-1",
    "capture.login.sid": "sid-42",
    "capture.login.user_id": 7,
    "variable.sess": "sess-77",
    "variable.plain": 1,
}


def _snapshot(url: str) -> list[Any]:
    with psycopg.connect(url) as conn:
        return [
            conn.execute(
                "select name, encrypted_value, key_id from environment_variables order by name"
            ).fetchall(),
            conn.execute("select encrypted_secret, key_id from api_credentials").fetchall(),
            conn.execute(
                "select shared_auth_tokens, shared_variables, captured_data "
                "from test_execution_context"
            ).fetchall(),
        ]


async def test_environment_secret_is_stored_as_ciphertext_only(migrated_db: str) -> None:
    """A stored environment secret has ciphertext and key id, no plain value, and reads back."""
    world = _world(migrated_db)
    box = SecretBox.from_base64(generate_key())
    await _plant(migrated_db, world, box)
    with psycopg.connect(migrated_db) as conn:
        row = conn.execute(
            "select value, encrypted_value, key_id from environment_variables "
            "where name = 'API_PASSWORD'"
        ).fetchone()
    assert row is not None
    assert row[0] is None and b"pw-1234" not in bytes(row[1]) and row[2] == box.key_id
    async with PostgresStore(Target(migrated_db, embedded=True), cipher=box) as store:
        secrets = await store.environment_secrets("shop", "staging")
    assert secrets == {"API_KEY": "key-5678", "API_PASSWORD": "pw-1234"}


async def test_rotation_re_encrypts_everything_and_loses_nothing(migrated_db: str) -> None:
    """After a rotation every ciphertext decrypts with the new key to the same value."""
    world = _world(migrated_db)
    old, new = SecretBox.from_base64(generate_key()), SecretBox.from_base64(generate_key())
    await _plant(migrated_db, world, old)
    assert _decrypt_everything(migrated_db, old) == EXPECTED
    conn = await connect(Target(migrated_db, embedded=True))
    try:
        report = await vault.rotate_secrets(conn, old, new)
        again = await vault.rotate_secrets(conn, old, new)
    finally:
        await conn.close()
    counts = (report.environment_variables, report.api_credentials, report.context_values)
    assert counts == (2, 1, 3)
    assert again.total == 0 and again.already_current == 6
    assert _decrypt_everything(migrated_db, new) == EXPECTED
    with pytest.raises(SecretKeyError):
        _decrypt_everything(migrated_db, old)


async def test_rotation_with_a_wrong_old_key_changes_nothing(migrated_db: str) -> None:
    """A wrong old key is a clear SecretKeyError and every ciphertext stays as it was."""
    world = _world(migrated_db)
    real, wrong, new = (SecretBox.from_base64(generate_key()) for _ in range(3))
    await _plant(migrated_db, world, real)
    before = _snapshot(migrated_db)
    conn = await connect(Target(migrated_db, embedded=True))
    try:
        with pytest.raises(SecretKeyError, match=f"not the old key {wrong.key_id}"):
            await vault.rotate_secrets(conn, wrong, new)
        with pytest.raises(SecretKeyError, match="same key"):
            await vault.rotate_secrets(conn, real, real)
    finally:
        await conn.close()
    assert _snapshot(migrated_db) == before
    assert _decrypt_everything(migrated_db, real) == EXPECTED


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, key: str | None) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout is read
    monkeypatch.setenv("RUNNER_DATABASE_URL", url)
    monkeypatch.delenv("RUNNER_SECRET_KEY_OLD", raising=False)
    if key is None:
        monkeypatch.delenv("RUNNER_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("RUNNER_SECRET_KEY", key)


def test_cli_set_and_rotate(
    migrated_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`secrets set` stores a secret from stdin; `secrets rotate` moves it to the new key."""
    world = _world(migrated_db)
    old_key, new_key = generate_key(), generate_key()
    _env(monkeypatch, tmp_path, migrated_db, old_key)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cr3t-value\n"))
    argv = ["secrets", "set", "DB_PASSWORD", "--project", "shop", "--env", "staging"]
    assert cli_main(argv) == 0
    assert "stored secret DB_PASSWORD" in capsys.readouterr().out

    _env(monkeypatch, tmp_path, migrated_db, new_key)
    monkeypatch.setenv("RUNNER_SECRET_KEY_OLD", old_key)
    assert cli_main(["secrets", "rotate"]) == 0
    assert "re-encrypted 1 values" in capsys.readouterr().out
    with psycopg.connect(migrated_db) as conn:
        blob, key_id = conn.execute(
            "select encrypted_value, key_id from environment_variables "
            "where environment_id = %s and name = 'DB_PASSWORD'",
            (world["env"],),
        ).fetchone() or (b"", "")
    assert SecretBox.from_base64(new_key).decrypt_text(bytes(blob), key_id) == "s3cr3t-value"


def test_cli_without_a_key_says_how_to_make_one(
    migrated_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`secrets set` with no RUNNER_SECRET_KEY exits 2 naming `secrets keygen`."""
    _env(monkeypatch, tmp_path, migrated_db, None)
    monkeypatch.setattr("sys.stdin", io.StringIO("x\n"))
    assert cli_main(["secrets", "set", "X", "--project", "shop", "--env", "staging"]) == 2
    assert "python -m runner secrets keygen" in capsys.readouterr().err


def test_cli_rotate_with_a_wrong_old_key_exits_2(
    migrated_db: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`secrets rotate --old-key <wrong>` exits 2 with one line and changes nothing."""
    world = _world(migrated_db)
    key = generate_key()
    asyncio.run(_plant(migrated_db, world, SecretBox.from_base64(key)))
    before = _snapshot(migrated_db)
    _env(monkeypatch, tmp_path, migrated_db, generate_key())
    assert cli_main(["secrets", "rotate", "--old-key", generate_key()]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing was changed" in err
    assert _snapshot(migrated_db) == before


def test_cli_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    """`secrets keygen` prints a base64 key that SecretBox accepts, and its key id."""
    assert cli_main(["secrets", "keygen"]) == 0
    out = capsys.readouterr()
    box = SecretBox.from_base64(out.out.strip())
    assert box.key_id in out.err
