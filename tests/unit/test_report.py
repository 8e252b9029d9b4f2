"""Reports: the end-of-run summary, JUnit XML and JSON."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.cli.progress import Progress, result_line
from runner.execute.engine import RunEvent
from runner.models import (
    Attempt,
    CheckResult,
    ErrorCategory,
    RunResult,
    RunStatus,
    Status,
    TestResult,
)
from runner.reporting.files import junit_xml, print_summary, summary_text, write_json, write_junit

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def result(key: str, status: Status, ms: float | None = None, **more: object) -> TestResult:
    return TestResult.model_validate(
        {
            "test_id": key.split("[")[0],
            "key": key,
            "name": key,
            "status": status,
            "started_at": T0 if ms is not None else None,
            "finished_at": T0 + timedelta(milliseconds=ms) if ms is not None else None,
            "duration_ms": ms,
            **more,
        }
    )


def sample() -> RunResult:
    attempt = {"started_at": T0, "duration_ms": 3.0}
    return RunResult(
        run_id="run-9",
        suite="shop",
        environment="staging",
        status=RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        results=(
            result("login", Status.PASSED, 120.0, status_code=200),
            result(
                "cart",
                Status.FAILED,
                40.0,
                error_category=ErrorCategory.ASSERTION,
                message="$.total: expected 30 (eq), got 25",
                checks=[
                    CheckResult(name="status", passed=True, expected=200, actual=200),
                    CheckResult(
                        name="$.total",
                        passed=False,
                        expected=30,
                        actual=25,
                        message="$.total: expected 30 (eq), got 25",
                    ),
                ],
            ),
            result(
                "pay",
                Status.ERROR,
                5.0,
                error_category=ErrorCategory.CONNECTION,
                message="connection error: refused",
                attempts=[
                    Attempt(number=1, error_category=ErrorCategory.CONNECTION, **attempt),
                    Attempt(number=2, status_code=503, **attempt),
                ],
            ),
            result(
                "ship",
                Status.SKIPPED,
                error_category=ErrorCategory.BLOCKED,
                message="blocked by pay",
            ),
            result("row[0]", Status.PASSED, 1.0, row_index=0),
            result("row[1]", Status.PASSED, 2.0, row_index=1),
            result("row[2]", Status.PASSED, 3.0, row_index=2),
        ),
    )


def test_summary_text_has_counts_slowest_and_failures() -> None:
    """Plain summary: heading, top 5 slowest, each failure with its message, the counts line."""
    text = summary_text(sample())
    lines = text.strip().splitlines()
    assert lines[0] == "suite shop, environment staging, run run-9, failed in 2.00 s"
    slowest = lines[lines.index("slowest:") + 1 : lines.index("slowest:") + 6]
    assert [line.split()[0] for line in slowest] == ["login", "cart", "pay", "row[2]", "row[1]"]
    assert "  FAILED cart [assertion]: $.total: expected 30 (eq), got 25" in lines
    assert "  ERROR pay [connection]: connection error: refused" in lines
    assert "skipped: 1 blocked" in lines
    assert lines[-1] == "4 passed, 1 failed, 1 errors, 1 skipped, 7 total"


def test_summary_on_a_terminal_uses_tables() -> None:
    """On a TTY the summary is drawn with rich tables but says the same things."""
    out = io.StringIO()
    print_summary(sample(), out, tty=True)
    text = out.getvalue()
    assert "slowest tests" in text and "failures" in text
    assert "$.total: expected 30 (eq), got 25" in text
    assert "4 passed, 1 failed, 1 errors, 1 skipped, 7 total" in text


def test_junit_xml_failure_error_skipped_attempts_and_time(tmp_path: Path) -> None:
    """JUnit: one testcase per result; failure vs error vs skipped; attempts in system-out."""
    path = tmp_path / "junit.xml"
    write_junit(sample(), path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "1", "1")
    assert suite.get("skipped") == "1" and suite.get("time") == "2.000"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["login", "cart", "pay", "ship", "row[0]", "row[1]", "row[2]"]
    assert cases["login"].get("time") == "0.120" and len(cases["login"]) == 0
    failure = cases["cart"].find("failure")
    assert failure is not None and failure.get("type") == "assertion"
    assert failure.text == "$.total: expected 30 (eq), got 25"
    error = cases["pay"].find("error")
    assert error is not None and error.get("type") == "connection"
    out = cases["pay"].find("system-out")
    assert out is not None and out.text == (
        "attempt 1: connection in 3.0 ms\nattempt 2: 503 in 3.0 ms"
    )
    skipped = cases["ship"].find("skipped")
    assert skipped is not None and skipped.get("message") == "blocked by pay"
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props == {"run_id": "run-9", "environment": "staging", "status": "failed"}


def test_junit_xml_escapes_markup_in_messages() -> None:
    """Messages with <, & and quotes stay well-formed XML."""
    run = sample().model_copy(
        update={"results": (result("x", Status.FAILED, 1.0, message='got "<b>&amp;</b>"'),)}
    )
    root = ET.fromstring(junit_xml(run).split("?>", 1)[1])
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == 'got "<b>&amp;</b>"'


def test_json_report_holds_the_whole_run(tmp_path: Path) -> None:
    """JSON: the RunResult with counts, every result, its checks and attempts."""
    path = tmp_path / "run.json"
    write_json(sample(), path)
    data = json.loads(path.read_text())
    assert data["counts"] == {"passed": 4, "failed": 1, "error": 1, "skipped": 1, "total": 7}
    assert data["status"] == "failed" and data["run_id"] == "run-9"
    cart = data["results"][1]
    assert cart["checks"][1] == {
        "name": "$.total",
        "passed": False,
        "expected": 30,
        "actual": 25,
        "message": "$.total: expected 30 (eq), got 25",
    }
    pay = data["results"][2]
    assert [a["number"] for a in pay["attempts"]] == [1, 2]
    assert data["retries"] == {"attempts": 2, "retried": ["pay"], "passed_after_retry": []}
    del data["counts"], data["retries"]
    assert RunResult.model_validate(data) == sample()  # nothing is lost on the way


def test_plain_progress_prints_one_line_per_finished_test() -> None:
    """Without a TTY, each finished test is one line: status, key, time or reason."""
    out = io.StringIO()
    with Progress(out, tty=False) as progress:
        progress(RunEvent("run_started", total=2))
        for r in sample().results[:4]:
            progress(RunEvent("test_started", key=r.key))
            progress(RunEvent("test_finished", key=r.key, result=r))
    assert out.getvalue().splitlines() == [
        "PASS  login (120 ms)",
        "FAIL  cart (40 ms) [assertion] $.total: expected 30 (eq), got 25",
        "ERROR pay (5 ms) [connection] connection error: refused",
        "SKIP  ship [blocked] blocked by pay",
    ]
    assert result_line(sample().results[0]) == "PASS  login (120 ms)"


def test_live_progress_on_a_terminal_counts_results() -> None:
    """On a TTY a rich progress bar runs and failures are printed above it."""
    out = io.StringIO()
    with Progress(out, tty=True) as progress:
        progress(RunEvent("run_started", total=7))
        for r in sample().results:
            progress(RunEvent("test_finished", key=r.key, result=r))
    text = out.getvalue()
    assert "7/7" in text
    assert "FAIL  cart" in text and "PASS  login" not in text
