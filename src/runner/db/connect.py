"""Reaching the database: the configured URL, or the embedded server started on demand.

Driver errors are translated here, once, into ``DatabaseError`` with one line that
never contains the password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import DatabaseError
from runner.settings import Settings

if TYPE_CHECKING:
    import psycopg

    from runner.db.embedded import EmbeddedServer

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)(\S+)", re.IGNORECASE)


def hide_password(text: str) -> str:
    """``postgresql://u:secret@h`` -> ``postgresql://u:***@h`` (also ``password=...``)."""
    return _PASSWORD_KV.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1***\3", text))


@dataclass(frozen=True)
class Target:
    """Where we connect, and whether it is the embedded server."""

    url: str
    embedded: bool

    @property
    def display(self) -> str:
        """The URL safe to print."""
        return hide_password(self.url)


def embedded_server(settings: Settings) -> EmbeddedServer:
    """The embedded server these settings describe (not started)."""
    from runner.db.embedded import EmbeddedServer

    return EmbeddedServer(settings.data_dir, settings.embedded_port)


def resolve_target(settings: Settings, *, start: bool = True) -> Target:
    """The configured database, starting the embedded one on demand."""
    if not settings.uses_embedded:
        assert settings.database_url is not None
        url = settings.database_url.get_secret_value().strip()
        validate_url(url)
        return Target(url, embedded=False)
    server = embedded_server(settings)
    if start:
        server.start()
    return Target(server.url(), embedded=True)


def validate_url(url: str) -> None:
    """Reject a malformed connection string with a clear line (password hidden)."""
    from psycopg import conninfo

    if not url.startswith(("postgres://", "postgresql://")) and "=" not in url:
        raise DatabaseError(
            f"malformed connection string {hide_password(url)!r}: "
            "expected postgresql://user:password@host:port/database"
        )
    try:
        if "://" in url:
            from urllib.parse import urlsplit

            _ = urlsplit(url).port  # raises ValueError on a non-numeric or out-of-range port
        conninfo.conninfo_to_dict(url)
    except Exception as exc:
        raise DatabaseError(
            f"malformed connection string {hide_password(url)!r}: {describe(exc)}"
        ) from None


def describe(exc: BaseException) -> str:
    """One line about a driver error, password hidden."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return hide_password(line)


def connect_kwargs() -> dict[str, Any]:
    """Options every connection uses: no prepared statements (transaction poolers)."""
    return {"prepare_threshold": None, "connect_timeout": 10}


async def connect(target: Target, *, autocommit: bool = False) -> psycopg.AsyncConnection[Any]:
    """Open one async connection, translating failure into ``DatabaseError``."""
    import psycopg

    try:
        return await psycopg.AsyncConnection.connect(
            target.url, autocommit=autocommit, **connect_kwargs()
        )
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to {target.display}: {describe(exc)}") from None
