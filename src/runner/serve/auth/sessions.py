"""Sessions, rotating refresh tokens and the access tokens GoTrue issues.

An access token carries the claims Supabase puts in it (``aud``, ``exp``, ``iat``,
``iss``, ``sub``, ``email``, ``phone``, ``app_metadata``, ``user_metadata``, ``role``,
``aal``, ``amr``, ``session_id``, ``is_anonymous``). A refresh token is random and
used once: refreshing revokes it and issues its child; presenting a revoked token
again ends the whole session (GoTrue's reuse detection, with no reuse interval).
Only a SHA-256 of each refresh token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Any

from runner.db.sqlfiles import query
from runner.serve.auth.errors import AuthError
from runner.serve.state import ServeState

ACCESS_TOKEN_LIFETIME_S = 3600


def token_hash(token: str) -> str:
    """What ``auth.refresh_tokens.token`` holds for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


async def user_json(conn: Any, user_id: str) -> dict[str, Any] | None:
    """The account as GoTrue renders it, or None."""
    cur = await conn.execute(query("auth_user_json"), {"id": user_id})
    row = await cur.fetchone()
    return None if row is None else dict(row[0])


async def start_session(
    conn: Any, state: ServeState, user_id: str, *, user_agent: str | None, ip: str | None
) -> dict[str, Any]:
    """A new session for ``user_id`` and its first tokens (the sign-in response)."""
    session_id = str(uuid.uuid4())
    await conn.execute(
        query("auth_create_session"),
        {"id": session_id, "user_id": user_id, "user_agent": user_agent, "ip": ip},
    )
    return await _issue(conn, state, user_id, session_id, parent=None, since=int(time.time()))


async def refresh(conn: Any, state: ServeState, refresh_token: str) -> dict[str, Any]:
    """Rotate ``refresh_token``: the response of ``grant_type=refresh_token``."""
    hashed = token_hash(refresh_token)
    cur = await conn.execute(query("auth_find_refresh_token"), {"token_hash": hashed})
    row = await cur.fetchone()
    if row is None:
        raise AuthError(
            400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
        )
    token_id, user_id, revoked, session_id, session_created = row
    if revoked:
        # a used token presented again: someone holds a copy; end the session
        await conn.execute(query("auth_delete_session"), {"id": session_id})
        raise Committed(
            AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
        )
    await conn.execute(query("auth_revoke_refresh_token"), {"id": token_id})
    await conn.execute(query("auth_touch_session"), {"id": session_id})
    since = int(session_created.timestamp()) if session_created else int(time.time())
    return await _issue(conn, state, user_id, str(session_id), parent=hashed, since=since)


class Committed(Exception):
    """An error whose transaction must still commit (the session it ended stays ended)."""

    def __init__(self, error: AuthError) -> None:
        super().__init__(error.message)
        self.error = error


async def _issue(
    conn: Any, state: ServeState, user_id: str, session_id: str, *, parent: str | None, since: int
) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    await conn.execute(
        query("auth_create_refresh_token"),
        {
            "token_hash": token_hash(token),
            "user_id": user_id,
            "parent": parent,
            "session_id": session_id,
        },
    )
    user = await user_json(conn, user_id)
    if user is None:
        raise AuthError(404, "user_not_found", "User not found")
    now = int(time.time())
    claims = access_claims(state, user, session_id, issued_at=now, since=since)
    return {
        "access_token": state.keys.sign(claims),
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME_S,
        "expires_at": claims["exp"],
        "refresh_token": token,
        "user": user,
    }


def access_claims(
    state: ServeState, user: dict[str, Any], session_id: str, *, issued_at: int, since: int
) -> dict[str, Any]:
    """The claims of a user's access token."""
    return {
        "iss": f"{state.public_url}/auth/v1",
        "sub": user["id"],
        "aud": user.get("aud") or "authenticated",
        "exp": issued_at + ACCESS_TOKEN_LIFETIME_S,
        "iat": issued_at,
        "email": user.get("email") or "",
        "phone": user.get("phone") or "",
        "app_metadata": user.get("app_metadata") or {},
        "user_metadata": user.get("user_metadata") or {},
        "role": user.get("role") or "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": since}],
        "session_id": session_id,
        "is_anonymous": bool(user.get("is_anonymous")),
    }
