"""Checks on the edges: bad JSONPaths, in/contains on odd values, schemas that are wrong."""

from __future__ import annotations

from typing import Any

import httpx

from runner.execute.capture import ResponseView
from runner.execute.checks import compare, evaluate, prepare
from runner.models import CheckResult, Checks

BODY = {"name": "Widget Pro", "total": 25, "meta": {"a": 1}, "tags": ["x"]}


def run(checks: Any, *, body: Any = BODY, text: str | None = None) -> list[CheckResult]:
    spec = Checks.model_validate(checks)
    response = httpx.Response(200, json=body) if text is None else httpx.Response(200, text=text)
    return list(evaluate(prepare(spec, lambda value, field: value), ResponseView(response, 1.0)))


def one(path: str, op: str, value: Any) -> CheckResult:
    (result,) = run({"json": [{"path": path, "op": op, "value": value}]})
    return result


def test_an_invalid_jsonpath_fails_the_check_with_its_error() -> None:
    """A JSONPath that cannot be parsed is a failed check naming the path, not an exception."""
    result = one("$.[[", "eq", 1)
    assert not result.passed
    assert "$.[[" in result.message


def test_in_looks_in_lists_strings_and_object_keys() -> None:
    """``in`` accepts a list, a string (substring) or an object (its keys); else it fails."""
    assert one("$.name", "in", "A Widget Pro box").passed
    assert not one("$.name", "in", "Gadget").passed
    assert one("$.name", "in", {"Widget Pro": 1}).passed
    assert not one("$.total", "in", {"25": 1}).passed
    refused = one("$.total", "in", 25)
    assert not refused.passed
    assert refused.message == "$.total: expected a list to look in, not 25 (in), got 25"


def test_contains_on_a_string_needs_a_string() -> None:
    """A string cannot contain a number: a failed check that says so."""
    result = one("$.name", "contains", 5)
    assert not result.passed
    assert result.message == '$.name: a string cannot contain 5 (contains), got "Widget Pro"'
    scalar = one("$.total", "contains", 2)
    assert scalar.message.startswith("$.total: expected a string, array or object containing 2")


def test_values_json_cannot_show_are_shown_by_repr() -> None:
    """A self-referencing value (not JSON) still gets a readable failure message."""
    loop: list[Any] = []
    loop.append(loop)
    result = compare("$.x", "eq", 1, [loop])
    assert not result.passed and "[[...]]" in result.message


def test_schema_checks_on_bad_schemas_and_non_json_bodies() -> None:
    """An invalid schema and a non-JSON body both fail the schema check with a reason."""
    (invalid,) = run({"schema": {"type": "no-such-type"}})
    assert not invalid.passed and invalid.message.startswith("schema: invalid: ")
    (not_json,) = run({"schema": {"type": "object"}}, text="<html>")
    assert not_json.message == "schema: the body is not JSON"


def test_a_schema_is_compiled_once_and_reused() -> None:
    """The same schema object checks several bodies with the same verdicts each time."""
    spec = Checks.model_validate({"schema": {"type": "object", "required": ["total"]}})
    prepared = prepare(spec, lambda value, field: value)
    verdicts = []
    for body in (BODY, {"other": 1}, BODY, [1]):
        response = httpx.Response(200, json=body)
        (result,) = evaluate(prepared, ResponseView(response, 1.0))
        verdicts.append(result.passed)
    assert verdicts == [True, False, True, False]
