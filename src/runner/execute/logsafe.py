"""Keeps a run's secrets out of log lines, including the HTTP clients' own.

httpx logs every request URL at INFO (``HTTP Request: GET https://...?token=...``),
and at DEBUG httpcore logs every response's headers, ``Set-Cookie`` and all, before
the runner has even looked at the response. While a run is going,
``redacting_logs`` puts a filter on every logger that can see requests (httpx,
httpcore, aiohttp, hpack, h11 and the runner's, children included: a logger's
filter does not see its children's records). The filter rewrites a record whose
text holds a known secret in any encoding (the run's own ``Redactor``, which learns
each token and secret capture the moment it is captured), the value of a
credential header (by its name, before any value is known), or the value of a
secret-ish query parameter (``?api_key=``). Exception text is rewritten too.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from runner.secrets.names import redact_header_lines, redact_query_values
from runner.secrets.redact import Redactor
from runner.store.base import Store

WATCHED_LOGGERS = (
    "aiohttp",
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "h11",
    "hpack",
    "hpack.hpack",
    "hpack.table",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "httpx",
    "httpx._client",
    "runner",
    "runner.execute.processes",
    "runner.store",
    "runner.suite",
)
"""Logger filters see only records of their own logger, so each one is named (and
any other child of these that exists when the run starts is added)."""

_WATCHED_ROOTS = ("aiohttp", "h11", "hpack", "httpcore", "httpx", "runner")


def redact_message(redactor: Redactor, text: str) -> str:
    """``text`` with known secrets, credential header values and secret query values hidden."""
    return redact_query_values(redact_header_lines(redactor.text(text)))


class SecretLogFilter(logging.Filter):
    """Replaces secrets in a record's message (and exception text) with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[Any] = (), redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = Redactor() if redactor is None else redactor
        for value in secrets:
            self.redactor.add(value)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_message(self.redactor, message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_message(self.redactor, record.exc_text)
        if record.stack_info:
            record.stack_info = redact_message(self.redactor, record.stack_info)
        return True


def _watched() -> list[logging.Logger]:
    names = set(WATCHED_LOGGERS)
    for name in list(logging.Logger.manager.loggerDict):
        if name.split(".", 1)[0] in _WATCHED_ROOTS:
            names.add(name)
    return [logging.getLogger(name) for name in sorted(names)]


@contextmanager
def redacting_logs(
    secrets: Iterable[Any] = (), *, redactor: Redactor | None = None
) -> Iterator[SecretLogFilter]:
    """Install a ``SecretLogFilter`` on the watched loggers for the duration.

    Given a ``redactor`` (the run's), the filter knows every secret the run learns
    as soon as the run does.
    """
    log_filter = SecretLogFilter(secrets, redactor)
    loggers = _watched()
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield log_filter
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send log records at ``level`` and above to stderr (``RUNNER_LOG_LEVEL``; the CLI's).

    Empty ``level``: nothing is configured (Python's default shows warnings only).
    """
    if not level:
        return
    logging.basicConfig(
        level=level,
        stream=stream or sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class _LearningStore:
    """Forwards to a store, teaching the filter each token and secret capture first.

    Only ``context_changed`` is wrapped; the other methods (the hot path's and every
    capability) are the store's own bound methods, so they cost nothing extra.
    """

    def __init__(self, store: Store, log_filter: SecretLogFilter) -> None:
        self._store = store
        self._filter = log_filter
        self.start_run = store.start_run
        self.test_started = store.test_started
        self.record_result = store.record_result
        self.finish_run = store.finish_run
        self.unrecorded = store.unrecorded
        self.environment_secrets = store.environment_secrets
        self.set_environment_secret = store.set_environment_secret
        self.rotate_secret_key = store.rotate_secret_key
        self.load_credentials = store.load_credentials
        self.save_credential = store.save_credential
        self.delete_credential = store.delete_credential
        self.run_analysis = store.run_analysis
        self.list_quarantines = store.list_quarantines
        self.add_quarantine = store.add_quarantine
        self.remove_quarantine = store.remove_quarantine
        self.load_suite = store.load_suite

    @property
    def name(self) -> str:
        """The wrapped store's kind."""
        return self._store.name

    @property
    def run_id(self) -> str | None:
        """The wrapped store's run."""
        return self._store.run_id

    @property
    def quarantined(self) -> frozenset[str]:
        """The wrapped store's quarantined tests."""
        return self._store.quarantined

    @property
    def user(self) -> str | None:
        """Who the wrapped store acts as."""
        return self._store.user

    async def context_changed(
        self,
        test_id: str,
        captured: dict[str, Any],
        tokens: dict[str, str],
        variables: dict[str, Any],
        secret_keys: frozenset[str],
    ) -> None:
        for token in tokens.values():
            self._filter.redactor.add(token)
        for key in secret_keys:
            if key in captured:
                self._filter.redactor.add(captured[key])
        await self._store.context_changed(test_id, captured, tokens, variables, secret_keys)


def learning_store(store: Store, log_filter: SecretLogFilter) -> Store:
    """``store``, with the tokens and secret captures it is told added to ``log_filter``."""
    return _LearningStore(store, log_filter)
