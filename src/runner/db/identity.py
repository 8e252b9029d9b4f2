"""Who the runner acts as on the direct Postgres path, set per transaction like PostgREST.

PostgREST runs each request in a transaction that starts with
``set_config('role', <role>, true)`` and ``set_config('request.jwt.claims', <json>, true)``;
doing exactly the same means row-level security decides what the runner may see and
write, whichever path (direct or REST) it takes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.db.sqlfiles import query
from runner.errors import ConfigError

if TYPE_CHECKING:
    from runner.settings import Settings


@dataclass(frozen=True)
class Identity:
    """A database role plus the JWT claims ``auth.uid()``/``auth.jwt()`` will read."""

    role: str
    claims: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def service(cls) -> Identity:
        """The trusted service role (bypasses RLS): CI runs."""
        return cls("service_role", {"role": "service_role"})

    @classmethod
    def user(cls, user_id: str, email: str | None = None) -> Identity:
        """A signed-in user: RLS applies to everything read and written."""
        claims: dict[str, Any] = {"sub": user_id, "role": "authenticated", "aud": "authenticated"}
        if email:
            claims["email"] = email
        return cls("authenticated", claims)

    @classmethod
    def anon(cls) -> Identity:
        """Nobody signed in."""
        return cls("anon", {"role": "anon"})


def identity_from_settings(settings: Settings) -> Identity:
    """The service role, or the user named by ``RUNNER_USER_ID`` when the role is authenticated.

    Raises ``ConfigError`` for an authenticated role without a valid user id.
    """
    if settings.database_role == "service_role":
        return Identity.service()
    user_id = (settings.user_id or "").strip()
    if not user_id:
        raise ConfigError(
            "RUNNER_DATABASE_ROLE=authenticated needs RUNNER_USER_ID (the auth.users id to act as)"
        )
    try:
        uuid.UUID(user_id)
    except ValueError:
        raise ConfigError(f"RUNNER_USER_ID must be a UUID, got {user_id!r}") from None
    return Identity.user(user_id, (settings.user_email or "").strip() or None)


SET_IDENTITY = query("set_identity")
"""Sets role and claims for the current transaction; positional parameters (role, claims)."""


async def apply_identity(conn: Any, identity: Identity) -> None:
    """Set role and claims for the current transaction only (``is_local = true``)."""
    await conn.execute(SET_IDENTITY, (identity.role, json.dumps(identity.claims)))
