"""SIGTERM ends a command the way Ctrl-C does: the running task is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Termination:
    """Whether SIGTERM (rather than Ctrl-C) cancelled the task."""

    terminated: bool = False


@contextlib.contextmanager
def sigterm_cancels_task() -> Iterator[Termination]:
    """While inside, SIGTERM cancels the current task and sets ``terminated``."""
    state = Termination()
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_term() -> None:
        state.terminated = True
        if task is not None:
            task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        yield state
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
