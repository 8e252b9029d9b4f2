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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from runner.models import RequestSpec, Suite, TestSpec
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
    found: dict[tuple[PathKey, str], LiteralCredential] = {}
    for where, value in _candidates(suite):
        key = (where, value)
        if key not in found:
            found[key] = LiteralCredential(where, source.file, source.known_line_of(where), value)
    return tuple(found.values())


def redacted_suite(suite: Suite, credentials: Iterable[LiteralCredential]) -> Suite:
    """A copy of ``suite`` with every form of the literal credentials replaced; ``suite``
    itself when there are none (the copy is what the store keeps).

    Only the tests (and suite-level parts) that hold a credential are rebuilt: each
    test is dumped to JSON (fast) and scanned once, so a large suite pays microseconds.
    """
    redactor = Redactor(c.value for c in credentials)
    if not redactor.values:
        return suite
    tests = []
    for test in suite.tests:
        text = test.model_dump_json(by_alias=True)
        if redactor.text(text) is text:  # no form of any credential in it
            tests.append(test)
            continue
        data = _redact_strings(test.model_dump(mode="json", by_alias=True), redactor)
        tests.append(TestSpec.model_validate(data))
    update: dict[str, Any] = {"tests": tuple(tests)}
    rest = suite.model_dump(mode="json", by_alias=True, exclude={"tests"})
    hidden = _redact_strings(rest, redactor)
    if hidden != rest:  # defaults, environments, users, services: rebuilt together
        first = suite.tests[0].model_dump(mode="json", by_alias=True)
        shell = Suite.model_validate({**hidden, "tests": [first]})
        kept = ("tests", "source_path")
        update |= {name: getattr(shell, name) for name in Suite.model_fields if name not in kept}
    return suite.model_copy(update=update)


def resolve_secret_captures(suite: Suite, pattern: str = DEFAULT_SECRET_NAME_PATTERN) -> Suite:
    """``suite`` with ``secret:`` set on each capture that leaves it unset and whose name
    the configured ``pattern`` judges unlike the default one (which every stage applies
    to an unset ``secret:``); ``suite`` itself with the default pattern."""
    if pattern == DEFAULT_SECRET_NAME_PATTERN:
        return suite
    tests = []
    changed = False
    for test in suite.tests:
        captures = dict(test.captures)
        for name, cap in test.captures.items():
            secret = capture_is_secret(name, cap, pattern)
            if cap.secret is None and secret != capture_is_secret(name, cap):
                captures[name] = cap.model_copy(update={"secret": secret})
        if captures != test.captures:
            changed = True
            test = test.model_copy(update={"captures": captures})
        tests.append(test)
    return suite.model_copy(update={"tests": tuple(tests)}) if changed else suite


# ----------------------------------------------------------------- finding


def _candidates(suite: Suite) -> Iterator[tuple[PathKey, str]]:
    # the models are read directly (no dump): this runs at every load, on every test
    if suite.base_url:
        yield from _url(("base_url",), suite.base_url)
    yield from _headers(("defaults", "headers"), suite.defaults.headers)
    for name, env in suite.environments.items():
        if env.base_url:
            yield from _url(("environments", name, "base_url"), env.base_url)
        yield from _fields(("environments", name, "variables"), env.variables)
    for index, service in enumerate(suite.services):
        yield from _fields(("services", index, "env"), service.env)
        if service.url:
            yield from _url(("services", index, "url"), service.url)
    for name, user in suite.users.items():
        yield from _request(("users", name, "login", "request"), user.login.request)
    for index, test in enumerate(suite.tests):
        yield from _request(("tests", index, "request"), test.request)


def _request(where: PathKey, request: RequestSpec) -> Iterator[tuple[PathKey, str]]:
    if "?" in request.url or "@" in request.url:
        yield from _url((*where, "url"), request.url)
    if request.headers:
        yield from _headers((*where, "headers"), request.headers)
    if request.query:
        yield from _fields((*where, "query"), request.query)
    if isinstance(request.json_body, dict | list):
        yield from _fields((*where, "json"), request.json_body)
    if request.form:
        yield from _fields((*where, "form"), request.form)
    body = request.body
    if body and "=" in body and not body.lstrip().startswith(("{", "[", "<")):
        for name, value in parse_qsl(_TEMPLATE.sub("", body)):
            if _secret_key(name):
                yield from _literals((*where, "body"), value)


_PURE_TEMPLATE = re.compile(r"\s*(?:[A-Za-z-]+\s+)?\{\{[^{}]*\}\}\s*")
"""``{{ x }}`` or ``Bearer {{ x }}``: nothing written literally (the common case)."""


@lru_cache(maxsize=256)
def _header_kind(name: str) -> str | None:
    lowered = name.lower()
    if lowered in ("cookie", "set-cookie"):
        return "cookie"
    if lowered in SENSITIVE_HEADERS or secret_name(name):
        return "credential"
    return None


def _headers(where: PathKey, headers: Mapping[str, Any]) -> Iterator[tuple[PathKey, str]]:
    for name, value in headers.items():
        if not isinstance(value, str) or _PURE_TEMPLATE.fullmatch(value):
            continue
        kind = _header_kind(name)
        if kind == "cookie":
            for pair in _TEMPLATE.sub(" ", value).split(";"):
                yield from _literals((*where, name), pair.partition("=")[2])
        elif kind == "credential":
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
    """``value`` when it is written literally and long enough to matter.

    A value with a template in it is computed (``not-the-password-{{ random_string(8) }}``,
    ``Bearer {{ token }}``): its literal text is a marker or a prefix, not a credential.
    """
    if _TEMPLATE.search(value):
        return
    part = value.strip().strip("\"'")
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
