"""Personal API credentials: kept encrypted in ``api_credentials``, their owner's alone.

A signed-in user saves a credential (an API key, a bearer token, basic auth, or an
OAuth2 client) under a name; RLS (``user_id = auth.uid()``) hides it from everyone
else, the service role included in practice since it has no user id to own one.
The secret fields are encrypted here with a ``SecretBox`` as one JSON object; only
ciphertext and key id reach the database, through ``public.save_api_credential``,
``use_api_credentials`` and ``delete_api_credential`` (the same functions a store
calls over RPC). A run acting as that user reads them in templates as
``{{ credentials.<name>.<field> }}``.

The functions taking a connection are the public API for a direct connection; a
``Store`` offers the same as ``save_credential``/``load_credentials`` methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from runner.db.identity import Identity
from runner.secrets.crypto import SecretBox
from runner.store.pgcall import call_function
from runner.store.records import SECRET_FIELDS, Credential, CredentialKind
from runner.store.run_inputs import credentials_for_run, credentials_used, template_values
from runner.store.sealing import not_a_user, open_credentials, save_arguments

__all__ = [
    "SECRET_FIELDS",
    "Credential",
    "CredentialKind",
    "credentials_for_run",
    "credentials_used",
    "delete_credential",
    "load_credential",
    "load_credentials",
    "save_credential",
    "template_values",
]


def _user(identity: Identity) -> str:
    if identity.role != "authenticated" or not identity.claims.get("sub"):
        raise not_a_user()
    return str(identity.claims.get("email") or identity.claims["sub"])


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
    _user(identity)
    args = save_arguments(
        name,
        kind,
        secret,
        box,
        description=description,
        metadata=metadata,
        expires_at=expires_at,
    )
    found = await call_function(
        conn, identity, "save_api_credential", args, f"store credential {name!r}"
    )
    return str(found)


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
    who = _user(identity)
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = await call_function(
        conn, identity, "use_api_credentials", {"p_names": wanted}, "read credentials"
    )
    return open_credentials(rows, wanted, box, who)


async def load_credential(
    conn: psycopg.AsyncConnection[Any], identity: Identity, name: str, box: SecretBox
) -> Credential:
    """One credential of ``identity`` by name (``ConfigError`` when it has none)."""
    return (await load_credentials(conn, identity, [name], box))[name]


async def delete_credential(
    conn: psycopg.AsyncConnection[Any], identity: Identity, name: str
) -> bool:
    """Remove ``identity``'s credential ``name``; whether there was one."""
    _user(identity)
    gone = await call_function(
        conn, identity, "delete_api_credential", {"p_name": name}, f"delete credential {name!r}"
    )
    return bool(gone)
