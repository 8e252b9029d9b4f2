"""Fails unless line and branch coverage each reach their floor (CI's coverage habit).

coverage's own ``fail_under`` judges one figure that mixes lines and branches; this
reads ``coverage json`` and holds each to its own floor::

    python tools/coverage_gate.py .runner/coverage.json --lines 90 --branches 85
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def figures(report: dict[str, object]) -> tuple[float, float]:
    """Line and branch coverage, in percent, from a ``coverage json`` report."""
    totals = report["totals"]
    assert isinstance(totals, dict)
    lines = 100.0 * totals["covered_lines"] / max(totals["num_statements"], 1)
    branches = 100.0 * totals["covered_branches"] / max(totals["num_branches"], 1)
    return lines, branches


def main(argv: list[str] | None = None) -> int:
    """Print both figures; exit 1 when either is under its floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--lines", type=float, required=True)
    parser.add_argument("--branches", type=float, required=True)
    args = parser.parse_args(argv)
    lines, branches = figures(json.loads(args.report.read_text(encoding="utf-8")))
    print(
        f"coverage: {lines:.2f} % of lines (floor {args.lines:g}), "
        f"{branches:.2f} % of branches (floor {args.branches:g})"
    )
    short = [
        f"{name} {value:.2f} % < {floor:g} %"
        for name, value, floor in (
            ("lines", lines, args.lines),
            ("branches", branches, args.branches),
        )
        if value < floor
    ]
    if short:
        print("coverage too low: " + "; ".join(short), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
