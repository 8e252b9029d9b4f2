"""Keeps secrets out of everything a run stores or prints.

A ``Redactor`` holds the secret values of a run (environment secrets, tokens,
captures flagged ``secret``), learns new ones as tests produce them, and replaces
every occurrence with ``[REDACTED]``: of the value as typed and of every form it
takes on the way out (URL, JSON, HTML and unicode escapes, base64 inside Basic
auth or a JWT; see ``runner.secrets.forms``). The forms of a value are listed
once, when it is registered, and one Aho-Corasick pass finds all forms of all
values in a text (``runner.secrets.matcher``). Headers and JSON keys whose
*names* say they hold a credential are redacted whatever their value.

Snapshots are redacted first and truncated second, so a cut can never leave the
start of a secret behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from runner.models import Snapshot
from runner.secrets.forms import MIN_BASE64_FORM, MIN_SECRET_LENGTH, forms_of
from runner.secrets.matcher import Matcher

__all__ = [
    "MIN_BASE64_FORM",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "SENSITIVE_KEY",
    "Redactor",
    "sensitive_key",
    "truncate",
]

REDACTED = "[REDACTED]"

SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
SENSITIVE_KEY = re.compile(r"password|secret|token|api[_-]?key", re.IGNORECASE)


def sensitive_key(name: str) -> bool:
    """True when a header or JSON key name says its value is a credential."""
    return name.lower() in SENSITIVE_HEADERS or SENSITIVE_KEY.search(name) is not None


class Redactor:
    """Replaces known secret values and credential-named fields with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[Any] = ()) -> None:
        self._values: set[str] = set()
        self._matcher = Matcher()
        self._forms: frozenset[str] | None = frozenset()
        self._sensitive: dict[str, bool] = {}  # header names repeat: decide each once
        for value in secrets:
            self.add(value)

    def add(self, value: Any) -> None:
        """Learn a secret value (strings and numbers; containers are walked)."""
        if isinstance(value, Mapping):
            for item in value.values():
                self.add(item)
            return
        if isinstance(value, list | tuple):
            for item in value:
                self.add(item)
            return
        if value is None or isinstance(value, bool):
            return
        text = str(value)
        if len(text) < MIN_SECRET_LENGTH or text in self._values:
            return
        self._values.add(text)
        self._matcher.add(forms_of(text))  # O(forms); the matcher builds at the next scan
        self._forms = None

    @property
    def secrets(self) -> frozenset[str]:
        """Every string currently redacted: the values and their encoded forms."""
        forms = self._forms
        if forms is None:  # cached: the log filter asks at every record
            forms = self._forms = self._matcher.words
        return forms

    @property
    def values(self) -> frozenset[str]:
        """The secret values registered, as given (for tests and diagnostics)."""
        return frozenset(self._values)

    def text(self, text: str) -> str:
        """``text`` with every form of every known secret value replaced."""
        if not self._values:
            return text
        spans = self._matcher.spans(text)
        if not spans:
            return text  # the common case: no copy
        parts: list[str] = []
        done = 0
        for start, end in spans:
            parts.append(text[done:start])
            parts.append(REDACTED)
            done = end
        parts.append(text[done:])
        return "".join(parts)

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with secrets and credential-named keys redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: (REDACTED if isinstance(k, str) and sensitive_key(k) else self.value(v))
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers as a dict, credential headers and secret values redacted."""
        out: dict[str, str] = {}
        sensitive = self._sensitive
        for name, val in headers:
            hidden = sensitive.get(name)
            if hidden is None:
                hidden = sensitive[name] = sensitive_key(name)
            red = REDACTED if hidden else self.text(val)
            # repeated headers (Set-Cookie) are joined the way HTTP folds them
            out[name] = f"{out[name]}, {red}" if name in out else red
        return out

    def url(self, url: str) -> str:
        """A URL with secret values and credential-named query parameters redacted."""
        if "?" in url and SENSITIVE_KEY.search(url.split("?", 1)[1]):
            parts = urlsplit(url)
            pairs = []
            for pair in parts.query.split("&"):
                key, eq, _ = pair.partition("=")
                pairs.append(f"{key}={REDACTED}" if eq and SENSITIVE_KEY.search(key) else pair)
            url = parts._replace(query="&".join(pairs)).geturl()
        return self.text(url)

    def body_text(self, text: str, parsed: Any = None, *, is_json: bool = False) -> str:
        """A body as text, redacted; JSON is re-serialised only when a key needs it."""
        if is_json and SENSITIVE_KEY.search(text):
            if parsed is None:
                try:
                    parsed = json.loads(text)
                except ValueError:
                    return self.text(text)
            return json.dumps(self.value(parsed), ensure_ascii=False)
        return self.text(text)

    def snapshot(
        self,
        *,
        method: str | None = None,
        url: str | None = None,
        status_code: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        parsed_json: Any = None,
        is_json: bool = False,
        body_limit: int,
    ) -> Snapshot:
        """A redacted snapshot whose body is cut to ``body_limit`` UTF-8 bytes."""
        truncated = False
        if body is not None:
            body = self.body_text(body, parsed_json, is_json=is_json)
            body, truncated = truncate(body, body_limit)
        return Snapshot(
            method=method,
            url=self.url(url) if url is not None else None,
            status_code=status_code,
            headers=self.headers(headers),
            body=body,
            truncated=truncated,
        )


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes, and whether it was cut."""
    # a character is at most 4 bytes: short texts need no encoding at all
    if len(text) * 4 <= limit:
        return text, False
    raw = text.encode()
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode(errors="ignore"), True
