"""The block ``run-suite`` prints after its summary line: regressions, flaky, quarantined."""

from __future__ import annotations

from typing import TextIO

from runner.reporting.analytics.model import RunAnalysis


def analysis_lines(analysis: RunAnalysis) -> list[str]:
    """Plain-text lines, empty when there is nothing to say."""
    lines: list[str] = []
    if analysis.regressions:
        lines.append("regressions against the baseline:")
        width = max(len(r.test) for r in analysis.regressions)
        for r in analysis.regressions:
            lines.append(
                f"  {r.test:<{width}}  p95 {r.p95_ms:.1f} ms vs {r.baseline_p95_ms:.1f} ms "
                f"(+{r.percent_above:.1f} %, {r.metric_date}; "
                f"baseline {r.baseline_days} days, {r.baseline_runs} results)"
            )
    if analysis.flaky:
        lines.append("newly flaky:")
        for f in analysis.flaky:
            flip = "n/a" if f.flip_rate is None else f"{f.flip_rate:.0%}"
            lines.append(
                f"  {f.test}: {f.failures}/{f.runs} runs failed ({f.failure_rate:.0%}), "
                f"flip rate {flip}, recovered on retry {f.recovered_rate:.0%} "
                f"over {f.window_days} days"
            )
    if analysis.quarantined_failures:
        lines.append("quarantined (not failing the run):")
        for q in analysis.quarantined_failures:
            why = f" — {q.reason}" if q.reason else ""
            lines.append(f"  {q.status.upper()} {q.test_key}{why}")
    return lines


def print_analysis(analysis: RunAnalysis | None, stream: TextIO) -> None:
    """Print ``analysis_lines`` (nothing for None or an empty analysis)."""
    if analysis is None:
        return
    lines = analysis_lines(analysis)
    if lines:
        stream.write("\n".join(lines) + "\n")
        stream.flush()
