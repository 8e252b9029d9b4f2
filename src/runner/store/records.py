"""What a store's capabilities return: small frozen records, without a database import.

``runner.store.base`` names them in the ``Store`` protocol; the hot path imports that
module, so these stay free of psycopg and supabase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

CredentialKind = Literal["api_key", "bearer", "basic", "oauth2_client"]

SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "api_key": ("key",),
    "bearer": ("token",),
    "basic": ("username", "password"),
    "oauth2_client": ("client_id", "client_secret"),
}
"""Fields each kind's secret must have; more (``token_url``, ``scope``) are allowed."""


@dataclass(frozen=True)
class Credential:
    """One opened credential: its kind, secret fields and non-secret metadata."""

    name: str
    kind: str
    secret: dict[str, str] = field(repr=False)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Quarantine:
    """One quarantined test as ``quarantine list`` shows it."""

    project: str
    suite: str
    test: str
    reason: str
    quarantined_at: datetime
    quarantined_by: str | None
    """E-mail of who quarantined it (None for the service role)."""


@dataclass(frozen=True)
class RotationReport:
    """How many ciphertexts a rotation re-encrypted, per place."""

    environment_variables: int = 0
    api_credentials: int = 0
    context_values: int = 0
    already_current: int = 0

    @property
    def total(self) -> int:
        """Ciphertexts re-encrypted."""
        return self.environment_variables + self.api_credentials + self.context_values
