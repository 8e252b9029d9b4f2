"""Reports of a finished run: the summary printed at the end, JUnit XML, JSON.

The plain summary ends with ``<n> passed, <n> failed, ...`` alone on a line, the
form CI scripts and the peer benchmark look for.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, TextIO

from runner.models import RunResult, Status, TestResult

SLOWEST = 5


def counts_line(run: RunResult) -> str:
    """``3 passed, 1 failed, 0 errors, 2 skipped, 6 total`` (``, 1 quarantined`` if any).

    The quarantined count is of failed or errored results of quarantined tests,
    which are in the failed/errors counts but do not fail the run.
    """
    c = run.counts
    line = (
        f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped, {c['total']} total"
    )
    quarantined = len(run.quarantined_failures)
    return f"{line}, {quarantined} quarantined" if quarantined else line


def slowest(run: RunResult, n: int = SLOWEST) -> list[TestResult]:
    """The ``n`` results with the longest response time."""
    timed = [r for r in run.results if r.duration_ms is not None]
    return sorted(timed, key=lambda r: r.duration_ms or 0.0, reverse=True)[:n]


def problems(run: RunResult) -> list[TestResult]:
    """Failed and errored results, in run order."""
    return [r for r in run.results if r.status in (Status.FAILED, Status.ERROR)]


def _seconds(run: RunResult) -> float:
    return (run.finished_at - run.started_at).total_seconds()


def _heading(run: RunResult) -> str:
    parts = [f"suite {run.suite}"]
    if run.environment:
        parts.append(f"environment {run.environment}")
    if run.run_id:
        parts.append(f"run {run.run_id}")
    parts.append(f"{run.status.value} in {_seconds(run):.2f} s")
    return ", ".join(parts)


def summary_text(run: RunResult) -> str:
    """The summary as plain text."""
    lines = ["", _heading(run)]
    top = slowest(run)
    if top:
        lines.append("slowest:")
        width = max(len(r.key) for r in top)
        lines += [f"  {r.key:<{width}}  {r.duration_ms:9.1f} ms" for r in top]
    failed = problems(run)
    if failed:
        lines.append("failures:")
        for r in failed:
            category = r.error_category.value if r.error_category else r.status.value
            mark = " (quarantined)" if r.test_id in run.quarantined else ""
            lines.append(f"  {r.status.value.upper()} {r.key}{mark} [{category}]: {r.message}")
    skipped: dict[str, int] = {}
    for r in run.results:
        if r.status is Status.SKIPPED:
            reason = r.error_category.value if r.error_category else r.message or "skipped"
            skipped[reason] = skipped.get(reason, 0) + 1
    if skipped:
        lines.append("skipped: " + ", ".join(f"{n} {why}" for why, n in skipped.items()))
    lines.append(counts_line(run))
    return "\n".join(lines) + "\n"


def print_summary(run: RunResult, stream: TextIO, *, tty: bool = False) -> None:
    """Print the summary: rich tables on a terminal, plain text otherwise."""
    if not tty:
        stream.write(summary_text(run))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream)
    console.print()
    console.print(_heading(run), style="bold", markup=False, highlight=False)
    top = slowest(run)
    if top:
        table = Table(title="slowest tests", title_justify="left")
        table.add_column("test")
        table.add_column("ms", justify="right")
        for r in top:
            table.add_row(r.key, f"{r.duration_ms:.1f}")
        console.print(table)
    failed = problems(run)
    if failed:
        table = Table(title="failures", title_justify="left", show_lines=True)
        table.add_column("test")
        table.add_column("status")
        table.add_column("message", overflow="fold")
        for r in failed:
            category = r.error_category.value if r.error_category else ""
            mark = " quarantined" if r.test_id in run.quarantined else ""
            table.add_row(r.key, f"{r.status.value} ({category}){mark}", r.message)
        console.print(table)
    style = "green" if run.ok else "red"
    console.print(counts_line(run), style=style, markup=False, highlight=False)


# ------------------------------------------------------------------------ JSON


def run_json(run: RunResult) -> dict[str, Any]:
    """The run as JSON data: every result with its checks, attempts and snapshots.

    Each result's ``attempts`` lists every try: ``number``, ``status_code``,
    ``error_category``, ``error``, ``started_at`` and ``duration_ms`` (elapsed).
    ``counts`` and ``retries`` are added on top; without them the data validates
    back into the same ``RunResult``.
    """
    data = run.model_dump(mode="json")
    data["counts"] = run.counts
    data["retries"] = retry_summary(run)
    return data


def retry_summary(run: RunResult) -> dict[str, Any]:
    """Which results needed more than one attempt, and how many attempts in all."""
    retried = [r for r in run.results if len(r.attempts) > 1]
    return {
        "attempts": sum(len(r.attempts) for r in run.results),
        "retried": [r.key for r in retried],
        "passed_after_retry": [r.key for r in run.results if r.passed_after_retry],
    }


def write_json(run: RunResult, path: str | Path) -> None:
    """Write ``run_json`` to ``path``."""
    text = json.dumps(run_json(run), indent=2, ensure_ascii=False, default=str)
    Path(path).write_text(text + "\n", encoding="utf-8")


# ----------------------------------------------------------------------- JUnit


def _case_seconds(r: TestResult) -> float:
    if r.started_at is not None and r.finished_at is not None:
        return (r.finished_at - r.started_at).total_seconds()
    return (r.duration_ms or 0.0) / 1000


def junit_xml(run: RunResult) -> str:
    """The run as JUnit XML: one testsuite, one testcase per result."""
    c = run.counts
    attrs = {
        "name": run.suite,
        "tests": str(c["total"]),
        "failures": str(c["failed"]),
        "errors": str(c["error"]),
        "skipped": str(c["skipped"]),
        "time": f"{_seconds(run):.3f}",
    }
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", {**attrs, "timestamp": run.started_at.isoformat()})
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", run.run_id),
        ("environment", run.environment),
        ("status", run.status.value),
    ):
        if value:
            ET.SubElement(props, "property", {"name": name, "value": value})
    for r in run.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": run.suite, "name": r.key, "time": f"{_case_seconds(r):.3f}"},
        )
        category = r.error_category.value if r.error_category else ""
        if r.status is Status.FAILED:
            failure = ET.SubElement(case, "failure", {"message": r.message, "type": category})
            failure.text = "\n".join(ch.message for ch in r.checks if not ch.passed) or r.message
        elif r.status is Status.ERROR:
            error = ET.SubElement(case, "error", {"message": r.message, "type": category})
            error.text = r.message
        elif r.status is Status.SKIPPED:
            ET.SubElement(case, "skipped", {"message": r.message, "type": category})
        if r.attempts:
            _attempts_xml(case, r)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _attempts_xml(case: ET.Element, r: TestResult) -> None:
    """Every attempt as testcase properties, and as lines in system-out.

    Properties ``attempt.<n>.status_code``, ``.error`` (category: text) and
    ``.elapsed_ms``, plus ``attempts`` and ``passed_after_retry``. A result that
    passed after a retry also gets a Surefire-style ``flakyError`` per failed
    attempt, which Jenkins shows as a flaky test.
    """
    # properties come first in a testcase (the JUnit schema's order)
    props = ET.Element("properties")
    case.insert(0, props)
    ET.SubElement(props, "property", {"name": "attempts", "value": str(len(r.attempts))})
    ET.SubElement(
        props,
        "property",
        {"name": "passed_after_retry", "value": "true" if r.passed_after_retry else "false"},
    )
    for a in r.attempts:
        prefix = f"attempt.{a.number}"
        if a.status_code is not None:
            ET.SubElement(
                props, "property", {"name": f"{prefix}.status_code", "value": str(a.status_code)}
            )
        if a.error or a.error_category:
            ET.SubElement(props, "property", {"name": f"{prefix}.error", "value": _error(a)})
        ET.SubElement(
            props, "property", {"name": f"{prefix}.elapsed_ms", "value": f"{a.duration_ms:.1f}"}
        )
    if r.passed_after_retry:
        for a in r.attempts[:-1]:
            ET.SubElement(
                case,
                "flakyError",
                {
                    "message": _attempt_line(a),
                    "type": a.error_category.value if a.error_category else "",
                },
            )
    out = ET.SubElement(case, "system-out")
    out.text = "\n".join(_attempt_line(a) for a in r.attempts)


def _error(attempt: Any) -> str:
    category = attempt.error_category.value if attempt.error_category else ""
    text = attempt.error or ""
    return f"{category}: {text}" if category and text else category or text


def _attempt_line(attempt: Any) -> str:
    outcome = (
        str(attempt.status_code)
        if attempt.status_code is not None
        else f"{attempt.error_category.value if attempt.error_category else 'error'}"
    )
    line = f"attempt {attempt.number}: {outcome} in {attempt.duration_ms:.1f} ms"
    if attempt.error:
        line += f" ({attempt.error})"
    return line


def write_junit(run: RunResult, path: str | Path) -> None:
    """Write ``junit_xml`` to ``path``."""
    Path(path).write_text(junit_xml(run), encoding="utf-8")
