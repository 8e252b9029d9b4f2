"""Creating and changing accounts in ``auth.users`` / ``auth.identities`` as GoTrue does."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from runner.db.sqlfiles import query
from runner.serve.auth import errors

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_APP_METADATA: dict[str, Any] = {"provider": "email", "providers": ["email"]}


def normalise_email(email: Any) -> str:
    """Lower-cased, trimmed email; 400 ``validation_failed`` when it is not one."""
    if not isinstance(email, str) or not _EMAIL.match(email.strip()):
        raise errors.validation("Unable to validate email address: invalid format")
    return email.strip().lower()


def metadata(value: Any, name: str) -> dict[str, Any]:
    """A metadata object from the body ({} when absent)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.validation(f"{name} must be an object")
    return value


async def email_taken(conn: Any, email: str) -> bool:
    cur = await conn.execute(query("auth_find_user_by_email"), {"email": email})
    return await cur.fetchone() is not None


async def create_account(
    conn: Any,
    *,
    email: str,
    password_hash: str | None,
    user_metadata: dict[str, Any],
    app_metadata: dict[str, Any],
    confirmed: bool,
    role: str = "authenticated",
    user_id: str | None = None,
    signing_in: bool = False,
) -> str:
    """Insert the account and its email identity; returns the new id."""
    new_id = user_id or str(uuid.uuid4())
    try:
        uuid.UUID(new_id)
    except (ValueError, TypeError, AttributeError):  # a JSON number, list or object id
        raise errors.validation("id must be a UUID") from None
    identity_data = {
        "sub": new_id,
        "email": email,
        "email_verified": confirmed,
        "phone_verified": False,
    }
    await conn.execute(
        query("auth_create_user"),
        {
            "id": new_id,
            "role": role,
            "email": email,
            "password_hash": password_hash,
            "confirmed": confirmed,
            "app_metadata": Jsonb({**EMAIL_APP_METADATA, **app_metadata}),
            "user_metadata": Jsonb(user_metadata),
            "last_sign_in_at": datetime.now(UTC) if signing_in else None,
        },
    )
    await conn.execute(
        query("auth_create_identity"), {"user_id": new_id, "identity_data": Jsonb(identity_data)}
    )
    return new_id


async def update_account(
    conn: Any,
    user_id: str,
    *,
    email: str | None = None,
    password_hash: str | None = None,
    user_metadata: dict[str, Any] | None = None,
    app_metadata: dict[str, Any] | None = None,
    role: str | None = None,
    confirm: bool = False,
) -> None:
    """Change the given fields of an account."""
    await conn.execute(
        query("auth_update_user"),
        {
            "id": user_id,
            "email": email,
            "password_hash": password_hash,
            "user_metadata": None if user_metadata is None else Jsonb(user_metadata),
            "app_metadata": None if app_metadata is None else Jsonb(app_metadata),
            "role": role,
            "confirm": confirm,
        },
    )
    if email is not None:
        await conn.execute(
            query("auth_update_identity_email"), {"user_id": user_id, "email": email}
        )


def merge_metadata(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """GoTrue's merge: keys in ``changes`` replace, a null value removes the key."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
