"""Literal-credential warnings stay cheap on big JSON suites and short on many hits."""

from __future__ import annotations

import json
import logging

import pytest

from runner.suite.load import WARNED_CREDENTIALS, load_suite_text
from runner.suite.source import LazyLines


def _suite(logins: int) -> str:
    tests = [
        {
            "id": f"login_{i}",
            "request": {
                "method": "POST",
                "url": "http://api.test/login",
                "json": {"user": f"u{i}", "password": f"hunter2-{i}"},
            },
        }
        for i in range(logins)
    ]
    return json.dumps({"name": "many", "tests": tests}, indent=1)


def test_json_warnings_name_the_key_without_composing_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A JSON suite's warnings name the key path; its line map is never composed for them."""
    caplog.set_level(logging.WARNING)
    loaded = load_suite_text(_suite(2), file="many.json")
    assert isinstance(loaded.source.lines, LazyLines) and not loaded.source.lines.ready
    first = loaded.credentials[0]
    assert first.line is None and first.location == "many.json"
    assert "tests[0].request.json.password" in first.warning()
    assert "hunter2" not in caplog.text


def test_yaml_warnings_keep_their_line(caplog: pytest.LogCaptureFixture) -> None:
    """A YAML suite's lines are known at load, so its warning names file:line."""
    caplog.set_level(logging.WARNING)
    text = "name: y\ntests:\n  - id: a\n    request:\n      url: http://api.test/\n"
    text += "      headers:\n        Authorization: Bearer sk-live-123456\n"
    loaded = load_suite_text(text, file="y.yaml")
    assert [c.location for c in loaded.credentials] == ["y.yaml:7"]


def test_many_literal_credentials_are_warned_about_in_a_few_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the first few, literal credentials are counted in one line, each still redacted."""
    caplog.set_level(logging.WARNING)
    loaded = load_suite_text(_suite(WARNED_CREDENTIALS + 7), file="many.json")
    assert len(loaded.credentials) == WARNED_CREDENTIALS + 7
    lines = [r.getMessage() for r in caplog.records if "literal credential" in r.getMessage()]
    assert len(lines) == WARNED_CREDENTIALS + 1
    assert lines[-1] == "many.json: 7 more literal credentials, redacted the same way"


def test_templated_values_are_not_literal_credentials() -> None:
    """A value with a template in it is computed; a wholly literal one is flagged."""
    text = (
        "name: t\ntests:\n  - id: a\n    request:\n      url: http://api.test/\n"
        "      headers:\n"
        '        Authorization: "Bearer not-a-real-token-{{ uuid() }}"\n'
        '        X-Api-Key: "live-key-0123456789"\n'
        "      json:\n"
        '        password: "not-the-password-{{ random_string(8) }}"\n'
    )
    loaded = load_suite_text(text, file="t.yaml")
    assert [c.location for c in loaded.credentials] == ["t.yaml:8"]
