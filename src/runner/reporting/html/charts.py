"""Horizontal bar charts as numbers for an inline SVG (no JavaScript, no library)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_W = 190
BAR_W = 420
VALUE_W = 90
ROW_H = 20
BAR_H = 14
MAX_BARS = 60
"""Longer runs show their slowest tests only, and say so."""


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value, length and colour, at row ``y``."""

    label: str
    value: float
    text: str
    length: float
    colour: str
    y: int


@dataclass(frozen=True)
class BarChart:
    """A laid-out chart with its size and a note when bars were left out."""

    title: str
    bars: tuple[Bar, ...]
    width: int
    height: int
    label_w: int
    note: str = ""


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    unit: str = "ms",
    max_bars: int = MAX_BARS,
) -> BarChart:
    """Bars for ``(label, value, colour)`` rows; beyond ``max_bars`` the largest are kept.

    Rows keep their given order when all fit, so a chart reads in run order.
    """
    note = ""
    shown = list(rows)
    if len(shown) > max_bars:
        keep = sorted(shown, key=lambda r: r[1], reverse=True)[:max_bars]
        note = f"the {max_bars} largest of {len(shown)}"
        shown = keep
    top = max((value for _, value, _ in shown), default=0.0) or 1.0
    bars = tuple(
        Bar(
            label=label if len(label) <= 28 else label[:27] + "…",
            value=value,
            text=f"{value:,.1f} {unit}",
            length=round(max(value / top * BAR_W, 1.0), 1),
            colour=colour,
            y=i * ROW_H,
        )
        for i, (label, value, colour) in enumerate(shown)
    )
    return BarChart(
        title=title,
        bars=bars,
        width=LABEL_W + BAR_W + VALUE_W,
        height=max(len(bars), 1) * ROW_H,
        label_w=LABEL_W,
        note=note,
    )
