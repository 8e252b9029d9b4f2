"""The one interface the engine records through.

The engine calls these from its hot path, so implementations must not wait on the
database inside ``test_started``, ``record_result`` or ``context_changed``: they queue
and write in batches in the background. ``finish_run`` flushes everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.models import RunStatus, Suite, TestResult


@dataclass(frozen=True)
class RunInfo:
    """What the engine tells the store about a run it is starting."""

    suite: Suite
    environment: str | None
    order: tuple[str, ...]
    trigger: str = "cli"
    metadata: dict[str, Any] = field(default_factory=dict)
    edges: tuple[tuple[str, str, str], ...] = ()
    """Planned dependency edges: (dependency, test, type)."""
    rows: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    """Resolved data rows of data-driven tests."""
    expected_results: int | None = None
    """How many results the run will produce (tests x rows); defaults to len(order)."""

    @property
    def total(self) -> int:
        """Results the run will produce."""
        return self.expected_results if self.expected_results is not None else len(self.order)


class Store(Protocol):
    """Recording side of a run. ``start_run`` returns the run id (None when not stored)."""

    async def start_run(self, info: RunInfo) -> str | None: ...

    async def test_started(self, test_key: str) -> None: ...

    async def record_result(self, result: TestResult) -> None: ...

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        """A test captured values (``captured``) and maybe published tokens/variables.

        ``secret_keys`` names captured keys whose values must be stored encrypted or
        redacted; tokens are always secret.
        """
        ...

    async def finish_run(self, status: RunStatus) -> None: ...


def quarantined_tests(store: object) -> frozenset[str]:
    """Test ids whose failures must not fail the run, as ``store.start_run`` found them.

    Stores that know quarantines expose a ``quarantined`` frozenset once the run has
    started; any other store (``NullStore``, a test double) quarantines nothing.
    """
    found = getattr(store, "quarantined", None)
    return found if isinstance(found, frozenset) else frozenset()


class NullStore:
    """Records nothing: ``run-suite --no-store``."""

    async def start_run(self, info: RunInfo) -> str | None:
        return None

    async def test_started(self, test_key: str) -> None:
        return None

    async def record_result(self, result: TestResult) -> None:
        return None

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        return None

    async def finish_run(self, status: RunStatus) -> None:
        return None
