"""JWTs of the local Supabase surface: the HS256 secret, the anon and service_role keys.

Keys are JWTs exactly like a Supabase project's: ``{"iss": "supabase", "ref": ..., "role":
"anon" | "service_role", "iat", "exp"}`` signed with the project's JWT secret. The secret
comes from ``RUNNER_JWT_SECRET`` or is generated once and kept in ``<data dir>/serve.env``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from runner.errors import ConfigError

ALGORITHM = "HS256"
ISSUER = "supabase"
PROJECT_REF = "local"
# what a local Supabase stack uses for its keys: valid for about ten years
KEY_LIFETIME_S = 10 * 365 * 24 * 3600
SECRET_VARIABLE = "RUNNER_JWT_SECRET"  # noqa: S105 (the variable's name, not a secret)


class InvalidToken(Exception):
    """A JWT that is malformed, badly signed or expired (the message says which)."""


@dataclass(frozen=True)
class ServeKeys:
    """The JWT secret and the two API keys derived from it."""

    jwt_secret: str
    anon_key: str
    service_role_key: str

    @classmethod
    def from_secret(cls, secret: str, *, issued_at: int | None = None) -> ServeKeys:
        """Keys signed with ``secret`` (``issued_at`` fixed makes them reproducible)."""
        if len(secret) < 32:
            raise ConfigError(f"{SECRET_VARIABLE} must be at least 32 characters long")
        iat = int(time.time()) if issued_at is None else issued_at
        return cls(
            jwt_secret=secret,
            anon_key=_api_key(secret, "anon", iat),
            service_role_key=_api_key(secret, "service_role", iat),
        )

    def sign(self, claims: dict[str, Any]) -> str:
        """A JWT with these claims, signed with the secret."""
        return sign(claims, self.jwt_secret)

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims of ``token``; ``InvalidToken`` otherwise."""
        return decode(token, self.jwt_secret)


def _api_key(secret: str, role: str, iat: int) -> str:
    claims = {"iss": ISSUER, "ref": PROJECT_REF, "role": role, "iat": iat}
    claims["exp"] = iat + KEY_LIFETIME_S
    return sign(claims, secret)


def sign(claims: dict[str, Any], secret: str) -> str:
    """HS256-sign ``claims``."""
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(token: str, secret: str) -> dict[str, Any]:
    """Verify signature and expiry; the audience is not checked (Supabase keys have none)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_aud": False, "require": ["exp", "role"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("JWT expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid JWT: {exc}") from None
    return claims


def load_or_create_secret(data_dir: Path, configured: str | None) -> str:
    """The configured secret, else the one kept in ``<data_dir>/serve.env`` (made once)."""
    if configured:
        return configured
    path = data_dir / "serve.env"
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name.strip() == SECRET_VARIABLE and value.strip():
                return value.strip()
    secret = secrets.token_urlsafe(48)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{SECRET_VARIABLE}={secret}\n")
    path.chmod(0o600)
    return secret


def write_env_file(path: Path, url: str, keys: ServeKeys) -> None:
    """The variables a client needs, in dotenv form (mode 0600: it holds the keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# written by `python -m runner serve`: the local Supabase surface\n"
        f"SUPABASE_URL={url}\n"
        f"SUPABASE_ANON_KEY={keys.anon_key}\n"
        f"SUPABASE_SERVICE_ROLE_KEY={keys.service_role_key}\n"
        f"{SECRET_VARIABLE}={keys.jwt_secret}\n"
    )
    path.chmod(0o600)
