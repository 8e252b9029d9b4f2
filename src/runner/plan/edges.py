"""The edges of the plan: declared in ``depends_on`` and inferred from templates.

A test whose request says ``{{ captured_data.login.token }}`` waits for ``login``; one
that says ``{{ shared_auth_tokens.user }}`` waits for the tests that publish that token.
References are read by the template grammar (``runner.templating.refs``); every
problem (an unknown or disabled test, a capture nobody makes, a template that does not
parse or is certain to break a limit of ``runner.templating.limits``) is raised here
with file and line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import jinja2

from runner.errors import PlanError
from runner.models import TestSpec, ValueCheck
from runner.suite.load import LoadedSuite, PathKey, format_key
from runner.templating.limits import violation
from runner.templating.refs import state_uses

# An edge is one small int, not an object: rank of its type | _DECLARED. A 100k-test
# suite has a quarter million edges, and each object would cost time and memory.
_TYPES = ("order", "data", "token")
_RANK = {name: rank for rank, name in enumerate(_TYPES)}
_DECLARED = 4
# one read-only attribute mapping per code, shared by every edge of that code in
# Plan.pred (networkx copies them into dicts of its own when the graph is built)
EDGE_ATTRS: dict[int, Mapping[str, Any]] = {
    rank | declared: MappingProxyType({"type": name, "inferred": not declared})
    for rank, name in enumerate(_TYPES)
    for declared in (0, _DECLARED)
}


class EdgeBuilder:
    """Collects the edges into each test, keyed by file index, checking each as it comes.

    Success paths only look things up; messages are worded once something is wrong.
    """

    def __init__(self, loaded: LoadedSuite) -> None:
        self.source = loaded.source
        self.tests = loaded.suite.tests
        self.index = {test.id: i for i, test in enumerate(self.tests)}
        self.incoming: list[dict[int, int]] = [{} for _ in self.tests]
        self.publishers: dict[tuple[str, str], list[int]] = {}
        for i, test in enumerate(self.tests):
            for capture in test.captures.values():
                if capture.as_token:
                    key = ("shared_auth_tokens", capture.as_token)
                    self.publishers.setdefault(key, []).append(i)
                if capture.as_variable:
                    key = ("shared_variables", capture.as_variable)
                    self.publishers.setdefault(key, []).append(i)
        self._enabled_publishers: dict[tuple[str, str], list[int]] = {}
        # only templated defaults can add edges, so the per-test work skips the rest
        self.default_headers = tuple(
            (name, value) for name, value in loaded.suite.defaults.headers.items() if "{" in value
        )

    def scan(self) -> None:
        tests = self.tests
        for i, test in enumerate(tests):
            if not test.enabled:
                continue  # not planned, so neither are its references
            for j, dep in enumerate(test.depends_on):
                path: PathKey = ("tests", i, "depends_on", j)
                where = self.index.get(dep.test)
                if where is None or not tests[where].enabled:
                    raise self._bad_target(i, dep.test, path, "depends on")
                self._add(where, i, _RANK[dep.type] | _DECLARED)
            for path, text in _template_strings(i, test, self.default_headers):
                try:
                    uses = state_uses(text)
                    # a limit broken by constants needs a call or an operator
                    over = violation(text) if "(" in text or "*" in text else None
                except jinja2.TemplateSyntaxError as exc:
                    raise self._syntax_error(i, path, exc) from None
                if over is not None:
                    raise self.error(f"test {test.id!r}: template limit: {over}", path)
                for kind, name, attr in uses:
                    if kind == "captured_data":
                        self._infer_capture(i, name, attr, path)
                    else:
                        self._infer_shared(i, kind, name, path)

    def error(self, message: str, path: PathKey) -> PlanError:
        line = self.source.line_of(path)
        return PlanError(message, file=self.source.file, line=line, key=format_key(path))

    def unknown(self, test_id: str) -> str:
        close = difflib.get_close_matches(test_id, self.index, n=1)
        return f"unknown test {test_id!r}" + (f" (did you mean {close[0]!r}?)" if close else "")

    def _add(self, dep: int, i: int, code: int) -> None:
        incoming = self.incoming[i]
        old = incoming.get(dep)
        if old is None:
            incoming[dep] = code
        elif old != code:
            # the strongest reason to wait is the one worth showing; declared if ever declared
            incoming[dep] = max(old & 3, code & 3) | ((old | code) & _DECLARED)

    def where(self, i: int, dep: int) -> PathKey:
        """Where test ``i`` says it needs test ``dep``: declared first, else the first template."""
        test, dep_id = self.tests[i], self.tests[dep].id
        for j, declared in enumerate(test.depends_on):
            if declared.test == dep_id:
                return ("tests", i, "depends_on", j)
        for path, text in _template_strings(i, test, self.default_headers):
            for kind, name, _ in state_uses(text):
                if kind == "captured_data":
                    if name == dep_id:
                        return path
                elif dep in self.publishers.get((kind, name), ()):
                    return path
        return ("tests", i)

    def _infer_capture(self, i: int, name: str, attr: str | None, path: PathKey) -> None:
        dep = self.index.get(name)
        if dep is None or not self.tests[dep].enabled:
            used = f"captured_data.{name}" + (f".{attr}" if attr else "")
            raise self._bad_target(i, name, path, f"uses {used}, which names")
        captures = self.tests[dep].captures
        if attr is not None and attr not in captures:
            made = ", ".join(captures) or "nothing"
            raise self.error(
                f"test {self.tests[i].id!r} uses captured_data.{name}.{attr}, "
                f"but test {name!r} never captures {attr!r} (it captures: {made})",
                path,
            )
        self._add(dep, i, _RANK["data"])

    def _infer_shared(self, i: int, kind: str, name: str, path: PathKey) -> None:
        key = (kind, name)
        published = self.publishers.get(key, [])
        enabled = self._enabled_publishers.get(key)
        if enabled is None:
            enabled = [p for p in published if self.tests[p].enabled]
            self._enabled_publishers[key] = enabled
        if i in published:  # a test never waits for itself
            published = [p for p in published if p != i]
            enabled = [p for p in enabled if p != i]
        is_token = kind == "shared_auth_tokens"
        if not enabled and (published or is_token):
            raise self._no_publisher(i, key, published, path)
        # a variable may also be set outside the suite, and with several publishers
        # the intended one is a guess; only a single publisher is certain
        if is_token or len(enabled) == 1:
            for p in enabled:
                self._add(p, i, _RANK["token" if is_token else "data"])

    def _bad_target(self, i: int, dep: str, path: PathKey, verb: str) -> PlanError:
        me = self.tests[i].id
        where = self.index.get(dep)
        if where is None:
            return self.error(f"test {me!r} {verb} {self.unknown(dep)}", path)
        return self.error(
            f"test {me!r} {verb} disabled test {dep!r}{self._at(where)}; "
            "enable it or remove the dependency",
            path,
        )

    def _no_publisher(
        self, i: int, key: tuple[str, str], others: list[int], path: PathKey
    ) -> PlanError:
        me = self.tests[i].id
        kind, name = key
        option = "as_token" if kind == "shared_auth_tokens" else "as_variable"
        used = f"test {me!r} uses {kind}.{name}, but"
        if others:
            names = ", ".join(repr(self.tests[p].id) for p in others)
            message = f"{used} only disabled test(s) {names} capture it ({option}: {name})"
        else:
            itself = " other than itself" if key in self.publishers else ""
            message = f"{used} no test{itself} captures a value with {option}: {name}"
        return self.error(message, path)

    def _syntax_error(self, i: int, path: PathKey, exc: jinja2.TemplateSyntaxError) -> PlanError:
        where = f" (template line {exc.lineno})" if exc.lineno and exc.lineno > 1 else ""
        return self.error(
            f"test {self.tests[i].id!r}: template syntax error{where}: {exc.message}", path
        )

    def _at(self, index: int) -> str:
        line = self.source.line_of(("tests", index))
        return f" (line {line})" if line else ""


def _template_strings(
    i: int, test: TestSpec, default_headers: tuple[tuple[str, str], ...]
) -> list[tuple[PathKey, str]]:
    """Every string of a test rendered as a template that could hold one (has a ``{``).

    Paths are built only for those strings: most values hold no template, and this
    runs for every test of the suite.
    """
    found: list[tuple[PathKey, str]] = []
    request = test.request
    if "{" in request.url:
        found.append((("tests", i, "request", "url"), request.url))
    if request.query:
        _collect(request.query, ["tests", i, "request", "query"], found)
    for name, value in request.headers.items():
        if "{" in value:
            found.append((("tests", i, "request", "headers", name), value))
    if default_headers:
        # defaults are rendered for each test that does not set the same header itself
        own = {name.lower() for name in request.headers}
        for name, value in default_headers:
            if name.lower() not in own:
                found.append((("defaults", "headers", name), value))
    if request.json_body is not None:
        _collect(request.json_body, ["tests", i, "request", "json"], found)
    if request.form:
        _collect(request.form, ["tests", i, "request", "form"], found)
    if request.body is not None and "{" in request.body:
        found.append((("tests", i, "request", "body"), request.body))
    checks = test.checks
    for name, check in checks.headers.items():
        if isinstance(check, ValueCheck):
            _collect(check.value, ["tests", i, "checks", "headers", name, "value"], found)
        elif "{" in check:
            found.append((("tests", i, "checks", "headers", name), check))
    for j, json_check in enumerate(checks.json_checks):
        _collect(json_check.value, ["tests", i, "checks", "json", j, "value"], found)
    return found


def _collect(value: Any, path: list[str | int], found: list[tuple[PathKey, str]]) -> None:
    if isinstance(value, str):
        if "{" in value:
            found.append((tuple(path), value))
    elif isinstance(value, dict):
        for key, item in value.items():
            path.append(key)
            _collect(item, path, found)
            path.pop()
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            path.append(position)
            _collect(item, path, found)
            path.pop()
