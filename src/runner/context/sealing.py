"""Secrets of a run's context: sealed (or redacted) on the way in, opened on the way out.

With a ``SecretBox`` a secret is stored sealed and opened again on read. Without one
it is stored as ``[REDACTED]``, and only the values this process wrote are known:
``Sealer`` keeps them in memory, by run and place, to give them back on read.
"""

from __future__ import annotations

from typing import Any

from runner.context.models import PROVENANCE, RunContext
from runner.secrets.crypto import SecretBox, is_sealed, sealed_in, sealed_object
from runner.secrets.redact import REDACTED

Where = tuple[str, ...]
"""A place in a context: ``("token", name)``, ``("variable", name)``,
``("captured", test, name)``."""


class Sealer:
    """Hides secrets before they are stored and opens them when a row is decoded."""

    def __init__(self, cipher: SecretBox | None) -> None:
        self.cipher = cipher
        self._plain: dict[str, dict[Where, Any]] = {}  # redacted secrets we know

    def hide(self, run_id: str, where: Where, value: Any, as_object: bool) -> Any:
        """What to store for the secret ``value``: sealed, or ``[REDACTED]``."""
        self._plain.setdefault(run_id, {})[where] = value
        if self.cipher is None:
            return REDACTED
        return sealed_object(self.cipher, value) if as_object else self.cipher.seal(value)

    def open(self, run_id: str, where: Where, value: Any) -> Any:
        """The plain value of a stored one (redacted values only if this process wrote them)."""
        sealed = sealed_in(value) if isinstance(value, dict) else value
        if isinstance(sealed, str) and is_sealed(sealed) and self.cipher is not None:
            return self.cipher.unseal(sealed)
        if value == REDACTED or sealed_in(value) is not None or is_sealed(value):
            return self._plain.get(run_id, {}).get(where, value)
        return value

    def decode(self, run_id: str, row: tuple[Any, ...]) -> RunContext:
        """A ``context_read`` row as a ``RunContext``, secrets opened."""
        tokens, variables, captured, order, expires_at, updated_at = row
        provenance = captured.pop(PROVENANCE, {}) or {}
        return RunContext(
            run_id=run_id,
            tokens={k: self.open(run_id, ("token", k), v) for k, v in tokens.items()},
            variables={k: self.open(run_id, ("variable", k), v) for k, v in variables.items()},
            captured={
                test: (
                    {k: self.open(run_id, ("captured", test, k), v) for k, v in values.items()}
                    if isinstance(values, dict)
                    else values
                )
                for test, values in captured.items()
            },
            provenance=provenance,
            test_order=list(order),
            expires_at=expires_at,
            updated_at=updated_at,
        )
