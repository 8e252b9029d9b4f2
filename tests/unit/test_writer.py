"""The batch writer: batching, retry, outages, spill file and its replay, flush on close."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

from runner.store.writer import FINISH, BatchWriter, Op, batches, hold_spill_lock, read_spill


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
    writer = BatchWriter(flush, spill, retries=1, retry_delay=0, outage_s=0)
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


async def test_an_outage_is_ridden_out_while_operations_keep_coming(tmp_path: Path) -> None:
    """Connection errors are retried past ``retries`` until the database is back; none spilled."""
    written: list[Op] = []
    down = 6

    async def flush(batch: Sequence[Op]) -> None:
        nonlocal down
        if down:
            down -= 1
            raise ConnectionRefusedError("database restarting")
        written.extend(batch)

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", retries=1, retry_delay=0.001)
    writer.start()
    for i in range(5):
        writer.put("result", {"n": i})
        await asyncio.sleep(0)
    await writer.close()
    assert [op[1]["n"] for op in written] == list(range(5))
    assert writer.spilled == 0 and not writer.unwritten()


async def test_a_data_error_is_not_waited_out_like_an_outage(tmp_path: Path) -> None:
    """A failure that is not an outage gets ``retries`` more attempts, then is spilled."""
    calls = 0

    async def flush(batch: Sequence[Op]) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("invalid input syntax")

    writer = BatchWriter(flush, tmp_path / "spill.jsonl", retries=2, retry_delay=0)
    writer.put("result", {"n": 1})
    await writer.close()
    assert calls == 3
    assert writer.unwritten() == {"result": 1}


async def test_spilled_operations_go_first_when_the_database_is_back(tmp_path: Path) -> None:
    """After an outage past the limit, the next batch replays the spill file first, in order."""
    written: list[Op] = []
    up = False

    async def flush(batch: Sequence[Op]) -> None:
        if not up:
            raise ConnectionError("down")
        written.extend(batch)

    spill = tmp_path / "run.jsonl"
    writer = BatchWriter(flush, spill, outage_s=0, max_delay=0)
    writer.put("result", {"n": 1})
    writer.put("capture", ["a", {"k": 1}])
    await writer._drain()
    assert writer.unwritten() == {"result": 1, "capture": 1}
    assert spill.exists() and spill.with_suffix(".lock").exists()
    up = True
    writer.put("result", {"n": 2})
    writer.put(FINISH, "passed")
    await writer.close()
    writer.release()
    assert [kind for kind, _ in written] == ["result", "capture", "result", FINISH]
    assert writer.replayed == 2 and not writer.unwritten()
    assert not spill.exists() and not spill.with_suffix(".lock").exists()


async def test_past_the_outage_limit_batches_are_spilled_without_waiting(tmp_path: Path) -> None:
    """Once the limit has passed, a batch is kept at once (one probe per ``max_delay``)."""
    calls = 0

    async def flush(batch: Sequence[Op]) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    spill = tmp_path / "run.jsonl"
    writer = BatchWriter(flush, spill, outage_s=0, max_delay=60, max_batch=2)
    for i in range(6):
        writer.put("result", {"n": i})
    writer.put(FINISH, "failed")
    await asyncio.wait_for(writer.close(), 10)
    assert calls == 1
    assert read_spill(spill) == [*(("result", {"n": i}) for i in range(6)), (FINISH, "failed")]
    assert writer.unwritten() == {"result": 6, FINISH: 1}


def test_the_finish_is_always_a_batch_of_its_own() -> None:
    """Batches never exceed the size and a finish is alone in its batch."""
    ops: list[Op] = [("result", 1), ("result", 2), ("result", 3), (FINISH, "passed")]
    assert list(batches(ops, 2)) == [[("result", 1), ("result", 2)], [("result", 3)], [ops[3]]]


def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    """A spill file whose last line was cut by a dying process still reads back."""
    spill = tmp_path / "run.jsonl"
    spill.write_text('{"kind": "result", "payload": {"n": 1}}\n{"kind": "res', encoding="utf-8")
    assert read_spill(spill) == [("result", {"n": 1})]


async def test_a_writer_keeps_its_spill_file_locked_until_released(tmp_path: Path) -> None:
    """While its run goes on nobody else may take the spill file; after release they may."""

    async def flush(batch: Sequence[Op]) -> None:
        raise ConnectionError("down")

    spill = tmp_path / "run.jsonl"
    writer = BatchWriter(flush, spill, outage_s=0)
    writer.put("result", {"n": 1})
    await writer.close()
    assert hold_spill_lock(spill) is None
    writer.release()
    other = hold_spill_lock(spill)
    assert other is not None
    other.close()


async def test_a_writer_cancelled_while_waiting_out_an_outage_keeps_everything(
    tmp_path: Path,
) -> None:
    """Cancelled during the outage (a second Ctrl-C): the batch and the queue are spilled."""
    failing = asyncio.Event()

    async def flush(batch: Sequence[Op]) -> None:
        failing.set()
        raise ConnectionError("down")

    spill = tmp_path / "run.jsonl"
    writer = BatchWriter(flush, spill, max_batch=1, retry_delay=60)
    writer.start()
    writer.put("result", {"n": 1})
    await asyncio.wait_for(failing.wait(), 10)
    writer.put("result", {"n": 2})
    assert writer._task is not None
    writer._task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await writer._task
    assert read_spill(spill) == [("result", {"n": 1}), ("result", {"n": 2})]
    assert writer.unwritten() == {"result": 2}
