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
    """``3 passed, 1 failed, 0 errors, 2 skipped, 6 total``."""
    c = run.counts
    return (
        f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped, {c['total']} total"
    )


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
            lines.append(f"  {r.status.value.upper()} {r.key} [{category}]: {r.message}")
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
            table.add_row(r.key, f"{r.status.value} ({category})", r.message)
        console.print(table)
    style = "green" if run.ok else "red"
    console.print(counts_line(run), style=style, markup=False, highlight=False)


# ------------------------------------------------------------------------ JSON


def run_json(run: RunResult) -> dict[str, Any]:
    """The run as JSON data: every result with its checks, attempts and snapshots."""
    data = run.model_dump(mode="json")
    data["counts"] = run.counts
    return data


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
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(_attempt_line(a) for a in r.attempts)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


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
