"""Names that say their value is a secret, and credentials recognised by shape.

A capture called ``refresh_token`` or ``session_cookie`` holds a secret whether or
not its suite says ``secret: true``; a query parameter ``?api_key=`` carries one
whatever its value is; an ``Authorization`` header seen in a client's debug log
must be hidden before its value was ever registered with a redactor. The pattern
of secret-ish names is ``RUNNER_SECRET_NAME_PATTERN`` (default below).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from runner.secrets.redact import REDACTED, SENSITIVE_HEADERS

__all__ = [
    "DEFAULT_SECRET_NAME_PATTERN",
    "capture_is_secret",
    "redact_header_lines",
    "redact_query_values",
    "secret_name",
    "secret_name_pattern",
]

DEFAULT_SECRET_NAME_PATTERN = (
    r"token|secret|passw(?:or)?d|api[_-]?key|authori[sz]ation|cookie|session"  # noqa: S105 (names, not a password)
)
"""Names (of captures, query parameters, JSON keys) whose values are secret by default.
Searched case-insensitively anywhere in the name: ``refresh_token``, ``X-Api-Key``."""


@lru_cache(maxsize=8)
def secret_name_pattern(pattern: str = DEFAULT_SECRET_NAME_PATTERN) -> re.Pattern[str]:
    """The compiled (case-insensitive) pattern of secret-ish names."""
    return re.compile(pattern, re.IGNORECASE)


_DEFAULT = re.compile(DEFAULT_SECRET_NAME_PATTERN, re.IGNORECASE)


def secret_name(name: str, pattern: str = DEFAULT_SECRET_NAME_PATTERN) -> bool:
    """True when ``name`` says its value is a secret."""
    compiled = _DEFAULT if pattern == DEFAULT_SECRET_NAME_PATTERN else secret_name_pattern(pattern)
    return compiled.search(name) is not None


def capture_is_secret(name: str, capture: Any, pattern: str = DEFAULT_SECRET_NAME_PATTERN) -> bool:
    """Whether a capture's value is secret: ``secret:`` when given, else by its name.

    A capture published as a token (``as_token``) is always secret.
    """
    if capture.as_token:
        return True
    if capture.secret is not None:
        return bool(capture.secret)
    return secret_name(name, pattern)


_QUERY_VALUE = re.compile(
    r"(?P<key>[?&;](?:[A-Za-z0-9_.\-\[\]]|%[0-9A-Fa-f]{2})*?"
    r"(?:token|secret|passw(?:or)?d|api[_-]?key|access[_-]?key|authori[sz]ation|session|cookie"
    r"|signature)"
    r"(?:[A-Za-z0-9_.\-\[\]]|%[0-9A-Fa-f]{2})*=)(?P<value>[^&#\s'\"<>)\]]+)",
    re.IGNORECASE,
)


def redact_query_values(text: str) -> str:
    """``text`` with the values of secret-ish query parameters in its URLs redacted.

    ``GET http://h/x?api_key=abc&page=2`` becomes ``...?api_key=[REDACTED]&page=2``,
    whether or not ``abc`` is a known secret (a connection error names the URL).
    """
    if "=" not in text:
        return text
    return _QUERY_VALUE.sub(_keep_key, text)


def _keep_key(match: re.Match[str]) -> str:
    value = match.group("value")
    return match.group("key") + (value if value == REDACTED else REDACTED)


_HEADER_NAMES = "|".join(
    sorted({re.escape(h) for h in SENSITIVE_HEADERS} | {"x-auth-token", "x-csrf-token"})
)
_HEADER_PAIR = re.compile(
    # a header as a Python tuple or dict item: (b'Set-Cookie', b'...') or 'authorization': '...'
    rf"(?P<name>b?(?P<q1>['\"])(?:{_HEADER_NAMES})(?P=q1)\s*[,:]\s*)"
    rf"(?P<value>b?(?P<q2>['\"])(?:\\.|(?!(?P=q2)).)*(?P=q2))"
    # or a header line: Authorization: Bearer ...
    rf"|(?P<line>(?:^|(?<=[\s,;{{(\[]))(?:{_HEADER_NAMES}):[ \t]*)(?P<rest>[^\r\n]+)",
    re.IGNORECASE | re.MULTILINE,
)


def redact_header_lines(text: str) -> str:
    """``text`` with the values of credential headers redacted, in any shape a log shows.

    httpcore logs response headers at DEBUG as ``[(b'Set-Cookie', b'sid=...')]``; an
    HTTP dump shows ``Authorization: Bearer ...``. Both are hidden by the header's
    name, before (or without) their value being known as a secret.
    """
    lowered = text.lower()
    if not any(name in lowered for name in _NAMES_LOWER):
        return text
    return _HEADER_PAIR.sub(_header_value, text)


_NAMES_LOWER = tuple(sorted(SENSITIVE_HEADERS | {"x-auth-token", "x-csrf-token"}))


def _header_value(match: re.Match[str]) -> str:
    if match.group("line") is not None:
        return match.group("line") + REDACTED
    value = match.group("value")
    prefix = "b" if value.startswith("b") else ""
    quote = match.group("q2")
    return f"{match.group('name')}{prefix}{quote}{REDACTED}{quote}"
