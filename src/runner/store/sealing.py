"""Secrets in the shape the store's SQL functions keep them, and back.

Values are encrypted with a ``SecretBox`` here, in the runner; the functions see
ciphertext as base64 text (JSON has no bytes) and a key id. Shared by both stores
and by the direct-connection credential functions. No database import.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, get_args

from runner.errors import ConfigError
from runner.secrets.crypto import SecretBox
from runner.store.records import SECRET_FIELDS, Credential, CredentialKind

USER_HINT = "RUNNER_DATABASE_ROLE=authenticated and RUNNER_USER_ID"
"""How a direct connection acts as a user (credentials belong to one)."""


def to_text(box: SecretBox, value: str) -> str:
    """``value`` encrypted with ``box``, as base64 text."""
    return base64.b64encode(box.encrypt_text(value)).decode("ascii")


def from_text(box: SecretBox, ciphertext: str, key_id: str) -> str:
    """The plaintext of base64 ``ciphertext`` (``SecretKeyError`` under another key)."""
    return box.decrypt_text(base64.b64decode(ciphertext), key_id)


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
    return {
        "p_name": name,
        "p_kind": kind,
        "p_description": description,
        "p_ciphertext": to_text(box, json.dumps(dict(secret), separators=(",", ":"))),
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
            secret=json.loads(from_text(box, row["ciphertext"], row["key_id"])),
            metadata=dict(row.get("metadata") or {}),
        )
        for row in rows or ()
    }
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ConfigError(f"no credential {', '.join(map(repr, missing))} for user {who}")
    return found
