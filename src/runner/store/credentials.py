"""Personal API credentials: kept encrypted in ``api_credentials``, their owner's alone.

A signed-in user saves a credential (an API key, a bearer token, basic auth, or an
OAuth2 client) under a name; RLS (``user_id = auth.uid()``) hides it from everyone
else, the service role included in practice since it has no user id to own one.
The secret fields are encrypted here with a ``SecretBox`` as one JSON object; only
ciphertext and key id reach the database. A run acting as that user reads them in
templates as ``{{ credentials.<name>.<field> }}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

import psycopg
from psycopg.types.json import Jsonb

from runner.db.connect import describe
from runner.db.identity import Identity, apply_identity
from runner.errors import ConfigError, DatabaseError
from runner.models import Suite
from runner.secrets.crypto import SecretBox

CredentialKind = Literal["api_key", "bearer", "basic", "oauth2_client"]

SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "api_key": ("key",),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "oauth2_client": ("client_id", "client_secret"),
}
"""Fields each kind's secret must have; more (``token_url``, ``scope``) are allowed."""

_UPSERT = """
insert into public.api_credentials
    (name, kind, description, encrypted_secret, key_id, metadata, expires_at)
values (%(name)s, %(kind)s, %(description)s, %(blob)s, %(key_id)s, %(metadata)s, %(expires_at)s)
on conflict (user_id, name) do update
   set kind = excluded.kind, description = excluded.description,
       encrypted_secret = excluded.encrypted_secret, key_id = excluded.key_id,
       metadata = excluded.metadata, expires_at = excluded.expires_at
returning id
"""

_SELECT = """
update public.api_credentials set last_used_at = now()
 where user_id = (select auth.uid()) and name = any(%(names)s)
returning name, kind, encrypted_secret, key_id, metadata
"""

# ``credentials.my_api`` / ``credentials['my_api']`` in any template of a suite
_USED = re.compile(r"\bcredentials\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")


@dataclass(frozen=True)
class Credential:
    """One opened credential: its kind, secret fields and non-secret metadata."""

    name: str
    kind: str
    secret: dict[str, str] = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)


def _require_user(identity: Identity) -> None:
    if identity.role != "authenticated" or not identity.claims.get("sub"):
        raise ConfigError(
            "credentials belong to a signed-in user: act as one "
            "(RUNNER_DATABASE_ROLE=authenticated and RUNNER_USER_ID)"
        )


async def save_credential(
    conn: psycopg.AsyncConnection[Any],
    identity: Identity,
    name: str,
    kind: CredentialKind,
    secret: Mapping[str, str],
    box: SecretBox,
    *,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Store (or replace) ``identity``'s credential ``name``; returns its id.

    ``ConfigError`` for a service identity, an unknown kind or missing secret fields.
    """
    _require_user(identity)
    if kind not in get_args(CredentialKind):
        raise ConfigError(f"unknown credential kind {kind!r} (one of {', '.join(SECRET_FIELDS)})")
    missing = [f for f in SECRET_FIELDS[kind] if not secret.get(f)]
    if missing:
        raise ConfigError(f"a {kind} credential needs {', '.join(missing)}")
    params = {
        "name": name,
        "kind": kind,
        "description": description,
        "blob": box.encrypt_text(json.dumps(dict(secret), separators=(",", ":"))),
        "key_id": box.key_id,
        "metadata": Jsonb(dict(metadata or {})),
        "expires_at": expires_at,
    }
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            cur = await conn.execute(_UPSERT, params)
            row = await cur.fetchone()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot store credential {name!r}: {describe(exc)}") from None
    assert row is not None
    return str(row[0])


async def load_credentials(
    conn: psycopg.AsyncConnection[Any],
    identity: Identity,
    names: Iterable[str],
    box: SecretBox,
) -> dict[str, Credential]:
    """``identity``'s credentials of these names, opened; marks them used.

    ``ConfigError`` naming any that the user does not have (another user's is
    invisible, so it is simply not found).
    """
    _require_user(identity)
    wanted = sorted(set(names))
    if not wanted:
        return {}
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            cur = await conn.execute(_SELECT, {"names": wanted})
            rows = await cur.fetchall()
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot read credentials: {describe(exc)}") from None
    found = {
        name: Credential(
            name=name,
            kind=kind,
            secret=json.loads(box.decrypt_text(bytes(blob), key_id)),
            metadata=dict(metadata or {}),
        )
        for name, kind, blob, key_id, metadata in rows
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        who = identity.claims.get("email") or identity.claims["sub"]
        raise ConfigError(f"no credential {', '.join(map(repr, missing))} for user {who}")
    return found


async def load_credential(
    conn: psycopg.AsyncConnection[Any], identity: Identity, name: str, box: SecretBox
) -> Credential:
    """One credential of ``identity`` by name (``ConfigError`` when it has none)."""
    return (await load_credentials(conn, identity, [name], box))[name]


async def delete_credential(
    conn: psycopg.AsyncConnection[Any], identity: Identity, name: str
) -> bool:
    """Remove ``identity``'s credential ``name``; whether there was one."""
    _require_user(identity)
    try:
        async with conn.transaction():
            await apply_identity(conn, identity)
            cur = await conn.execute(
                "delete from public.api_credentials where user_id = (select auth.uid()) "
                "and name = %s",
                (name,),
            )
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot delete credential {name!r}: {describe(exc)}") from None
    return cur.rowcount > 0


def credentials_used(text: str) -> set[str]:
    """The credential names templates in ``text`` (a suite as JSON) refer to."""
    return {a or b for a, b in _USED.findall(text)}


def template_values(credentials: Mapping[str, Credential]) -> dict[str, dict[str, Any]]:
    """What templates see as ``credentials``: each one's secret fields, metadata and kind."""
    return {name: {**c.metadata, **c.secret, "kind": c.kind} for name, c in credentials.items()}


async def credentials_for_run(store: Any, suite: Suite) -> dict[str, Credential]:
    """The credentials ``suite``'s templates use, for the signed-in user ``store`` acts as.

    Only a ``PostgresStore`` acting as a user has any: for other runs this is ``{}``
    without looking at the suite (and a template naming a credential fails to render).
    ``ConfigError`` when the user lacks one, or there is no ``RUNNER_SECRET_KEY``.
    """
    from runner.store.postgres import PostgresStore

    if not isinstance(store, PostgresStore) or store.identity.role != "authenticated":
        return {}
    names = credentials_used(suite.model_dump_json(by_alias=True))
    if not names:
        return {}
    if store.cipher is None:
        raise ConfigError(
            f"the suite uses credentials ({', '.join(sorted(names))}), "
            "which need RUNNER_SECRET_KEY to be opened"
        )
    return await load_credentials(store.conn, store.identity, names, store.cipher)
