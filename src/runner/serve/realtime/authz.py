"""Who a channel acts as, and what it may do on a private topic.

A channel's identity is its JWT (the join's ``access_token``, else the socket's
``apikey``): the role and claims PostgREST would set. Private channels are authorised
the way Supabase Realtime does it: RLS policies on ``realtime.messages`` decide, with
``realtime.topic()`` returning the channel's topic, inside a transaction that is
always rolled back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from runner.db.identity import Identity, apply_identity
from runner.db.sqlfiles import serve_sql
from runner.serve.keys import InvalidToken, ServeKeys

API_ROLES = ("anon", "authenticated", "service_role")


class JoinRefused(Exception):
    """A join or token the server turns down; the message is the reply's ``reason``."""


@dataclass(frozen=True)
class ChannelIdentity:
    """The role and claims a channel acts as, and when its token expires."""

    role: str
    claims: dict[str, Any]
    expires_at: float | None

    @property
    def identity(self) -> Identity:
        """As ``runner.db.identity`` sets it per transaction."""
        return Identity(self.role, self.claims)

    @property
    def key(self) -> str:
        """Equal for channels that RLS treats the same (same role and claims)."""
        return self.role + "\x00" + json.dumps(self.claims, sort_keys=True, default=str)

    @property
    def bypasses_rls(self) -> bool:
        """service_role sees every row (BYPASSRLS), as on Supabase."""
        return self.role == "service_role"


def identity_from_token(keys: ServeKeys, token: str | None) -> ChannelIdentity:
    """The verified identity of ``token``; ``JoinRefused`` with Supabase's reason otherwise."""
    if not token:
        raise JoinRefused("InvalidJWTToken: no access token (apikey or access_token)")
    try:
        claims = keys.decode(token)
    except InvalidToken as exc:
        if str(exc) == "JWT expired":
            raise JoinRefused(f"InvalidJWTToken: Token has expired {_expired_for(token)}") from None
        raise JoinRefused("InvalidJWTToken: The token is not valid") from None
    role = claims.get("role")
    if role not in API_ROLES:
        raise JoinRefused(f"InvalidJWTToken: unknown role {str(role)[:40]!r}")
    exp = claims.get("exp")
    # PyJWT also accepts (and checks) a numeric string: the channel must expire with it too
    expires_at = float(exp) if isinstance(exp, (int, float, str)) else None
    return ChannelIdentity(str(role), claims, expires_at)


def _expired_for(token: str) -> str:
    import jwt

    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        return f"{max(0, int(time.time() - float(exp or 0)))} seconds ago"
    except Exception:
        return "0 seconds ago"


@dataclass(frozen=True)
class TopicAccess:
    """What a channel may do on a private topic, per extension."""

    broadcast_read: bool = False
    presence_read: bool = False
    broadcast_write: bool = False
    presence_write: bool = False

    @property
    def read(self) -> bool:
        return self.broadcast_read or self.presence_read


FULL_ACCESS = TopicAccess(True, True, True, True)


async def topic_access(pool: Any, who: ChannelIdentity, topic: str) -> TopicAccess:
    """What ``who`` may read and write on private ``topic``, per the realtime.messages RLS."""
    if who.bypasses_rls:
        return FULL_ACCESS
    async with pool.connection() as conn, conn.transaction(force_rollback=True):
        cur = await conn.execute(serve_sql("channel_probe"), {"topic": topic})
        probes = {ext: pid for pid, ext in await cur.fetchall()}
        await apply_identity(conn, who.identity)
        await conn.execute(serve_sql("set_topic"), {"topic": topic})
        cur = await conn.execute(serve_sql("channel_read"), {"ids": list(probes.values())})
        readable = {row[0] for row in await cur.fetchall()}
        writable = set()
        for extension in ("broadcast", "presence"):
            try:
                async with conn.transaction():
                    await conn.execute(
                        serve_sql("channel_write"), {"topic": topic, "extension": extension}
                    )
                writable.add(extension)
            except psycopg.errors.InsufficientPrivilege:
                pass
    return TopicAccess(
        broadcast_read="broadcast" in readable,
        presence_read="presence" in readable,
        broadcast_write="broadcast" in writable,
        presence_write="presence" in writable,
    )


def refused_read(topic: str) -> str:
    """Supabase's reason for a private join the policies do not allow."""
    return f"Unauthorized: You do not have permissions to read from this Channel topic: {topic}"
