"""The batch writer: batching, retry, spill file, and flush on close/cancel."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

from runner.store.writer import BatchWriter, Op


async def test_queued_operations_are_written_in_batches(tmp_path: Path) -> None:
    """Operations put before the writer runs are written together, in order."""
    batches: list[list[Op]] = []

    async def flush(batch: Sequence[Op]) -> None:
        batches.append(list(batch))

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", max_batch=3)
    for i in range(7):
        writer.put("result", {"n": i})
    writer.start()
    await writer.close()
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [op[1]["n"] for b in batches for op in b] == list(range(7))
    assert writer.written == 7


async def test_transient_failure_is_retried(tmp_path: Path) -> None:
    """A batch that fails once is written on the retry, nothing spilled."""
    calls = 0

    async def flush(batch: Sequence[Op]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database restarting")

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", retry_delay=0)
    writer.start()
    writer.put("result", {"n": 1})
    await writer.close()
    assert calls == 2
    assert writer.spilled == 0
    assert not (tmp_path / "spill.jsonl").exists()


async def test_persistent_failure_spills_to_file(tmp_path: Path) -> None:
    """When the database stays down, the operations land in the spill file, none lost."""

    async def flush(batch: Sequence[Op]) -> None:
        raise ConnectionError("down")

    spill = tmp_path / "spill.jsonl"
    writer = BatchWriter(flush, spill, retries=1, retry_delay=0)
    writer.start()
    writer.put("result", {"n": 1})
    writer.put("capture", {"k": "v"})
    await writer.close()
    lines = [json.loads(line) for line in spill.read_text().splitlines()]
    assert lines == [
        {"kind": "result", "payload": {"n": 1}},
        {"kind": "capture", "payload": {"k": "v"}},
    ]
    assert writer.spilled == 2
    assert "down" in (writer.last_error or "")


async def test_close_writes_everything_even_when_caller_is_cancelled(tmp_path: Path) -> None:
    """Cancelling the task that closes the writer still lets queued results be written."""
    written: list[Op] = []
    gate = asyncio.Event()

    async def flush(batch: Sequence[Op]) -> None:
        await gate.wait()
        written.extend(batch)

    writer = BatchWriter(flush, tmp_path / "spill.jsonl")
    writer.start()
    writer.put("result", {"n": 1})
    closer = asyncio.create_task(writer.close())
    await asyncio.sleep(0)
    closer.cancel()
    gate.set()
    with contextlib.suppress(asyncio.CancelledError):
        await closer
    assert writer._task is not None
    await writer._task
    assert written == [("result", {"n": 1})]
