"""The HTML report and Markdown summary built from a run in memory."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from runner.models import (
    Attempt,
    CheckResult,
    ErrorCategory,
    RunResult,
    RunStatus,
    Snapshot,
    Status,
    TestResult,
)
from runner.reporting.html import ReportData, render_report
from runner.reporting.html.charts import bar_chart
from runner.reporting.html.graph import STATUS_COLOURS, layout, statuses_by_test
from runner.reporting.html.render import markdown_escape
from support import sample_analysis

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
TOKEN = "tok-SECRET-123456"


def result(key: str, status: Status, ms: float | None = None, **more: Any) -> TestResult:
    return TestResult.model_validate(
        {
            "test_id": key.split("[")[0],
            "key": key,
            "name": key,
            "status": status,
            "started_at": T0 if ms is not None else None,
            "finished_at": T0 + timedelta(milliseconds=ms or 0),
            "duration_ms": ms,
            **more,
        }
    )


def sample() -> RunResult:
    at = {"started_at": T0, "duration_ms": 4.0}
    return RunResult(
        run_id="5f0c2d1e-0000-4000-8000-000000000001",
        suite="shop",
        environment="staging",
        status=RunStatus.FAILED,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        results=(
            result(
                "login",
                Status.PASSED,
                20.0,
                status_code=200,
                # what the engine stores: the token already redacted everywhere
                captured={"access_token": "[REDACTED]", "user_id": 7},
                request=Snapshot(
                    method="POST",
                    url="http://shop.test/login",
                    headers={"Content-Type": "application/json"},
                    body='{"user": "ann", "password": "[REDACTED]"}',
                ),
                response=Snapshot(status_code=200, body='{"access_token": "[REDACTED]"}'),
            ),
            result(
                "cart",
                Status.FAILED,
                50.0,
                error_category=ErrorCategory.ASSERTION,
                message="$.total: expected 30 (eq), got <script>alert(1)</script>",
                checks=[
                    CheckResult(name="status", passed=True, expected=200, actual=200),
                    CheckResult(name="$.total", passed=False, expected=30, actual=25, message="m"),
                ],
            ),
            result(
                "pay",
                Status.PASSED,
                9.0,
                passed_after_retry=True,
                attempts=[
                    Attempt(number=1, status_code=503, error="HTTP 503", **at),
                    Attempt(number=2, status_code=200, **at),
                ],
            ),
            result("ship", Status.SKIPPED, error_category=ErrorCategory.BLOCKED, message="x"),
            result("rows[0]", Status.PASSED, 2.0, row_index=0),
            result("rows[1]", Status.ERROR, 3.0, row_index=1, error_category="timeout"),
        ),
    )


EDGES = (("login", "cart", "token"), ("cart", "ship", "data"), ("login", "pay", "order"))


class Nodes(HTMLParser):
    """Collects the graph's node groups and the test sections of the report."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: dict[str, str] = {}
        self.fills: list[str] = []
        self.tests: dict[str, str] = {}
        self._in_node = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "g" and "node" in (a.get("class") or ""):
            self.nodes[a["data-test"] or ""] = a["data-status"] or ""
            self._in_node = True
        elif tag == "rect" and self._in_node:
            self.fills.append(a.get("fill") or "")
            self._in_node = False
        elif tag == "details" and "test" in (a.get("class") or "").split():
            self.tests[a["data-test"] or ""] = a["data-status"] or ""


def parsed(html: str) -> Nodes:
    parser = Nodes()
    parser.feed(html)
    return parser


def test_html_lists_every_test_with_its_status() -> None:
    """Every result has its own section carrying its status, rows included."""
    html = render_report(ReportData(run=sample(), edges=EDGES), "html")
    tests = parsed(html).tests
    assert tests == {r.key: r.status.value for r in sample().results}


def test_graph_nodes_are_coloured_by_status() -> None:
    """One node per test id (rows folded, worst wins), filled with its status colour."""
    html = render_report(ReportData(run=sample(), edges=EDGES), "html")
    p = parsed(html)
    assert p.nodes == {
        "login": "passed",
        "cart": "failed",
        "pay": "passed",
        "ship": "skipped",
        "rows": "error",
    }
    assert p.fills == [STATUS_COLOURS[s] for s in p.nodes.values()]
    assert 'data-from="login" data-to="cart"' in html


def test_checks_attempts_and_snapshots_are_shown() -> None:
    """Each check with expected and actual, each attempt, and the redacted snapshots."""
    html = render_report(ReportData(run=sample(), edges=EDGES), "html")
    assert "$.total" in html and "<code>30</code>" in html and "<code>25</code>" in html
    assert "HTTP 503" in html and "passed after retry" in html
    assert "http://shop.test/login" in html and "[REDACTED]" in html


def test_html_is_autoescaped_and_self_contained() -> None:
    """Markup in messages is escaped; no script, no external stylesheet, image or font."""
    html = render_report(ReportData(run=sample(), edges=EDGES), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def test_credential_named_values_never_show() -> None:
    """A token left in a credential-named header or capture is redacted in the report."""
    leaky = result(
        "login",
        Status.PASSED,
        1.0,
        captured={"token": TOKEN},
        request=Snapshot(method="GET", url="/me", headers={"Authorization": f"Bearer {TOKEN}"}),
    )
    run = sample().model_copy(update={"results": (leaky,)})
    for kind in ("html", "markdown"):
        assert TOKEN not in render_report(ReportData(run=run), kind)  # type: ignore[arg-type]


def test_regressions_flaky_and_quarantine_sections() -> None:
    """Analytics show as tables and a p95-against-baseline chart; quarantined tests marked."""
    analysis = sample_analysis(quarantined=("cart",))
    html = render_report(ReportData(run=sample(), edges=EDGES, analysis=analysis), "html")
    section = html[html.index('id="regressions"') : html.index('id="tests"')]
    assert "130.0 ms" in section and "100.0 ms" in section and "30.0 %" in section
    assert "p95 today against the baseline" in section
    assert "40.0 %" in section and "30.0 %" in section  # flaky rates
    assert "quarantined" in html


def test_without_analytics_the_report_says_so() -> None:
    """A run with no analytics gets a note instead of empty regression tables."""
    html = render_report(ReportData(run=sample()), "html")
    assert "No analytics for this run" in html


def test_markdown_summary_for_a_ci_job() -> None:
    """Counts table, failures with escaped messages, retried tests, the report command."""
    md = render_report(ReportData(run=sample(), edges=EDGES), "markdown")
    lines = md.splitlines()
    assert lines[0] == "## ❌ shop: failed"
    assert "| 6 | 3 | 1 | 1 | 1 | 1 |" in lines
    cart = next(line for line in lines if line.startswith("| cart |"))
    assert "&lt;script&gt;" in cart and "<script>" not in md
    assert "- pay: 2 attempts, passed after retry" in lines
    assert lines[-1] == (
        "Full report: `python -m runner report 5f0c2d1e-0000-4000-8000-000000000001 "
        "--html report.html`"
    )


def test_markdown_escape_keeps_table_cells_intact() -> None:
    """Pipes, newlines, markup and emphasis characters cannot break a table row."""
    assert markdown_escape("a|b\nc *d* <e> [f](g) `h`") == (
        r"a\|b c \*d\* &lt;e&gt; \[f\](g) \`h\`"
    )
    assert markdown_escape(None) == ""


def test_layout_puts_each_test_right_of_its_dependencies() -> None:
    """Columns are topological generations; edges to tests that did not run are dropped."""
    statuses = {"a": "passed", "b": "passed", "c": "failed", "d": "skipped"}
    view = layout(
        statuses, [("a", "c", "data"), ("b", "c", "order"), ("c", "d", "data"), ("x", "d", "data")]
    )
    x = {n.test: n.x for n in view.nodes}
    assert x["a"] == x["b"] < x["c"] < x["d"]
    assert {(e.source, e.target) for e in view.edges} == {("a", "c"), ("b", "c"), ("c", "d")}
    assert view.width > x["d"] and view.height > max(n.y for n in view.nodes)


def test_large_graphs_are_not_drawn() -> None:
    """Beyond the node limit the graph is replaced by a note."""
    view = layout({f"t{i}": "passed" for i in range(5)}, [], max_nodes=4)
    assert view.nodes == () and "too many" in view.omitted


def test_rows_fold_into_their_test_worst_status_wins() -> None:
    """A data-driven test is failed or errored if any row was, skipped only if all were."""
    got = statuses_by_test(
        [
            ("a", Status.PASSED),
            ("a", Status.FAILED),
            ("b", Status.SKIPPED),
            ("c", Status.PASSED),
            ("c", Status.SKIPPED),
        ]
    )
    assert got == {"a": "failed", "b": "skipped", "c": "passed"}


def test_bar_chart_keeps_the_largest_when_capped() -> None:
    """Bars scale to the largest value; beyond the cap the largest values are kept."""
    chart = bar_chart(
        "t", [("a", 10.0, "#000"), ("b", 40.0, "#000"), ("c", 20.0, "#000")], max_bars=2
    )
    assert [b.label for b in chart.bars] == ["b", "c"]
    assert chart.bars[0].length == 420.0 and chart.bars[1].length == 210.0
    assert chart.note == "the 2 largest of 3"


def test_the_analysis_names_the_run_environment_in_reports() -> None:
    """in_environment names the run's environment on regressions and flaky tests for reports."""
    from datetime import date

    from runner.reporting.analytics import (
        FlakyDetection,
        QuarantinedFailure,
        Regression,
        RunAnalysis,
    )

    analysis = RunAnalysis(
        run_id="r",
        regressions=(
            Regression(
                "c1",
                "cart",
                "Cart",
                None,
                date(2025, 3, 4),
                130.0,
                100.0,
                7,
                9,
                1.3,
                0.2,
                "p95 130 ms is 30 % above",
            ),
        ),
        flaky=(
            FlakyDetection(
                "d1",
                "c2",
                "pay",
                "Pay",
                None,
                7,
                10,
                2,
                0.2,
                3,
                0.33,
                1,
                0.1,
                ("failure_rate", "flip_rate"),
                T0,
            ),
        ),
        quarantined_failures=(
            QuarantinedFailure("rows[1]", "rows", "error", "timeout", "slow", "known"),
        ),
    )
    view = analysis.in_environment("staging")
    (reg,) = view.regressions
    assert (reg.test, reg.p95_ms, reg.baseline_p95_ms, reg.environment) == (
        "cart",
        130.0,
        100.0,
        "staging",
    )
    assert round(reg.percent_above, 6) == 30.0 and reg.explanation.startswith("p95 130")
    (flaky,) = view.flaky
    assert (flaky.test, flaky.runs, flaky.reason) == ("pay", 10, "failure_rate, flip_rate")
    assert flaky.environment == "staging" and analysis.flaky[0].environment is None
    assert view.quarantined == ("rows[1]",) and view.available
    html = render_report(ReportData(run=sample(), analysis=view), "html")
    assert "rows[1]</a> (quarantined)" in html
