"""The plugin's own event loop, in a thread of its own.

The store is async; pytest hooks are not, and a test session may have an event
loop of its own (pytest-asyncio, anyio) that the plugin must never touch. So the
recorder runs a private loop in a daemon thread and hands it work from the hooks.
Work runs one piece at a time, in the order it was handed over, so a result is
never queued before its run has started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An event loop in a daemon thread; ``submit`` runs coroutines there, in order."""

    def __init__(self, name: str = "runner-recorder") -> None:
        self._loop = asyncio.new_event_loop()
        self._lock: asyncio.Lock | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def submit(self, make: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run ``make()`` on the loop after everything submitted before it has finished."""

        async def serial() -> T:
            if self._lock is None:
                self._lock = asyncio.Lock()
            # asyncio.Lock is FIFO: tasks take it in the order they were submitted
            async with self._lock:
                return await make()

        return asyncio.run_coroutine_threadsafe(serial(), self._loop)

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what is left, stop the loop and join the thread (at most ``timeout`` s)."""
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            current = asyncio.current_task()
            others = [t for t in asyncio.all_tasks() if t is not current]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._loop.shutdown_asyncgens()

        if self._thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
            # a stuck task must not keep pytest waiting
            with contextlib.suppress(Exception):
                done.result(timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()
