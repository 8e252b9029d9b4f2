"""An organisation's own report template: sandboxed, escaped, one-line errors."""

from __future__ import annotations

import pytest
from test_reports_html import EDGES, sample

from runner.errors import EXIT_USAGE
from runner.reporting.html import ReportData, ReportError, render_report

DATA = ReportData(run=sample(), edges=EDGES)


def stored(kind: str, source: str) -> str:
    return render_report(DATA, kind, template=("acme", source))  # type: ignore[arg-type]


def test_html_template_sees_the_report_and_is_autoescaped() -> None:
    """A stored HTML template reads run, tests and the drawn graph; values are escaped."""
    out = stored(
        "html",
        "<h1>{{ run.suite }} {{ run.counts.failed }}</h1>"
        "{% for t in failures %}<p>{{ t.message }}</p>{% endfor %}{{ graph_svg }}",
    )
    assert out.startswith("<h1>shop 1</h1>")
    assert "&lt;script&gt;" in out and "<script>" not in out
    assert 'data-test="cart" data-status="failed"' in out


def test_markdown_template_output_is_escaped() -> None:
    """In a Markdown template every printed value is Markdown-escaped."""
    out = stored("markdown", "{% for t in failures %}* {{ t.key }}: {{ t.message }}\n{% endfor %}")
    assert out.splitlines()[0] == (
        "* cart: $.total: expected 30 (eq), got &lt;script&gt;alert(1)&lt;/script&gt;"
    )


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("ok\n{% for t in tests %}\n{{ t.key }}\n", 3, "Unexpected end of template"),
        ("a\nb\n{{ run.nope }}", 3, "has no attribute 'nope'"),
        ("{{ 1 // 0 }}", 1, "ZeroDivisionError"),
        ("\n{{ run.__class__ }}", 2, "unsafe"),
        ("{{ ''.__class__.__mro__ }}", 1, "unsafe"),
    ],
)
def test_a_broken_template_is_one_line_naming_it_and_the_line(
    source: str, line: int, words: str
) -> None:
    """Syntax errors, undefined names, runtime errors and sandbox escapes: one clear line."""
    with pytest.raises(ReportError) as info:
        stored("html", source)
    message = str(info.value)
    assert message.startswith(f"report template 'acme' line {line}: ")
    assert words in message and "\n" not in message
    assert info.value.exit_code == EXIT_USAGE
