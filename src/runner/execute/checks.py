"""Evaluates a test's checks against its response. Every check is evaluated and
reported as a ``CheckResult``; a failed check is data, never an exception.

Expected values may be templates: ``prepare`` renders them before the request is
sent (a missing name then stops the test before it touches the target), and
``evaluate`` compares them with what the response holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.execute.capture import NOT_JSON, JsonPathError, ResponseView, find
from runner.models import CheckResult, Checks, StatusRange, ValueCheck

Render = Callable[[Any, str], Any]
"""Renders a value found at a field (``checks.json[0].value``) of the test."""

JSON_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


@dataclass(slots=True)
class PreparedChecks:
    """A test's checks with expected values rendered."""

    status: int | list[int] | StatusRange | None
    headers: list[tuple[str, str, Any]]
    json: list[tuple[str, str, Any]]
    schema: dict[str, Any] | None
    max_response_ms: float | None


def prepare(checks: Checks, render: Render) -> PreparedChecks:
    """Render the expected values of ``checks`` (``TemplateError`` when one cannot be)."""
    headers: list[tuple[str, str, Any]] = []
    for name, spec in checks.headers.items():
        if isinstance(spec, ValueCheck):
            expected = render(spec.value, f"checks.headers.{name}.value")
            headers.append((name, spec.op, expected))
        else:
            headers.append((name, "eq", render(spec, f"checks.headers.{name}")))
    json_checks: list[tuple[str, str, Any]] = [
        (c.path, c.op, render(c.value, f"checks.json[{i}].value"))
        for i, c in enumerate(checks.json_checks)
    ]
    return PreparedChecks(
        checks.status, headers, json_checks, checks.json_schema, checks.max_response_ms
    )


def evaluate(prepared: PreparedChecks, view: ResponseView) -> tuple[CheckResult, ...]:
    """Every check against the response, in the order written."""
    results: list[CheckResult] = []
    if prepared.status is not None:
        results.append(_status(prepared.status, view.status_code))
    for name, op, expected in prepared.headers:
        values = [v for k, v in view.headers.multi_items() if k.lower() == name.lower()]
        results.append(compare(f"header {name}", op, expected, values))
    if prepared.json:
        body = view.json()
        for path, op, expected in prepared.json:
            results.append(_json_check(path, op, expected, body))
    if prepared.schema is not None:
        results.append(_schema(prepared.schema, view.json()))
    if prepared.max_response_ms is not None:
        limit, took = prepared.max_response_ms, round(view.elapsed_ms, 3)
        ok = took <= limit
        results.append(
            CheckResult(
                name="response_time",
                passed=ok,
                expected=limit,
                actual=took,
                message="" if ok else f"response_time: expected <= {limit} ms, got {took} ms",
            )
        )
    return tuple(results)


# ----------------------------------------------------------------------- status


def _status(spec: int | list[int] | StatusRange, actual: int) -> CheckResult:
    expected: Any
    if isinstance(spec, StatusRange):
        ok, expected, op = spec.min <= actual <= spec.max, f"{spec.min}..{spec.max}", "range"
    elif isinstance(spec, list):
        ok, expected, op = actual in spec, spec, "in"
    else:
        ok, expected, op = actual == spec, spec, "eq"
    message = "" if ok else f"status: expected {_show(expected)} ({op}), got {actual}"
    return CheckResult(name="status", passed=ok, expected=expected, actual=actual, message=message)


# ------------------------------------------------------------------------- json


def _json_check(path: str, op: str, expected: Any, body: Any) -> CheckResult:
    if body is NOT_JSON:
        ok = op == "exists" and expected is False
        message = "" if ok else f"{path}: the response body is not JSON"
        return CheckResult(name=path, passed=ok, expected=expected, message=message)
    try:
        values = find(path, body)
    except JsonPathError as exc:
        return CheckResult(name=path, passed=False, expected=expected, message=str(exc))
    return compare(path, op, expected, values)


def compare(name: str, op: str, expected: Any, values: list[Any]) -> CheckResult:
    """Check the values a path selected (one value, several, or none) with ``op``."""
    if op == "exists":
        want = expected is not False  # ``exists`` alone means "exists: true"
        found = bool(values)
        actual: Any = values[0] if len(values) == 1 else values if values else None
        ok = found == want
        message = ""
        if not ok:
            message = (
                f"{name}: expected a match (exists), got none"
                if want
                else f"{name}: expected no match (exists false), got {_show(actual)}"
            )
        return CheckResult(name=name, passed=ok, expected=want, actual=actual, message=message)
    if not values:
        return CheckResult(
            name=name,
            passed=False,
            expected=expected,
            message=f"{name}: expected {_show(expected)} ({op}), got no match",
        )
    actual = values[0] if len(values) == 1 else values
    try:
        ok, got = _OPS[op](actual, expected)
    except _Mismatch as exc:
        return CheckResult(
            name=name,
            passed=False,
            expected=expected,
            actual=actual,
            message=f"{name}: {exc} ({op}), got {_show(actual)}",
        )
    message = "" if ok else f"{name}: expected {_describe(op, expected)} ({op}), got {got}"
    return CheckResult(name=name, passed=ok, expected=expected, actual=actual, message=message)


class _Mismatch(Exception):
    """The operator cannot apply to these values (e.g. ``gt`` on a string and a list)."""


def _same(a: Any, b: Any) -> bool:
    # JSON ``true`` is not ``1``, though Python says so
    if isinstance(a, bool) is not isinstance(b, bool):
        return False
    return bool(a == b)


def _eq(actual: Any, expected: Any) -> tuple[bool, str]:
    return _same(actual, expected), _show(actual)


def _ne(actual: Any, expected: Any) -> tuple[bool, str]:
    return not _same(actual, expected), _show(actual)


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], tuple[bool, str]]:
    def apply(actual: Any, expected: Any) -> tuple[bool, str]:
        if isinstance(actual, bool) or isinstance(expected, bool):
            raise _Mismatch(f"cannot order booleans: expected {_show(expected)}")
        try:
            return test(actual, expected), _show(actual)
        except TypeError:
            raise _Mismatch(f"cannot compare with {_show(expected)}") from None

    return apply


def _contains(actual: Any, expected: Any) -> tuple[bool, str]:
    if isinstance(actual, str):
        if not isinstance(expected, str):
            raise _Mismatch(f"a string cannot contain {_show(expected)}")
        return expected in actual, _show(actual)
    if isinstance(actual, list):
        return any(_same(item, expected) for item in actual), _show(actual)
    if isinstance(actual, dict):
        return expected in actual, _show(actual)
    raise _Mismatch(f"expected a string, array or object containing {_show(expected)}")


def _in(actual: Any, expected: Any) -> tuple[bool, str]:
    if isinstance(expected, list | tuple):
        return any(_same(actual, item) for item in expected), _show(actual)
    if isinstance(expected, str) and isinstance(actual, str):
        return actual in expected, _show(actual)
    if isinstance(expected, dict):
        return actual in expected, _show(actual)
    raise _Mismatch(f"expected a list to look in, not {_show(expected)}")


def _matches(actual: Any, expected: Any) -> tuple[bool, str]:
    text = actual if isinstance(actual, str) else json.dumps(actual, default=str)
    try:
        return re.search(str(expected), text) is not None, _show(actual)
    except re.error as exc:
        raise _Mismatch(f"invalid regex {expected!r}: {exc}") from None


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _type(actual: Any, expected: Any) -> tuple[bool, str]:
    if expected not in JSON_TYPES:
        raise _Mismatch(f"unknown type {expected!r} (use one of {', '.join(JSON_TYPES)})")
    kind = json_type(actual)
    # as in JSON Schema: every integer is a number, and 2.0 is an integer
    ok = (
        kind == expected
        or (expected == "number" and kind == "integer")
        or (expected == "integer" and kind == "number" and float(actual).is_integer())
    )
    return ok, f"{kind} {_show(actual)}"


def _length(actual: Any, expected: Any) -> tuple[bool, str]:
    if not isinstance(actual, str | list | dict):
        raise _Mismatch(f"expected length {_show(expected)} of a string, array or object")
    return _same(len(actual), expected), f"length {len(actual)}"


_OPS: dict[str, Callable[[Any, Any], tuple[bool, str]]] = {
    "eq": _eq,
    "ne": _ne,
    "gt": _ordered(lambda a, e: a > e),
    "gte": _ordered(lambda a, e: a >= e),
    "lt": _ordered(lambda a, e: a < e),
    "lte": _ordered(lambda a, e: a <= e),
    "contains": _contains,
    "in": _in,
    "matches": _matches,
    "type": _type,
    "length": _length,
}


_SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _describe(op: str, expected: Any) -> str:
    if op == "ne":
        return f"not {_show(expected)}"
    if op in _SYMBOLS:
        return f"{_SYMBOLS[op]} {_show(expected)}"
    if op == "length":
        return f"length {_show(expected)}"
    if op == "type":
        return f"type {expected}"
    return _show(expected)


def _show(value: Any, limit: int = 200) -> str:
    """A value as JSON text, shortened for messages."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


# ----------------------------------------------------------------------- schema

_validators: dict[int, tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any]) -> Any:
    # keyed by identity: the suite's schema objects live as long as the run
    hit = _validators.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    from jsonschema import validators  # imported lazily: most suites have no schema check

    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    _validators[id(schema)] = (schema, validator)
    return validator


def _schema(schema: dict[str, Any], body: Any) -> CheckResult:
    if body is NOT_JSON:
        return CheckResult(name="schema", passed=False, message="schema: the body is not JSON")
    from jsonschema.exceptions import SchemaError

    try:
        validator = _validator(schema)
    except SchemaError as exc:
        return CheckResult(name="schema", passed=False, message=f"schema: invalid: {exc.message}")
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return CheckResult(name="schema", passed=True)
    shown = [f"{_where(list(e.absolute_path))}: {e.message}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return CheckResult(
        name="schema",
        passed=False,
        actual=len(errors),
        message="schema: " + "; ".join(shown) + more,
    )


def _where(path: list[Any]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
