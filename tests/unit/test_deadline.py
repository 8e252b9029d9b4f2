"""The attempt deadline: TimeoutError when its time passes, other cancellations untouched."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from runner.execute.http.deadline import Deadline


async def test_a_block_past_its_deadline_raises_timeout_error() -> None:
    """A wait longer than the deadline ends at the deadline with TimeoutError."""
    never = asyncio.Event()
    t0 = time.perf_counter()
    with pytest.raises(TimeoutError) as caught, Deadline(0.05) as deadline:
        await asyncio.wait_for(never.wait(), 5)
    assert deadline.expired
    assert 0.04 <= time.perf_counter() - t0 < 1
    assert isinstance(caught.value.__cause__, asyncio.CancelledError)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_block_within_its_deadline_is_untouched() -> None:
    """A block that finishes in time returns normally and leaves no cancellation behind."""
    with Deadline(5) as deadline:
        await asyncio.sleep(0)
    assert not deadline.expired
    await asyncio.sleep(0)  # would raise CancelledError if a cancel were left pending
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_no_seconds_means_no_deadline() -> None:
    """Deadline(None) never cancels anything."""
    with Deadline(None) as deadline:
        await asyncio.sleep(0)
    assert not deadline.expired


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    """Cancelling the task inside a Deadline propagates CancelledError, not TimeoutError."""
    entered = asyncio.Event()

    async def attempt() -> None:
        with Deadline(5):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(attempt())
    await asyncio.wait_for(entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


async def test_a_swallowed_cancellation_still_times_out() -> None:
    """If the block absorbs the deadline's cancellation, leaving it still raises TimeoutError."""
    with (
        pytest.raises(TimeoutError),
        Deadline(0.01),
        contextlib.suppress(asyncio.CancelledError),
    ):
        await asyncio.wait_for(asyncio.Event().wait(), 5)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_the_deadline_and_an_outside_cancel_together_cancel() -> None:
    """Expired and cancelled from outside as well: the outside cancellation wins."""
    entered = asyncio.Event()

    async def attempt() -> None:
        with Deadline(0.01):
            entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                asyncio.current_task().cancel()  # type: ignore[union-attr]
                raise

    task = asyncio.create_task(attempt())
    await asyncio.wait_for(entered.wait(), 5)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
