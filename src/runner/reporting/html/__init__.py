"""Reports of a run: a self-contained HTML page and a Markdown summary.

``report RUN_ID`` builds them from a stored run (``runner.reporting.html.stored``);
``run-suite --html/--markdown`` from the in-memory result (``write_run_reports``).
An organisation's own template (``report_templates``) renders in a sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.reporting.html.model import ReportData, report_context
from runner.reporting.html.render import (
    Kind,
    ReportError,
    render_builtin,
    render_partial,
    render_stored,
)

if TYPE_CHECKING:
    from runner.models import RunResult
    from runner.reporting.analytics import RunAnalysis
    from runner.suite.load import LoadedSuite

__all__ = [
    "Kind",
    "ReportData",
    "ReportError",
    "render_report",
    "suite_edges",
    "write_run_reports",
]


def _context(data: ReportData) -> dict[str, Any]:
    context = report_context(data)
    # pre-drawn SVG for stored templates, which cannot include the built-in files
    context["graph_svg"] = render_partial("graph.svg.j2", context)
    context["chart_svg"] = render_partial("bars.svg.j2", context)
    return context


def render_report(data: ReportData, kind: Kind, *, template: tuple[str, str] | None = None) -> str:
    """The report as text: built-in, or ``template`` = (name, source) rendered sandboxed."""
    context = _context(data)
    if template is None:
        return render_builtin(kind, context)
    name, source = template
    return render_stored(name, kind, source, context)


def suite_edges(loaded: LoadedSuite) -> tuple[tuple[str, str, str], ...]:
    """The dependency edges of a loaded suite, explicit and inferred: (dep, test, type)."""
    from runner.plan.graph import build_plan

    graph = build_plan(loaded).graph
    return tuple(
        (str(dep), str(test), str(data.get("type", "order")))
        for dep, test, data in graph.edges(data=True)
    )


def write_text(path: str | Path, text: str) -> None:
    """Write a report file; a path that cannot be written is one clear line."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_run_reports(
    result: RunResult,
    *,
    loaded: LoadedSuite | None = None,
    html: str | Path | None = None,
    markdown: str | Path | None = None,
    analysis: RunAnalysis | None = None,
) -> None:
    """``run-suite --html/--markdown``: reports of the in-memory result.

    ``analysis`` is what the database found when the run finished (regressions,
    flaky tests); None for a run that was not stored.
    """
    if not html and not markdown:
        return
    edges = suite_edges(loaded) if loaded is not None else ()
    from runner.reporting.analytics.model import RunAnalysis

    view = (
        analysis.in_environment(result.environment)
        if analysis is not None
        else RunAnalysis.unavailable(result.run_id or "")
    )
    data = ReportData(run=result, edges=edges, analysis=view)
    if html:
        write_text(html, render_report(data, "html"))
    if markdown:
        write_text(markdown, render_report(data, "markdown"))
