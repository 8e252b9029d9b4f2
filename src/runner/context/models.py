"""What the context manager hands out: a run's decoded context, and what a test may use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PROVENANCE = "_provenance"
"""Key of ``captured_data`` that holds provenance entries (never a test id)."""


@dataclass(frozen=True)
class Provided:
    """A value a test may use, with the test that produced it and when."""

    value: Any
    produced_by: str | None = None
    at: datetime | None = None


@dataclass
class RunContext:
    """A run's context, secrets decrypted (in memory only)."""

    run_id: str
    tokens: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    captured: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    test_order: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    updated_at: datetime | None = None

    def produced(self, kind: str, name: str) -> tuple[str | None, datetime | None]:
        """(test, time) that produced ``kind:name`` (kind: test, token, variable)."""
        entry = self.provenance.get(f"{kind}:{name}") or {}
        at = entry.get("at")
        return entry.get("by"), datetime.fromisoformat(at) if isinstance(at, str) else None

    def done(self, test_id: str) -> bool:
        """Whether ``test_id`` has produced something (captures or a provenance entry)."""
        return test_id in self.captured or f"test:{test_id}" in self.provenance


@dataclass(frozen=True)
class Resolution:
    """Whether a test may start, and what it may use, each value with its provenance."""

    test_id: str
    ready: bool
    waiting_for: tuple[str, ...]
    """Direct dependencies that have not produced anything yet."""
    dependencies: tuple[str, ...]
    """Every test it depends on, directly or not."""
    tokens: dict[str, Provided]
    variables: dict[str, Provided]
    captured: dict[str, dict[str, Provided]]
    """Captures of its dependencies: test id -> capture name -> value."""


@dataclass(frozen=True)
class CacheStats:
    """Hits and misses of the context cache."""

    hits: int
    misses: int

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0.0 before any lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
