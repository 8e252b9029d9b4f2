"""The half both stores share: queue the engine's calls, write them, ride out outages.

Subclasses start the run (setting ``run_id`` and ``case_ids``, then ``_start_writer``)
and write one batch of a run (``_write_batch``); they say which errors mean the
database is unreachable (``_is_outage``). What is queued, how secrets are hidden
first, how a run is finished and what is reported as not written are decided here
once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.models import RunStatus, TestResult
from runner.secrets.crypto import SecretBox, sealed_object
from runner.store.base import Unrecorded
from runner.store.calls import context_ops, redact_only, result_row
from runner.store.replay import ReplayReport, replay_spills
from runner.store.writer import FINISH, BatchWriter, Op, spill_path


class QueuedStore:
    """``test_started``, ``record_result`` and ``context_changed`` never wait on the database."""

    cipher: SecretBox | None
    writer: BatchWriter | None
    case_ids: dict[str, str]
    run_id: str | None
    spill_dir: Path
    max_batch: int
    outage_s: float

    async def _write_batch(self, run_id: str, batch: Sequence[Op]) -> None:
        """Write one batch of run ``run_id`` (a ``finish`` always comes alone)."""
        raise NotImplementedError

    def _is_outage(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the database could not be reached (worth waiting for)."""
        raise NotImplementedError

    def _describe(self, exc: BaseException) -> str:
        """One line about a write error."""
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    def _start_writer(self, run_id: str) -> None:
        self.writer = BatchWriter(
            functools.partial(self._write_batch, run_id),
            spill_path(self.spill_dir, run_id),
            max_batch=self.max_batch,
            outage_s=self.outage_s,
            is_outage=self._is_outage,
        )
        self.writer.start()

    async def _close_writer(self) -> None:
        if self.writer is not None:
            await self.writer.close()
            self.writer.release()

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

    async def finish_run(self, status: RunStatus) -> None:
        """Write everything queued, then mark the run finished (never raises for the database).

        The finish goes through the writer after every other write, spilled ones
        included; if the database stays down past the outage limit it is kept in the
        spill file after them, and ``unrecorded()`` says so.
        """
        if self.run_id is None or self.writer is None:
            return
        self.writer.put(FINISH, status.value)
        await self._close_writer()

    def unrecorded(self) -> Unrecorded:
        """What the run could not write to the database, after the writer's replays."""
        if self.writer is None:
            return Unrecorded()
        left = self.writer.unwritten()
        total = sum(left.values())
        if not total:
            return Unrecorded()
        return Unrecorded(
            results=left["result"],
            operations=total,
            spill_file=self.writer.spill_path,
        )

    async def replay_spilled(self) -> ReplayReport:
        """Write what earlier runs kept in the spill folder (their finish last)."""
        return await replay_spills(
            self.spill_dir,
            self._write_batch,
            max_batch=self.max_batch,
            is_outage=self._is_outage,
            describe=self._describe,
        )
