"""JUnit XML and JSON carry every retry attempt: number, status code, error, elapsed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from runner.models import Attempt, ErrorCategory, RunResult, RunStatus, Status, TestResult
from runner.reporting.files import junit_xml, run_json

T0 = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)


def run() -> RunResult:
    flaky = TestResult(
        test_id="pay",
        key="pay",
        name="pay",
        status=Status.PASSED,
        duration_ms=7.5,
        status_code=200,
        passed_after_retry=True,
        attempts=(
            Attempt(
                number=1,
                started_at=T0,
                duration_ms=1000.0,
                error_category=ErrorCategory.TIMEOUT,
                error="timed out after 1.0 s",
            ),
            Attempt(number=2, started_at=T0, duration_ms=12.25, status_code=503),
            Attempt(number=3, started_at=T0, duration_ms=7.5, status_code=200),
        ),
    )
    broken = TestResult(
        test_id="ship",
        key="ship",
        name="ship",
        status=Status.ERROR,
        error_category=ErrorCategory.HTTP_5XX,
        message="HTTP 502 Bad Gateway",
        status_code=502,
        attempts=(
            Attempt(number=1, started_at=T0, duration_ms=3.0, status_code=502),
            Attempt(number=2, started_at=T0, duration_ms=4.0, status_code=502),
        ),
    )
    once = TestResult(
        test_id="login",
        key="login",
        name="login",
        status=Status.PASSED,
        attempts=(Attempt(number=1, started_at=T0, duration_ms=2.0, status_code=200),),
    )
    return RunResult(
        run_id="r",
        suite="s",
        environment=None,
        status=RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        results=(once, flaky, broken),
    )


def cases() -> dict[str, ET.Element]:
    root = ET.fromstring(junit_xml(run()).split("?>", 1)[1])
    return {c.get("name") or "": c for c in root.iter("testcase")}


def props(case: ET.Element) -> dict[str, str]:
    return {p.get("name") or "": p.get("value") or "" for p in case.findall("properties/property")}


def test_junit_properties_hold_each_attempt() -> None:
    """Each attempt's status code, error and elapsed time are testcase properties."""
    assert props(cases()["pay"]) == {
        "attempts": "3",
        "passed_after_retry": "true",
        "attempt.1.error": "timeout: timed out after 1.0 s",
        "attempt.1.elapsed_ms": "1000.0",
        "attempt.2.status_code": "503",
        "attempt.2.elapsed_ms": "12.2",
        "attempt.3.status_code": "200",
        "attempt.3.elapsed_ms": "7.5",
    }
    ship = props(cases()["ship"])
    assert ship["attempts"] == "2" and ship["passed_after_retry"] == "false"
    assert ship["attempt.2.status_code"] == "502"


def test_junit_properties_come_first_and_system_out_lists_attempts() -> None:
    """Properties precede the outcome (schema order); system-out has one line per attempt."""
    ship = cases()["ship"]
    assert [child.tag for child in ship] == ["properties", "error", "system-out"]
    out = ship.find("system-out")
    assert out is not None
    assert out.text == "attempt 1: 502 in 3.0 ms\nattempt 2: 502 in 4.0 ms"


def test_junit_marks_a_pass_after_retry_as_flaky() -> None:
    """A test that passed after a retry gets a flakyError per failed attempt (Surefire style)."""
    flaky = cases()["pay"].findall("flakyError")
    assert [(f.get("type"), f.get("message")) for f in flaky] == [
        ("timeout", "attempt 1: timeout in 1000.0 ms (timed out after 1.0 s)"),
        ("", "attempt 2: 503 in 12.2 ms"),
    ]
    assert cases()["login"].findall("flakyError") == []


def test_json_attempts_and_retry_summary() -> None:
    """JSON has every attempt with its fields, and a summary of the retried tests."""
    data = json.loads(json.dumps(run_json(run())))
    pay = data["results"][1]
    assert [
        (a["number"], a["status_code"], a["error_category"], a["error"], a["duration_ms"])
        for a in pay["attempts"]
    ] == [
        (1, None, "timeout", "timed out after 1.0 s", 1000.0),
        (2, 503, None, None, 12.25),
        (3, 200, None, None, 7.5),
    ]
    assert data["retries"] == {
        "attempts": 6,
        "retried": ["pay", "ship"],
        "passed_after_retry": ["pay"],
    }
