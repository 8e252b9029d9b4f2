"""Evaluating checks: every operator passing and failing, with readable messages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runner.execute.capture import ResponseView
from runner.execute.checks import evaluate, prepare
from runner.models import CheckResult, Checks

BODY = {
    "total": 25,
    "price": 2.5,
    "name": "Widget Pro",
    "tags": ["new", "sale"],
    "meta": {"a": 1},
    "flag": True,
    "none": None,
    "items": [{"id": 1}, {"id": 2}],
}


def run(
    checks: Any, *, status: int = 200, body: Any = BODY, elapsed: float = 10.0
) -> list[CheckResult]:
    spec = Checks.model_validate(checks)
    response = httpx.Response(
        status, json=body, headers={"Content-Type": "application/json", "X-Count": "3"}
    )
    return list(
        evaluate(prepare(spec, lambda value, field: value), ResponseView(response, elapsed))
    )


def one(path: str, op: str, value: Any) -> CheckResult:
    (result,) = run({"json": [{"path": path, "op": op, "value": value}]})
    return result


@pytest.mark.parametrize(
    ("path", "op", "value"),
    [
        ("$.total", "eq", 25),
        ("$.total", "ne", 30),
        ("$.total", "gt", 24),
        ("$.total", "gte", 25),
        ("$.price", "lt", 3),
        ("$.price", "lte", 2.5),
        ("$.name", "contains", "Pro"),
        ("$.tags", "contains", "sale"),
        ("$.meta", "contains", "a"),
        ("$.total", "in", [1, 25]),
        ("$.name", "matches", r"^Widget\s"),
        ("$.total", "exists", True),
        ("$.missing", "exists", False),
        ("$.name", "type", "string"),
        ("$.total", "type", "integer"),
        ("$.total", "type", "number"),
        ("$.price", "type", "number"),
        ("$.flag", "type", "boolean"),
        ("$.tags", "type", "array"),
        ("$.meta", "type", "object"),
        ("$.none", "type", "null"),
        ("$.tags", "length", 2),
        ("$.name", "length", 10),
        ("$.items[*].id", "eq", [1, 2]),
    ],
)
def test_every_operator_passes(path: str, op: str, value: Any) -> None:
    """Each operator passes when the response satisfies it, with no message."""
    result = one(path, op, value)
    assert result.passed, result.message
    assert result.message == ""


@pytest.mark.parametrize(
    ("path", "op", "value", "message"),
    [
        ("$.total", "eq", 30, "$.total: expected 30 (eq), got 25"),
        ("$.total", "ne", 25, "$.total: expected not 25 (ne), got 25"),
        ("$.total", "gt", 25, "$.total: expected > 25 (gt), got 25"),
        ("$.total", "gte", 26, "$.total: expected >= 26 (gte), got 25"),
        ("$.total", "lt", 25, "$.total: expected < 25 (lt), got 25"),
        ("$.total", "lte", 24, "$.total: expected <= 24 (lte), got 25"),
        ("$.name", "contains", "Max", '$.name: expected "Max" (contains), got "Widget Pro"'),
        ("$.total", "in", [1, 2], "$.total: expected [1, 2] (in), got 25"),
        ("$.name", "matches", "^Pro", '$.name: expected "^Pro" (matches), got "Widget Pro"'),
        ("$.missing", "exists", True, "$.missing: expected a match (exists), got none"),
        ("$.total", "exists", False, "$.total: expected no match (exists false), got 25"),
        ("$.total", "type", "string", "$.total: expected type string (type), got integer 25"),
        ("$.tags", "length", 3, "$.tags: expected length 3 (length), got length 2"),
        ("$.missing", "eq", 1, "$.missing: expected 1 (eq), got no match"),
        ("$.flag", "eq", 1, "$.flag: expected 1 (eq), got true"),
    ],
)
def test_every_operator_fails_with_a_message_showing_the_difference(
    path: str, op: str, value: Any, message: str
) -> None:
    """A failed check keeps expected and actual and says what differs."""
    result = one(path, op, value)
    assert not result.passed
    assert result.message == message
    assert result.expected == value or op == "exists"


@pytest.mark.parametrize(
    ("path", "op", "value", "fragment"),
    [
        ("$.name", "gt", 3, "cannot compare"),
        ("$.flag", "gt", 0, "cannot order booleans"),
        ("$.total", "contains", 2, "expected a string, array or object"),
        ("$.total", "length", 2, "of a string, array or object"),
        ("$.total", "type", "float", "unknown type"),
        ("$.name", "matches", "(", "invalid regex"),
    ],
)
def test_operators_on_unsuitable_values_fail_instead_of_raising(
    path: str, op: str, value: Any, fragment: str
) -> None:
    """An operator that cannot apply is a failed check with a reason, never an exception."""
    result = one(path, op, value)
    assert not result.passed
    assert fragment in result.message


def test_status_value_list_and_range() -> None:
    """Status may be one code, a list of codes, or an inclusive range."""
    assert run({"status": 200})[0].passed
    assert run({"status": [200, 204]})[0].passed
    assert run({"status": {"min": 200, "max": 299}})[0].passed
    failed = run({"status": 201})[0]
    assert failed.message == "status: expected 201 (eq), got 200"
    in_list = run({"status": [201, 204]}, status=500)[0]
    assert in_list.message == "status: expected [201, 204] (in), got 500"
    ranged = run({"status": {"min": 200, "max": 299}}, status=404)[0]
    assert ranged.message == 'status: expected "200..299" (range), got 404'


def test_header_checks_plain_string_and_operator() -> None:
    """A plain header value means eq; an {op, value} applies that operator."""
    results = run(
        {
            "headers": {
                "content-type": "application/json",
                "X-Count": {"op": "matches", "value": r"^\d+$"},
                "X-Missing": {"op": "exists", "value": False},
                "X-Absent": "x",
            }
        }
    )
    assert [r.passed for r in results] == [True, True, True, False]
    assert results[3].message == 'header X-Absent: expected "x" (eq), got no match'


def test_json_schema_passes_and_fails_with_paths() -> None:
    """A JSON Schema check lists where the body breaks the schema."""
    schema = {
        "type": "object",
        "required": ["total", "id"],
        "properties": {"total": {"type": "string"}},
    }
    (result,) = run({"schema": schema})
    assert not result.passed
    assert "'id' is a required property" in result.message
    assert "$.total: 25 is not of type 'string'" in result.message
    (ok,) = run({"schema": {"type": "object"}})
    assert ok.passed


def test_response_time_limit() -> None:
    """max_response_ms fails when the response took longer."""
    (slow,) = run({"max_response_ms": 50}, elapsed=80.0)
    assert not slow.passed
    assert slow.message == "response_time: expected <= 50.0 ms, got 80.0 ms"
    (fast,) = run({"max_response_ms": 50}, elapsed=20.0)
    assert fast.passed


def test_all_checks_are_evaluated_even_after_a_failure() -> None:
    """Every check gets a result; a failing one does not stop the others."""
    results = run(
        {
            "status": 201,
            "json": [
                {"path": "$.total", "value": 1},
                {"path": "$.name", "op": "exists", "value": True},
            ],
            "max_response_ms": 1000,
        }
    )
    assert [r.passed for r in results] == [False, False, True, True]


def test_a_body_that_is_not_json_fails_json_checks() -> None:
    """JSONPath checks on a non-JSON body fail with that reason (except exists: false)."""
    spec = Checks.model_validate(
        {
            "json": [
                {"path": "$.a", "value": 1},
                {"path": "$.a", "op": "exists", "value": False},
            ]
        }
    )
    response = httpx.Response(200, text="<html>")
    first, second = evaluate(prepare(spec, lambda v, f: v), ResponseView(response, 1.0))
    assert first.message == "$.a: the response body is not JSON"
    assert second.passed


def test_expected_values_are_rendered_with_their_field_names() -> None:
    """prepare() renders each expected value and names where it sits."""
    spec = Checks.model_validate(
        {
            "headers": {"X-A": "{{ a }}", "X-B": {"op": "eq", "value": "{{ b }}"}},
            "json": [{"path": "$.total", "value": "{{ c }}"}],
        }
    )
    seen: list[str] = []

    def render(value: Any, field: str) -> Any:
        seen.append(field)
        return value

    prepare(spec, render)
    assert seen == ["checks.headers.X-A", "checks.headers.X-B.value", "checks.json[0].value"]
