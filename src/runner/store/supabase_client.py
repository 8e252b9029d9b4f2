"""Reaching a Supabase project (or ``serve``) with the official client, supabase-py.

Shared by ``SupabaseStore`` (recording over RPC) and ``watch`` (following a run over
Realtime): one way to open a client, sign in, and turn its errors into one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.errors import DatabaseError

if TYPE_CHECKING:
    from supabase import AsyncClient


def describe(exc: BaseException) -> str:
    """One line about a client error (PostgREST's message and code when it has them)."""
    message = getattr(exc, "message", None)
    if not isinstance(message, str) or not message:
        lines = str(exc).strip().splitlines()
        message = lines[0] if lines else type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{message} ({code})" if code else message


async def open_client(
    url: str, key: str, *, email: str | None = None, password: str | None = None
) -> AsyncClient:
    """A supabase-py client for ``url`` and ``key``, signed in as ``email`` if given.

    Sessions are kept in memory only; a failure is a ``DatabaseError`` of one line.
    """
    from supabase import AsyncClientOptions, acreate_client

    options = AsyncClientOptions(auto_refresh_token=True, persist_session=False)
    try:
        client = await acreate_client(url, key, options=options)
        if email:
            await client.auth.sign_in_with_password({"email": email, "password": password or ""})
    except Exception as exc:
        raise DatabaseError(f"cannot reach Supabase at {url}: {describe(exc)}") from None
    return client
