"""The one interface the engine records through.

The engine calls these from its hot path, so implementations must not wait on the
database inside ``test_started``, ``record_result`` or ``context_changed``: they queue
and write in batches in the background. ``finish_run`` flushes everything.

Besides recording, a store declares what else it can do: stored environment secrets,
personal credentials, quarantines, stored suites and a run's analysis. Each is a
method here; a store that cannot do one raises ``CapabilityError`` (one line naming
the store and the capability, exit 2), never a silent empty answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from runner.errors import CapabilityError
from runner.models import RunStatus, Suite, TestResult
from runner.store.records import Credential, CredentialKind, Quarantine, RotationReport

if TYPE_CHECKING:
    from runner.secrets.crypto import SecretBox
    from runner.suite.load import LoadedSuite


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


@dataclass(frozen=True)
class Unrecorded:
    """What a store could not write to the database (after every replay it tried)."""

    results: int = 0
    operations: int = 0
    """Every write still missing, results included (starts, context, the run's finish)."""
    spill_file: Path | None = None
    """Where they are kept until a later command (or ``runner db replay``) writes them."""

    def __bool__(self) -> bool:
        return self.operations > 0


class Store(Protocol):
    """Recording side of a run, and the stored things a run or a command may need.

    ``start_run`` returns the run id (None when not stored). The methods after
    ``finish_run`` are capabilities: each works, or raises ``CapabilityError``.
    """

    @property
    def name(self) -> str:
        """What kind of store this is, for messages: ``postgres``, ``supabase``, ``null``."""
        ...

    @property
    def run_id(self) -> str | None:
        """The run ``start_run`` created (None before, or when nothing is stored)."""
        ...

    @property
    def quarantined(self) -> frozenset[str]:
        """Test ids quarantined when the run started: their failures do not fail it."""
        ...

    @property
    def user(self) -> str | None:
        """Who the store acts as when it is a signed-in user (None: the system)."""
        ...

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

    def unrecorded(self) -> Unrecorded:
        """What the run obtained but the database does not have (nothing: falsy).

        Asked after ``finish_run``: the writes still missing after the outage limit
        and the final replay, and the spill file that keeps them. ``run-suite`` exits
        3 when there are any.
        """
        ...

    # ---------------------------------------------------------------- capabilities
    async def environment_secrets(self, suite: str, environment: str) -> dict[str, str]:
        """Decrypted secrets stored for ``environment`` of the project ``suite`` records into.

        {} when none are stored, the environment is not stored yet, there is no key,
        or the caller may not read them (the secret is then simply missing).
        """
        ...

    async def set_environment_secret(
        self, project: str, environment: str, name: str, value: str
    ) -> None:
        """Store (or replace) secret ``name`` of an environment, encrypted."""
        ...

    async def rotate_secret_key(self, old: SecretBox, new: SecretBox) -> RotationReport:
        """Re-encrypt every stored ciphertext from ``old`` to ``new``, all or nothing."""
        ...

    async def load_credentials(self, names: Iterable[str]) -> dict[str, Credential]:
        """The signed-in user's credentials of these names, opened; marks them used."""
        ...

    async def save_credential(
        self,
        name: str,
        kind: CredentialKind,
        secret: Mapping[str, str],
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        """Store (or replace) the signed-in user's credential ``name``; returns its id."""
        ...

    async def delete_credential(self, name: str) -> bool:
        """Remove the signed-in user's credential ``name``; whether there was one."""
        ...

    async def run_analysis(self, run_id: str) -> dict[str, Any]:
        """What the run's finish found, as ``public.run_analysis`` returns it (JSON)."""
        ...

    async def list_quarantines(self, suite: str | None = None) -> list[Quarantine]:
        """Quarantined tests the caller can see, optionally of one suite."""
        ...

    async def add_quarantine(self, suite: str, test: str, reason: str) -> bool:
        """Quarantine a stored test (or change its reason); True when newly quarantined."""
        ...

    async def remove_quarantine(self, suite: str, test: str) -> bool:
        """Lift a stored test's quarantine; False when it was not quarantined."""
        ...

    async def load_suite(self, name: str) -> LoadedSuite:
        """Rebuild the suite stored under ``name`` (or its slug)."""
        ...


def quarantined_tests(store: Store) -> frozenset[str]:
    """Test ids whose failures must not fail the run, as ``store.start_run`` found them."""
    return store.quarantined


class NullStore:
    """Records nothing: ``run-suite --no-store``.

    Honest empties where nothing stored means nothing to give (no secrets, no
    quarantines); everything that needs a database is refused in one line.
    """

    name = "null"
    run_id: str | None = None
    quarantined: frozenset[str] = frozenset()
    user: str | None = None

    def _refuse(self, capability: str) -> CapabilityError:
        return CapabilityError(self.name, capability, "it records nothing (drop --no-store)")

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

    def unrecorded(self) -> Unrecorded:
        return Unrecorded()

    async def environment_secrets(self, suite: str, environment: str) -> dict[str, str]:
        return {}

    async def set_environment_secret(
        self, project: str, environment: str, name: str, value: str
    ) -> None:
        raise self._refuse("store a secret")

    async def rotate_secret_key(self, old: SecretBox, new: SecretBox) -> RotationReport:
        raise self._refuse("rotate the secret key")

    async def load_credentials(self, names: Iterable[str]) -> dict[str, Credential]:
        raise self._refuse("read credentials")

    async def save_credential(
        self,
        name: str,
        kind: CredentialKind,
        secret: Mapping[str, str],
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        raise self._refuse("store a credential")

    async def delete_credential(self, name: str) -> bool:
        raise self._refuse("delete a credential")

    async def run_analysis(self, run_id: str) -> dict[str, Any]:
        raise self._refuse("analyse a run")

    async def list_quarantines(self, suite: str | None = None) -> list[Quarantine]:
        return []

    async def add_quarantine(self, suite: str, test: str, reason: str) -> bool:
        raise self._refuse("quarantine a test")

    async def remove_quarantine(self, suite: str, test: str) -> bool:
        raise self._refuse("lift a quarantine")

    async def load_suite(self, name: str) -> LoadedSuite:
        raise self._refuse(f"load stored suite {name!r}")
