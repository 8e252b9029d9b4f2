"""The half both stores share: queue the engine's calls for the batch writer.

Subclasses start the run (setting ``run_id``, ``case_ids``, ``writer``) and write
batches; what is queued, and how secrets are hidden first, is decided here once.
"""

from __future__ import annotations

from typing import Any

from runner.models import TestResult
from runner.secrets.crypto import SecretBox, sealed_object
from runner.store.calls import context_ops, redact_only, result_row
from runner.store.writer import BatchWriter


class QueuedStore:
    """``test_started``, ``record_result`` and ``context_changed`` never wait on the database."""

    cipher: SecretBox | None
    writer: BatchWriter | None
    case_ids: dict[str, str]

    async def test_started(self, test_key: str) -> None:
        """Queue a start; the batch announces its starts in one ``tests_started`` call."""
        if self.writer is not None:
            self.writer.put("started", test_key)

    async def record_result(self, result: TestResult) -> None:
        """Queue a result; written with the next batch."""
        if self.writer is not None:
            self.writer.put("result", result_row(result, self.case_ids))

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        """Queue the context changes; tokens and secret captures never in plaintext.

        With a ``cipher`` they are sealed (``{"enc": "v1:<key id>:..."}`` in
        captured_data, the sealed string as the token), else replaced by
        ``[REDACTED]`` (see ``runner.store.calls.context_ops``).
        """
        if self.writer is None:
            return
        hide = redact_only if self.cipher is None else self._seal
        for kind, payload in context_ops(test_id, captured, tokens, variables, secret_keys, hide):
            self.writer.put(kind, payload)

    def _seal(self, value: Any, as_object: bool) -> Any:
        assert self.cipher is not None
        return sealed_object(self.cipher, value) if as_object else self.cipher.seal(value)
