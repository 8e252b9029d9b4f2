"""Takes values out of a response: JSON (JSONPath), headers, cookies, status, regex.

JSONPath expressions are parsed once per run. Plain paths (``$.a.b[0]``, read by the
template grammar's ``path_keys``) are walked directly, because jsonpath-ng costs a
parse and a chain of objects per lookup; anything richer (wildcards, filters, slices)
goes to jsonpath-ng's extended parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from runner.models import CaptureSpec
from runner.templating.refs import Key, path_keys

_simple_cache: dict[str, tuple[Key, ...] | None] = {}
_parsed_cache: dict[str, Any] = {}


class JsonPathError(ValueError):
    """The JSONPath expression itself is invalid."""


class CaptureError(Exception):
    """One or more captures found nothing; becomes an ``error`` result (category capture).

    ``values`` holds the captures that did find something (their secrets still
    need redacting).
    """

    def __init__(self, message: str, values: dict[str, Any]) -> None:
        super().__init__(message)
        self.values = values


class ResponseView:
    """A response with its JSON body parsed at most once, on first use."""

    __slots__ = ("_json", "_parsed", "_text", "elapsed_ms", "response")

    def __init__(self, response: httpx.Response, elapsed_ms: float) -> None:
        self.response = response
        self.elapsed_ms = elapsed_ms
        self._parsed = False
        self._json: Any = None
        self._text: str | None = None

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    @property
    def text(self) -> str:
        """The body decoded: its declared charset, else UTF-8 (as httpx does)."""
        if self._text is None:
            content = self.response.content
            if not content:
                self._text = ""
            elif "charset" in self.response.headers.get("content-type", "").lower():
                self._text = self.response.text
            else:
                # httpx's ``text`` parses the content type with the email package each
                # time; without a charset its answer is UTF-8 anyway
                self._text = content.decode("utf-8", errors="replace")
        return self._text

    @property
    def is_json(self) -> bool:
        """True when the body parsed as JSON."""
        self.json()
        return self._json is not _NOT_JSON

    def json(self) -> Any:
        """The parsed body, or ``NOT_JSON``."""
        if not self._parsed:
            self._parsed = True
            content = self.response.content
            try:
                self._json = json.loads(content) if content else _NOT_JSON
            except ValueError:
                self._json = _NOT_JSON
        return self._json


class _NotJson:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_JSON"


_NOT_JSON: Any = _NotJson()
NOT_JSON: Any = _NOT_JSON
"""Marker for a body that is empty or not JSON."""


def _simple_steps(path: str) -> tuple[Key, ...] | None:
    try:
        return _simple_cache[path]
    except KeyError:
        steps = _simple_cache[path] = path_keys(path)
        return steps


def _parsed(path: str) -> Any:
    expr = _parsed_cache.get(path)
    if expr is None:
        # imported here: most suites only use plain paths, and the parser costs start-up
        from jsonpath_ng.ext.parser import parse

        try:
            expr = parse(path)
        except Exception as exc:  # the lexer and parser raise several unrelated types
            raise JsonPathError(f"invalid JSONPath {path!r}: {exc}") from None
        _parsed_cache[path] = expr
    return expr


def find(path: str, data: Any) -> list[Any]:
    """Every value ``path`` selects in ``data`` (empty when nothing matches)."""
    steps = _simple_steps(path)
    if steps is not None:
        current = data
        for step in steps:
            if isinstance(step, int):
                if type(current) is not list or step >= len(current):
                    break
            elif type(current) is not dict or step not in current:
                break
            current = current[step]
        else:
            return [current]
        # an unusual shape: let jsonpath-ng decide what matches, exactly as it would
    return [m.value for m in _parsed(path).find(data)]


def check_path(path: str) -> None:
    """Raise ``JsonPathError`` when ``path`` is not a valid JSONPath."""
    if _simple_steps(path) is None:
        _parsed(path)


def capture_one(spec: CaptureSpec, view: ResponseView) -> Any:
    """The value one capture takes; ``LookupError`` (with a message) when it finds nothing."""
    source = spec.source
    if source == "json":
        assert spec.path is not None
        data = view.json()
        if data is NOT_JSON:
            raise LookupError(f"JSONPath {spec.path} found nothing: the body is not JSON")
        try:
            values = find(spec.path, data)
        except JsonPathError as exc:
            raise LookupError(str(exc)) from None
        if not values:
            raise LookupError(f"JSONPath {spec.path} found nothing")
        return values[0] if len(values) == 1 else values
    if source == "header":
        assert spec.name is not None
        value = view.headers.get(spec.name)
        if value is None:
            raise LookupError(f"header {spec.name} is not in the response")
        return value
    if source == "cookie":
        assert spec.name is not None
        cookie = view.response.cookies.get(spec.name)
        if cookie is None:
            raise LookupError(f"cookie {spec.name} is not set by the response")
        return cookie
    if source == "status":
        return view.status_code
    assert spec.pattern is not None
    try:
        match = re.search(spec.pattern, view.text)
    except re.error as exc:
        raise LookupError(f"invalid regex {spec.pattern!r}: {exc}") from None
    if match is None:
        raise LookupError(f"regex {spec.pattern!r} found nothing")
    try:
        group = match.group(spec.group)
    except IndexError as exc:  # no such group number or name
        raise LookupError(f"regex {spec.pattern!r} has no group {spec.group!r}: {exc}") from None
    if group is None:
        raise LookupError(f"regex {spec.pattern!r} group {spec.group!r} did not participate")
    return group


def capture_all(specs: Mapping[str, CaptureSpec], view: ResponseView) -> dict[str, Any]:
    """Every capture of a test; ``CaptureError`` naming each expression that found nothing."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, spec in specs.items():
        try:
            values[name] = capture_one(spec, view)
        except LookupError as exc:
            problems.append(f"capture {name}: {exc}")
    if problems:
        raise CaptureError("; ".join(problems), values)
    return values
