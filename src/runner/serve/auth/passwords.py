"""bcrypt password hashes as GoTrue stores them in ``auth.users.encrypted_password``.

Hashing and checking run in a worker thread: bcrypt is slow on purpose and must not
stall the event loop (the realtime sockets share it).
"""

from __future__ import annotations

import asyncio

import bcrypt

from runner.serve.auth.errors import AuthError, weak_password

# GoTrue's defaults: bcrypt cost 10, at least 6 characters; bcrypt reads 72 bytes at most
COST = 10
MIN_LENGTH = 6
MAX_BYTES = 72
# compared against when the account does not exist, so timing does not reveal that
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds=COST))


def check_strength(password: str) -> None:
    """422 ``weak_password`` (or a too-long password) like GoTrue."""
    if len(password) < MIN_LENGTH:
        raise weak_password(f"Password should be at least {MIN_LENGTH} characters.", ["length"])
    if len(password.encode()) > MAX_BYTES:
        raise AuthError(
            422, "validation_failed", f"Password cannot be longer than {MAX_BYTES} characters"
        )


async def hash_password(password: str) -> str:
    """A bcrypt hash of ``password``."""
    digest = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(COST))
    return digest.decode()


async def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (always spends one bcrypt check)."""
    candidate = password.encode()[:MAX_BYTES]
    target = stored.encode() if stored else _DUMMY_HASH
    try:
        ok = await asyncio.to_thread(bcrypt.checkpw, candidate, target)
    except ValueError:
        return False
    return ok and stored is not None
