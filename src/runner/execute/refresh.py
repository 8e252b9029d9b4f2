"""Renewing shared tokens: the producer test runs again, once per expiry, for everyone.

A capture with ``as_token: user`` and ``refresh: {on_status: [401], lifetime_s: 300}``
makes its test the producer of ``shared_auth_tokens.user``. When a request that uses
the token gets one of ``on_status`` (or the token is older than ``lifetime_s``), the
case runner asks this keeper to renew it. Tests are told apart by the token's
*generation* they used: the first to ask re-runs the producer under a per-token lock;
whoever asked about the same generation meanwhile finds it already renewed (or its
renewal already failed) and does not run the producer again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from runner.models import Suite, TestSpec, TokenRefresh
from runner.templating.refs import state_uses

Rerun = Callable[[TestSpec, str], Awaitable[bool]]
"""Runs the producer under a result key and says whether it passed (and republished)."""


class TokenKeeper:
    """Generations, ages and renewal locks of the suite's refreshable tokens."""

    def __init__(self, suite: Suite, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.policies: dict[str, tuple[TestSpec, TokenRefresh]] = {}
        for test in suite.tests:
            for capture in test.captures.values():
                if capture.as_token and capture.refresh is not None:
                    self.policies[capture.as_token] = (test, capture.refresh)
        self._defaults = tuple(suite.defaults.headers.values())
        self._uses: dict[str, tuple[str, ...]] = {}
        self.generation: dict[str, int] = {}
        self.obtained_at: dict[str, float] = {}
        self.reruns: dict[str, int] = {}  # producer id -> re-runs so far (for result keys)
        self._failed: dict[str, int] = {}  # token -> generation whose renewal failed
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def active(self) -> bool:
        """Whether any token of the suite is refreshable."""
        return bool(self.policies)

    def used_by(self, spec: TestSpec) -> tuple[str, ...]:
        """The refreshable tokens ``spec``'s request reads (never its own)."""
        found = self._uses.get(spec.id)
        if found is None:
            names: set[str] = set()
            for text in _strings((spec.request.model_dump(by_alias=True), self._defaults)):
                for kind, name, _ in state_uses(text):
                    if kind == "shared_auth_tokens" and name in self.policies:
                        names.add(name)
            found = tuple(n for n in sorted(names) if self.policies[n][0].id != spec.id)
            self._uses[spec.id] = found
        return found

    def published(self, tokens: Iterable[str]) -> None:
        """New values of these tokens were published just now."""
        now = self.clock()
        for name in tokens:
            self.generation[name] = self.generation.get(name, 0) + 1
            self.obtained_at[name] = now

    def seen(self, names: Iterable[str]) -> dict[str, int]:
        """The generations a request about to be rendered will use."""
        return {n: self.generation.get(n, 0) for n in names}

    def expired(self, name: str) -> bool:
        """Whether the token is older than its lifetime."""
        lifetime = self.policies[name][1].lifetime_s
        obtained = self.obtained_at.get(name)
        return lifetime is not None and obtained is not None and self.clock() - obtained >= lifetime

    def expired_by_status(self, names: Iterable[str], status: int) -> list[str]:
        """The tokens for which ``status`` means "expired"."""
        return [n for n in names if status in self.policies[n][1].on_status]

    async def renew(self, name: str, seen: int, rerun: Rerun) -> bool:
        """Make sure the token is newer than generation ``seen``; False if that failed."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if self.generation.get(name, 0) != seen:
                return True  # renewed while this request was out
            if self._failed.get(name) == seen:
                return False  # its renewal already failed: not once more per waiter
            producer = self.policies[name][0]
            count = self.reruns.get(producer.id, 0) + 1
            self.reruns[producer.id] = count
            passed = await rerun(producer, f"{producer.id}#refresh{count}")
            if passed and self.generation.get(name, 0) != seen:
                return True
            self._failed[name] = seen
            return False


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if "{" in value:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
