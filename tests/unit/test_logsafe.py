"""runner.execute.logsafe: secrets and learned tokens are rewritten out of log records."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from runner.execute.logsafe import learning_store, redacting_logs
from runner.store.base import NullStore


class _Recording(NullStore):
    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        self.calls.append((test_id, captured, tokens))


async def test_known_and_learned_secrets_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """Environment secrets and tokens learned through the store never reach a log line."""
    caplog.set_level(logging.DEBUG)
    inner = _Recording()
    with redacting_logs(["pw-secret-1"]) as log_filter:
        store = learning_store(inner, log_filter)
        logging.getLogger("httpx").info("GET %s", "http://h/?p=pw-secret-1")
        await store.context_changed(
            "login", {"t": "tok-abc-9", "s": "sess-xyz"}, {"main": "tok-abc-9"}, {}, frozenset("s")
        )
        logging.getLogger("httpx").info("GET http://h/?t=tok-abc-9&s=sess-xyz")
    logging.getLogger("httpx").info("after tok-abc-9")  # the filter is gone after the run
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "GET http://h/?p=[REDACTED]",
        "GET http://h/?t=[REDACTED]&s=[REDACTED]",
        "after tok-abc-9",
    ]
    assert inner.calls == [("login", {"t": "tok-abc-9", "s": "sess-xyz"}, {"main": "tok-abc-9"})]


async def test_other_methods_are_the_stores_own() -> None:
    """Only context_changed is wrapped; the hot-path methods are the store's bound methods."""
    inner = NullStore()
    with redacting_logs() as log_filter:
        store = learning_store(inner, log_filter)
    assert store.record_result == inner.record_result
    assert store.start_run == inner.start_run
