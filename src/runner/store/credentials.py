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

import base64
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, get_args

import psycopg

from runner.db.identity import Identity
from runner.errors import ConfigError
from runner.models import Suite
from runner.secrets.crypto import SecretBox
from runner.store.base import Store
from runner.store.pgcall import call_function
from runner.store.records import SECRET_FIELDS, Credential, CredentialKind

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

# ``credentials.my_api`` / ``credentials['my_api']`` in any template of a suite
_USED = re.compile(r"\bcredentials\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")

USER_HINT = "RUNNER_DATABASE_ROLE=authenticated and RUNNER_USER_ID"


def not_a_user(hint: str = USER_HINT) -> ConfigError:
    """Credentials asked of a store acting as the system."""
    return ConfigError(f"credentials belong to a signed-in user: act as one ({hint})")


def save_arguments(
    name: str,
    kind: CredentialKind,
    secret: Mapping[str, str],
    box: SecretBox,
    *,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Arguments of ``public.save_api_credential``; ``ConfigError`` for a bad kind or secret."""
    if kind not in get_args(CredentialKind):
        raise ConfigError(f"unknown credential kind {kind!r} (one of {', '.join(SECRET_FIELDS)})")
    missing = [f for f in SECRET_FIELDS[kind] if not secret.get(f)]
    if missing:
        raise ConfigError(f"a {kind} credential needs {', '.join(missing)}")
    blob = box.encrypt_text(json.dumps(dict(secret), separators=(",", ":")))
    return {
        "p_name": name,
        "p_kind": kind,
        "p_description": description,
        "p_ciphertext": base64.b64encode(blob).decode("ascii"),
        "p_key_id": box.key_id,
        "p_metadata": dict(metadata or {}),
        "p_expires_at": expires_at.isoformat() if expires_at else None,
    }


def open_credentials(
    rows: Any, wanted: Iterable[str], box: SecretBox, who: str
) -> dict[str, Credential]:
    """``public.use_api_credentials``'s rows opened; ``ConfigError`` naming any not found."""
    found = {
        row["name"]: Credential(
            name=row["name"],
            kind=row["kind"],
            secret=json.loads(box.decrypt_text(base64.b64decode(row["ciphertext"]), row["key_id"])),
            metadata=dict(row.get("metadata") or {}),
        )
        for row in rows or ()
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ConfigError(f"no credential {', '.join(map(repr, missing))} for user {who}")
    return found


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


def credentials_used(text: str) -> set[str]:
    """The credential names templates in ``text`` (a suite as JSON) refer to."""
    return {a or b for a, b in _USED.findall(text)}


def template_values(credentials: Mapping[str, Credential]) -> dict[str, dict[str, Any]]:
    """What templates see as ``credentials``: each one's secret fields, metadata and kind."""
    return {name: {**c.metadata, **c.secret, "kind": c.kind} for name, c in credentials.items()}


async def credentials_for_run(store: Store, suite: Suite) -> dict[str, Credential]:
    """The credentials ``suite``'s templates use, for the signed-in user ``store`` acts as.

    A store acting as no user (the system, ``--no-store``) has none: ``{}`` without
    looking at the suite (and a template naming a credential fails to render).
    ``ConfigError`` when the user lacks one, or there is no ``RUNNER_SECRET_KEY``.
    """
    if store.user is None:
        return {}
    names = credentials_used(suite.model_dump_json(by_alias=True))
    if not names:
        return {}
    return await store.load_credentials(names)
