"""Credentials written literally in a suite file: found at load, hidden when stored.

A suite should say ``Authorization: "Bearer {{ secrets.api_token }}"``; one that
says ``Bearer sk_live_...`` puts the credential in the file, and, unless caught,
in ``test_cases``, ``test_suites`` and ``audit_log``. ``literal_credentials``
finds such values where a credential goes: credential headers (``Authorization``,
``Cookie``, ``X-Api-Key``, ...), query parameters, URL query strings and userinfo,
and JSON/form fields with secret-ish names (``password``, ``api_key``, ...), in
tests, user logins, defaults, environment variables and service environments.
The loader warns about each one (file:line and the fix); the run registers the
values with its redactor and stores ``redacted_suite`` instead of the suite.

``resolve_secret_captures`` settles ``secret:`` of every capture that leaves it
unset, by its name (``RUNNER_SECRET_NAME_PATTERN``), so every later stage reads a
plain boolean.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from runner.models import Suite
from runner.secrets.forms import MIN_SECRET_LENGTH
from runner.secrets.names import DEFAULT_SECRET_NAME_PATTERN, capture_is_secret, secret_name
from runner.secrets.redact import REDACTED, SENSITIVE_HEADERS, Redactor
from runner.suite.source import PathKey, SourceMap, format_key

__all__ = [
    "LiteralCredential",
    "literal_credentials",
    "redacted_suite",
    "resolve_secret_captures",
]

_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_SCHEME = re.compile(r"^\s*(?:bearer|basic|token|digest|bot|apikey|api-key)\s+", re.IGNORECASE)
_NOT_SECRET_KEY = re.compile(r"_(?:type|name|url|uri|path|expires?|ttl)$", re.IGNORECASE)


@dataclass(frozen=True)
class LiteralCredential:
    """One credential written as a literal value, and where."""

    where: PathKey
    file: str | None
    line: int | None
    value: str = field(repr=False)

    @property
    def location(self) -> str:
        """``suite.yaml:12`` (or the key path for a suite built in Python)."""
        at = self.file or "<suite>"
        return f"{at}:{self.line}" if self.line else at

    def warning(self) -> str:
        """The load-time warning: where, and the fix (never the value)."""
        return (
            f"{self.location}: {format_key(self.where)} holds a literal credential; "
            "it is redacted in everything the run stores or prints, but belongs in a "
            "secret: write it as {{ secrets.<name> }} and set it with `runner secrets "
            "set` or an environment variable (docs/secrets.md)"
        )


def literal_credentials(suite: Suite, source: SourceMap) -> tuple[LiteralCredential, ...]:
    """Every literal credential of ``suite``, in file order, each location once."""
    data = suite.model_dump(mode="json", by_alias=True, exclude_none=True)
    found: dict[tuple[PathKey, str], LiteralCredential] = {}
    for where, value in _candidates(data):
        key = (where, value)
        if key not in found:
            found[key] = LiteralCredential(where, source.file, source.line_of(where), value)
    return tuple(found.values())


def redacted_suite(suite: Suite, credentials: Iterable[LiteralCredential]) -> Suite:
    """A copy of ``suite`` with every form of the literal credentials replaced; ``suite``
    itself when there are none (the copy is what the store keeps)."""
    redactor = Redactor(c.value for c in credentials)
    if not redactor.values:
        return suite
    data = _redact_strings(suite.model_dump(mode="json", by_alias=True), redactor)
    copy = Suite.model_validate(data)
    return copy.model_copy(update={"source_path": suite.source_path})


def resolve_secret_captures(suite: Suite, pattern: str = DEFAULT_SECRET_NAME_PATTERN) -> Suite:
    """``suite`` with each unset ``secret:`` of a capture decided by the capture's name."""
    tests = []
    changed = False
    for test in suite.tests:
        captures = {
            name: cap
            if cap.secret is not None
            else cap.model_copy(update={"secret": capture_is_secret(name, cap, pattern)})
            for name, cap in test.captures.items()
        }
        if any(captures[n] is not c for n, c in test.captures.items()):
            changed = True
            test = test.model_copy(update={"captures": captures})
        tests.append(test)
    return suite.model_copy(update={"tests": tuple(tests)}) if changed else suite


# ----------------------------------------------------------------- finding


def _candidates(data: dict[str, Any]) -> Iterator[tuple[PathKey, str]]:
    for key in ("base_url",):
        if isinstance(data.get(key), str):
            yield from _url((key,), data[key])
    yield from _headers(("defaults", "headers"), data.get("defaults", {}).get("headers", {}))
    for name, env in data.get("environments", {}).items():
        where: PathKey = ("environments", name)
        if isinstance(env.get("base_url"), str):
            yield from _url((*where, "base_url"), env["base_url"])
        yield from _fields((*where, "variables"), env.get("variables", {}))
    for index, service in enumerate(data.get("services", ())):
        yield from _fields(("services", index, "env"), service.get("env", {}))
        if isinstance(service.get("url"), str):
            yield from _url(("services", index, "url"), service["url"])
    for name, user in data.get("users", {}).items():
        yield from _request(("users", name, "login", "request"), user["login"]["request"])
    for index, test in enumerate(data.get("tests", ())):
        yield from _request(("tests", index, "request"), test["request"])


def _request(where: PathKey, request: dict[str, Any]) -> Iterator[tuple[PathKey, str]]:
    yield from _url((*where, "url"), request.get("url", ""))
    yield from _headers((*where, "headers"), request.get("headers", {}))
    yield from _fields((*where, "query"), request.get("query", {}))
    if "json" in request:
        yield from _fields((*where, "json"), request["json"])
    yield from _fields((*where, "form"), request.get("form") or {})
    body = request.get("body")
    if isinstance(body, str) and "=" in body and not body.lstrip().startswith(("{", "[", "<")):
        for name, value in parse_qsl(_TEMPLATE.sub("", body)):
            if _secret_key(name):
                yield from _literals((*where, "body"), value)


def _headers(where: PathKey, headers: dict[str, Any]) -> Iterator[tuple[PathKey, str]]:
    for name, value in headers.items():
        if not isinstance(value, str):
            continue
        lowered = name.lower()
        if lowered in ("cookie", "set-cookie"):
            for pair in _TEMPLATE.sub(" ", value).split(";"):
                yield from _literals((*where, name), pair.partition("=")[2])
        elif lowered in SENSITIVE_HEADERS or secret_name(name):
            literal = _SCHEME.sub("", value)
            yield from _literals((*where, name), literal)
            if _SCHEME.match(value) and value.lstrip()[:5].lower() == "basic":
                yield from _basic((*where, name), literal)


def _basic(where: PathKey, encoded: str) -> Iterator[tuple[PathKey, str]]:
    """The user:password inside a literal Basic credential, and the password alone."""
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return
    yield from _literals(where, pair)
    yield from _literals(where, pair.partition(":")[2])


def _fields(where: PathKey, value: Any) -> Iterator[tuple[PathKey, str]]:
    """Values of secret-ish keys in a JSON-like value, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _secret_key(key) and isinstance(item, str | int | float):
                if not isinstance(item, bool):
                    yield from _literals((*where, key), str(item))
            else:
                yield from _fields((*where, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _fields((*where, index), item)


def _url(where: PathKey, url: str) -> Iterator[tuple[PathKey, str]]:
    """Secret-ish query values and the password of a URL's userinfo."""
    plain = _TEMPLATE.sub("", url)
    try:
        parts = urlsplit(plain)
        password = parts.password
    except ValueError:
        return
    if password:
        yield from _literals(where, password)
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if _secret_key(name):
            yield from _literals(where, value)


def _secret_key(name: str) -> bool:
    return secret_name(name) and _NOT_SECRET_KEY.search(name) is None


def _literals(where: PathKey, value: str) -> Iterator[tuple[PathKey, str]]:
    """The parts of ``value`` written literally (outside ``{{ }}``), long enough to matter."""
    for part in _TEMPLATE.split(value):
        part = part.strip().strip("\"'")
        if len(part) >= MIN_SECRET_LENGTH and REDACTED not in part:
            yield where, part


# ----------------------------------------------------------------- hiding


def _redact_strings(value: Any, redactor: Redactor) -> Any:
    """``value`` with every string (not the keys) passed through ``redactor.text``."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, dict):
        return {k: _redact_strings(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_strings(v, redactor) for v in value]
    return value
