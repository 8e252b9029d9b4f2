"""Keeps a run's secrets out of log lines, including the HTTP client's own.

httpx logs every request URL at INFO (``HTTP Request: GET https://...?token=...``),
and a token in a query string would land in whatever the user's logging writes.
While a run is going, ``redacting_logs`` puts a filter on the loggers that can
see requests; it rewrites a record whose message contains a known secret. The
secrets are the environment's, plus every token and secret capture the run
produces, learned through ``learning_store`` as tests publish them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from runner.secrets.redact import Redactor
from runner.store.base import Store

WATCHED_LOGGERS = ("httpx", "httpcore", "runner", "runner.store", "runner.execute.processes")
"""Logger filters see only records of their own logger, so each one is named."""


class SecretLogFilter(logging.Filter):
    """Replaces known secret values in a record's message with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        super().__init__()
        self.redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor.secrets:
            message = record.getMessage()
            redacted = self.redactor.text(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


@contextmanager
def redacting_logs(secrets: Iterable[Any] = ()) -> Iterator[SecretLogFilter]:
    """Install a ``SecretLogFilter`` on the watched loggers for the duration."""
    log_filter = SecretLogFilter(secrets)
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield log_filter
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)


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
