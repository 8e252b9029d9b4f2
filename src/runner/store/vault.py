"""Secrets in the database: environment variable secrets, and rotating the key.

Every function takes an open psycopg connection and runs in its own transaction,
acting as ``identity`` (the service role by default) exactly like the store does.
Plaintext never reaches the database: values are encrypted here with a
``SecretBox`` (``runner.secrets.crypto``) and only ciphertext plus key id are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from runner.db.connect import describe
from runner.db.identity import Identity, apply_identity
from runner.errors import ConfigError, DatabaseError
from runner.secrets.crypto import (
    ENC,
    SecretBox,
    SecretKeyError,
    is_sealed,
    sealed_in,
    sealed_key_id,
)

_UPSERT_ENCRYPTED = """
insert into public.environment_variables
    (project_id, environment_id, name, is_secret, value, encrypted_value, key_id)
select e.project_id, e.id, %(name)s, true, null, %(blob)s, %(key_id)s
  from public.environments as e
 where e.id = %(environment_id)s
on conflict (environment_id, name) do update
   set is_secret = true, value = null,
       encrypted_value = excluded.encrypted_value, key_id = excluded.key_id
returning id
"""

_FIND_ENVIRONMENT = """
select e.id
  from public.environments as e
  join public.projects as p on p.id = e.project_id
  join public.organizations as o on o.id = p.organization_id
 where o.slug = %(org)s and p.slug = %(project)s and e.name = %(env)s
"""


async def find_environment(
    conn: psycopg.AsyncConnection[Any],
    organization: str,
    project: str,
    environment: str,
    *,
    identity: Identity | None = None,
) -> str:
    """The id of ``environment`` of project slug ``project``; ``ConfigError`` when unknown."""
    try:
        async with conn.transaction():
            await apply_identity(conn, identity or Identity.service())
            cur = await conn.execute(
                _FIND_ENVIRONMENT, {"org": organization, "project": project, "env": environment}
            )
            row = await cur.fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot find environment {environment!r}: {describe(exc)}") from None
    if row is None:
        raise ConfigError(
            f"no environment {environment!r} in project {project!r} of organisation "
            f"{organization!r} (run the suite once to store it)"
        )
    return str(row[0])


async def set_environment_secret(
    conn: psycopg.AsyncConnection[Any],
    environment_id: str,
    name: str,
    value: str,
    box: SecretBox,
    *,
    identity: Identity | None = None,
) -> None:
    """Store (or replace) secret ``name`` of an environment as ciphertext."""
    params = {
        "environment_id": environment_id,
        "name": name,
        "blob": box.encrypt_text(value),
        "key_id": box.key_id,
    }
    try:
        async with conn.transaction():
            await apply_identity(conn, identity or Identity.service())
            cur = await conn.execute(_UPSERT_ENCRYPTED, params)
            row = await cur.fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot store secret {name!r}: {describe(exc)}") from None
    if row is None:
        raise ConfigError(f"no environment {environment_id} (or not allowed to see it)")


async def read_environment_secrets(
    conn: psycopg.AsyncConnection[Any],
    environment_id: str,
    box: SecretBox,
    *,
    identity: Identity | None = None,
) -> dict[str, str]:
    """Name -> plaintext of an environment's secrets (through ``environment_secrets()``)."""
    try:
        async with conn.transaction():
            await apply_identity(conn, identity or Identity.service())
            cur = await conn.execute(
                "select name, encrypted_value, key_id from public.environment_secrets(%s)",
                (environment_id,),
            )
            rows = await cur.fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read the environment's secrets: {describe(exc)}") from None
    return {name: box.decrypt_text(bytes(blob), key_id) for name, blob, key_id in rows}


# ------------------------------------------------------------------ rotation


@dataclass(frozen=True)
class RotationReport:
    """How many ciphertexts a rotation re-encrypted, per place."""

    environment_variables: int = 0
    api_credentials: int = 0
    context_values: int = 0
    already_current: int = 0

    @property
    def total(self) -> int:
        """Ciphertexts re-encrypted."""
        return self.environment_variables + self.api_credentials + self.context_values


def _reencrypt(blob: bytes, key_id: str, old: SecretBox, new: SecretBox, where: str) -> bytes:
    if key_id != old.key_id:
        raise SecretKeyError(
            f"{where} was encrypted with key {key_id}, not the old key {old.key_id} "
            "(wrong --old-key?); nothing was changed"
        )
    try:
        plain = old.decrypt(blob, key_id)
    except SecretKeyError as exc:
        raise SecretKeyError(f"{where}: {exc}; nothing was changed") from None
    return new.encrypt(plain)


def _reseal(sealed: str, old: SecretBox, new: SecretBox, where: str) -> str:
    key_id = sealed_key_id(sealed)
    if key_id != old.key_id:
        raise SecretKeyError(
            f"{where} was sealed with key {key_id}, not the old key {old.key_id} "
            "(wrong --old-key?); nothing was changed"
        )
    try:
        return new.seal(old.unseal(sealed))
    except SecretKeyError as exc:
        raise SecretKeyError(f"{where}: {exc}; nothing was changed") from None


async def rotate_secrets(
    conn: psycopg.AsyncConnection[Any], old: SecretBox, new: SecretBox
) -> RotationReport:
    """Re-encrypt every ciphertext from ``old`` to ``new`` in one transaction.

    Covers ``environment_variables``, ``api_credentials`` and the sealed tokens,
    variables and captures of ``test_execution_context``. Values already under ``new`` are left as
    they are (a rotation interrupted and repeated finishes the job). Anything sealed
    with a third key, or that does not decrypt with ``old``, raises ``SecretKeyError``
    and the transaction is rolled back: all or nothing.
    """
    if old.key_id == new.key_id:
        raise SecretKeyError(f"the old and the new key are the same key ({new.key_id})")
    counts = {"env": 0, "cred": 0, "ctx": 0, "current": 0}
    try:
        async with conn.transaction():
            await apply_identity(conn, Identity.service())
            await _rotate_columns(conn, old, new, counts)
            await _rotate_contexts(conn, old, new, counts)
    except psycopg.Error as exc:
        raise DatabaseError(f"key rotation failed, nothing changed: {describe(exc)}") from None
    return RotationReport(counts["env"], counts["cred"], counts["ctx"], counts["current"])


_SELECT_VARIABLES = """
select id, name, encrypted_value, key_id from public.environment_variables
 where encrypted_value is not null order by id for update
"""
_UPDATE_VARIABLE = (
    "update public.environment_variables set encrypted_value = %s, key_id = %s where id = %s"
)
_SELECT_CREDENTIALS = """
select id, name, encrypted_secret, key_id from public.api_credentials order by id for update
"""
_UPDATE_CREDENTIAL = (
    "update public.api_credentials set encrypted_secret = %s, key_id = %s where id = %s"
)


async def _rotate_columns(
    conn: psycopg.AsyncConnection[Any], old: SecretBox, new: SecretBox, counts: dict[str, int]
) -> None:
    for select, update, label, count_key in (
        (_SELECT_VARIABLES, _UPDATE_VARIABLE, "environment variable", "env"),
        (_SELECT_CREDENTIALS, _UPDATE_CREDENTIAL, "credential", "cred"),
    ):
        cur = await conn.execute(select)
        for row_id, name, blob, key_id in await cur.fetchall():
            if key_id == new.key_id:
                counts["current"] += 1
                continue
            fresh = _reencrypt(bytes(blob), key_id, old, new, f"{label} {name!r}")
            await conn.execute(update, (fresh, new.key_id, row_id))
            counts[count_key] += 1


async def _rotate_contexts(
    conn: psycopg.AsyncConnection[Any], old: SecretBox, new: SecretBox, counts: dict[str, int]
) -> None:
    cur = await conn.execute(
        "select id, run_id, shared_auth_tokens, shared_variables, captured_data "
        "from public.test_execution_context order by id for update"
    )
    for ctx_id, run_id, tokens, variables, captured in await cur.fetchall():
        before = counts["ctx"]
        where = f"of run {run_id}"
        # tokens are sealed strings; secret variables and captures are {"enc": ...}
        tokens = {
            k: _reseal_value(v, old, new, counts, f"token {k!r} {where}") for k, v in tokens.items()
        }
        variables = {
            k: _reseal_value(v, old, new, counts, f"variable {k!r} {where}")
            for k, v in variables.items()
        }
        captured = {
            test: (
                {
                    k: _reseal_value(v, old, new, counts, f"capture {test}.{k} {where}")
                    for k, v in values.items()
                }
                if isinstance(values, dict)
                else values
            )
            for test, values in captured.items()
        }
        if counts["ctx"] != before:
            await conn.execute(
                "update public.test_execution_context set shared_auth_tokens = %s, "
                "shared_variables = %s, captured_data = %s where id = %s",
                (Jsonb(tokens), Jsonb(variables), Jsonb(captured), ctx_id),
            )


def _reseal_value(
    value: Any, old: SecretBox, new: SecretBox, counts: dict[str, int], where: str
) -> Any:
    """``value`` re-sealed under ``new`` if it is a sealed string or ``{"enc": ...}``."""
    as_object = not isinstance(value, str)
    sealed = sealed_in(value) if as_object else (value if is_sealed(value) else None)
    if sealed is None:
        return value
    if sealed_key_id(sealed) == new.key_id:
        counts["current"] += 1
        return value
    counts["ctx"] += 1
    fresh = _reseal(sealed, old, new, where)
    return {ENC: fresh} if as_object else fresh


# ------------------------------------------------------------ during a run


async def stored_secrets_for_run(
    store: Any, loaded: Any, env: str | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """The secrets stored for the environment a run targets, decrypted (by secret name).

    Only for a ``PostgresStore`` with a cipher, and only when some secret of the
    environment is not in ``environ``; {} when the environment is not stored yet.
    """
    from runner.store.postgres import PostgresStore
    from runner.store.sync import slugify
    from runner.suite.environment import choose_environment

    if not isinstance(store, PostgresStore) or store.cipher is None:
        return {}
    suite = loaded.suite
    chosen = choose_environment(suite, env)
    if chosen is None:
        return {}
    refs = suite.environments[chosen].secrets
    if not refs or all(ref.env in environ for ref in refs.values()):
        return {}
    try:
        env_id = await find_environment(
            store.conn,
            slugify(store.organization, fallback="local"),
            slugify(store.project or suite.name),
            chosen,
            identity=store.identity,
        )
        return await read_environment_secrets(
            store.conn, env_id, store.cipher, identity=store.identity
        )
    except SecretKeyError:
        raise  # stored under another key: say so rather than call it missing
    except (ConfigError, DatabaseError):
        # not stored, or not ours to read (an editor): the secret is simply missing
        return {}
