"""Hits per month as bars for an inline SVG drawn by the template (no JS, no inline style).

Bars are laid out in percentages of the SVG's width (so it stretches to any
width without distorting the labels) and pixels of its fixed height.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from finsearch.search import FacetCount
from finsearch.webui.state import month_bounds

PLOT_HEIGHT = 84  # px, the bars' area
LABEL_HEIGHT = 18  # px, under it
HEIGHT = PLOT_HEIGHT + LABEL_HEIGHT
MIN_SLOTS = 12  # fewer months than this: narrower bars, centred
MAX_FILLED = 240  # a span longer than this many months shows the months with hits only
LABEL_GAP = 15.0  # % of the width between two labels' centres


@dataclass(frozen=True)
class Bar:
    month: str  # YYYY-MM
    count: int
    x: float  # % of the width
    width: float  # %
    y: float  # px
    height: float  # px
    slot_x: float  # the whole slot, for a click target as tall as the plot
    slot_width: float
    dim: bool  # outside the current date range
    active: bool  # the current date range is this month


@dataclass(frozen=True)
class Label:
    text: str
    x: float  # %
    anchor: str  # start | middle | end


@dataclass(frozen=True)
class Timeline:
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    peak: int
    height: int = HEIGHT
    plot_height: int = PLOT_HEIGHT


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def build(months: tuple[FacetCount, ...], date_from: dt.date | None = None,
          date_to: dt.date | None = None) -> Timeline | None:
    """The bars of `months` (oldest first, "YYYY-MM"), dimmed outside [date_from, date_to]."""
    counts = {m.value: m.count for m in months if m.count > 0}
    if not counts:
        return None
    indexes = sorted(_month_index(m) for m in counts)
    first, last = indexes[0], indexes[-1]
    if last - first < MAX_FILLED:  # a true time axis: empty months as gaps
        names = [_month_name(i) for i in range(first, last + 1)]
    else:
        names = [_month_name(i) for i in indexes]
    slots = max(len(names), MIN_SLOTS)
    slot = 100.0 / slots
    offset = (100.0 - slot * len(names)) / 2
    gap = 0.25 if len(names) <= 60 else 0.12
    peak = max(counts.values())
    bars = []
    for i, name in enumerate(names):
        count = counts.get(name, 0)
        start, end = month_bounds(name)
        outside = bool((date_from and end < date_from) or (date_to and start > date_to))
        height = 0.0 if not count else max(2.0, PLOT_HEIGHT * count / peak)
        slot_x = offset + i * slot
        bars.append(Bar(month=name, count=count, x=round(slot_x + slot * gap / 2, 3),
                        width=round(slot * (1 - gap), 3), y=round(PLOT_HEIGHT - height, 1),
                        height=round(height, 1), slot_x=round(slot_x, 3), slot_width=round(slot, 3),
                        dim=outside, active=(date_from == start and date_to == end)))
    return Timeline(bars=tuple(bars), labels=_labels(bars), peak=peak)


def _labels(bars: list[Bar]) -> tuple[Label, ...]:
    """First and last month, then Januaries, then quarters (a short span: any month), as far
    apart as LABEL_GAP allows."""
    centres = [b.slot_x + b.slot_width / 2 for b in bars]
    order = [0, len(bars) - 1]
    order += [i for i, b in enumerate(bars) if b.month.endswith("-01")]
    order += [i for i, b in enumerate(bars) if b.month[5:] in ("04", "07", "10")]
    if len(bars) <= MIN_SLOTS:
        order += range(len(bars))
    chosen: list[int] = []
    for i in dict.fromkeys(order):
        if all(abs(centres[i] - centres[j]) >= LABEL_GAP for j in chosen):
            chosen.append(i)
    labels = []
    for i in sorted(chosen):
        x = centres[i]
        anchor = "start" if x < LABEL_GAP / 2 else "end" if x > 100 - LABEL_GAP / 2 else "middle"
        if anchor != "middle":
            x = bars[i].slot_x if anchor == "start" else bars[i].slot_x + bars[i].slot_width
        labels.append(Label(text=bars[i].month, x=round(x, 3), anchor=anchor))
    return tuple(labels)
