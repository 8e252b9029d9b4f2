"""Capturing values from responses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runner.execute.capture import CaptureError, ResponseView, capture_all, find
from runner.models import CaptureSpec

BODY = {
    "access_token": "tok-1",
    "user": {"id": 7, "roles": ["admin", "dev"]},
    "items": [{"id": "a", "price": 3}, {"id": "b", "price": 5}],
    "empty": None,
}


def view(
    json: Any = BODY,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> ResponseView:
    request = httpx.Request("GET", "http://api.test/x")
    if text is not None:
        response = httpx.Response(status, text=text, headers=headers, request=request)
    else:
        response = httpx.Response(status, json=json, headers=headers, request=request)
    return ResponseView(response, 1.0)


def spec(data: Any) -> CaptureSpec:
    return CaptureSpec.model_validate(data)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.access_token", "tok-1"),
        ("$.user.id", 7),
        ("$.user.roles", ["admin", "dev"]),
        ("$.user.roles[1]", "dev"),
        ("$['user']['id']", 7),
        ("$.items[*].id", ["a", "b"]),
        ("$.items[?(@.price > 4)].id", "b"),
        ("$.empty", None),
    ],
)
def test_json_capture_one_match_is_a_value_several_a_list(path: str, expected: Any) -> None:
    """JSONPath: one match gives the value itself, several give a list."""
    assert capture_all({"v": spec(path)}, view()) == {"v": expected}


def test_plain_paths_agree_with_jsonpath_ng() -> None:
    """The fast walk of plain paths finds what jsonpath-ng finds."""
    from jsonpath_ng.ext.parser import parse

    for path in ("$.user.id", "$.items[1].price", "$['access_token']", "$.user.nope", "$.items[9]"):
        assert find(path, BODY) == [m.value for m in parse(path).find(BODY)]


def test_escapes_in_quoted_keys_are_read_as_jsonpath_ng_reads_them() -> None:
    """A backslash in a quoted key is an escape (jsonpath-ng's reading), not a literal."""
    body = {"a\\nb": "literal", "anb": "escaped", "it's": 1}
    assert find("$['a\\nb']", body) == ["escaped"]
    assert find("$['it\\'s']", body) == [1]


def test_header_cookie_status_and_regex_captures() -> None:
    """Headers and cookies by name, the status code, regex groups by number or name."""
    response = view(
        text="order #4711 placed by ann",
        status=201,
        headers={"X-Request-Id": "req-9", "Set-Cookie": "session=s3cr3t; Path=/"},
    )
    specs = {
        "rid": spec({"from": "header", "name": "x-request-id"}),
        "session": spec({"from": "cookie", "name": "session"}),
        "code": spec({"from": "status"}),
        "order": spec({"from": "regex", "pattern": r"#(\d+)"}),
        "who": spec({"from": "regex", "pattern": r"by (?P<user>\w+)", "group": "user"}),
        "whole": spec({"from": "regex", "pattern": r"order #\d+", "group": 0}),
    }
    assert capture_all(specs, response) == {
        "rid": "req-9",
        "session": "s3cr3t",
        "code": 201,
        "order": "4711",
        "who": "ann",
        "whole": "order #4711",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("$.missing", "capture v: JSONPath $.missing found nothing"),
        ({"from": "header", "name": "X-None"}, "capture v: header X-None is not in the response"),
        ({"from": "cookie", "name": "sid"}, "capture v: cookie sid is not set by the response"),
        ({"from": "regex", "pattern": "zzz"}, "capture v: regex 'zzz' found nothing"),
        (
            {"from": "regex", "pattern": "(t)ok", "group": 3},
            "capture v: regex '(t)ok' has no group 3",
        ),
    ],
)
def test_a_capture_that_finds_nothing_names_its_expression(data: Any, message: str) -> None:
    """Nothing found is a CaptureError whose message says which expression found nothing."""
    with pytest.raises(CaptureError) as info:
        capture_all({"ok": spec("$.access_token"), "v": spec(data)}, view())
    assert str(info.value).startswith(message)
    assert info.value.values == {"ok": "tok-1"}  # what was found is kept, for redaction


def test_json_capture_on_a_body_that_is_not_json() -> None:
    """A JSON capture on plain text says the body is not JSON."""
    with pytest.raises(CaptureError, match="the body is not JSON"):
        capture_all({"v": spec("$.a")}, view(text="<html>"))


def test_an_invalid_jsonpath_is_reported_as_a_capture_error() -> None:
    """A JSONPath that does not parse becomes a readable capture error."""
    with pytest.raises(CaptureError, match="invalid JSONPath"):
        capture_all({"v": spec("$.[[[")}, view())
