"""The trends chart: one line per term, as coordinates for an inline SVG drawn by the template.

As in the timeline, x is in percent of the plot's width (it stretches to any screen without
distorting text or dots: the lines are segments, not one scaled path) and y in pixels of a fixed
height. The y axis is a separate narrow SVG beside the plot. Period labels come in two sets,
spaced for a wide plot and for a phone's, so they never overlap; CSS shows one set.
"""
from __future__ import annotations

import calendar
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from finsearch.search.trends import Interval, Period, TrendResult
from finsearch.webui.timeline import spaced_labels

PLOT_HEIGHT = 220  # px, the lines' area
TOP = 12  # px above the highest gridline, for the dots
LABEL_HEIGHT = 22  # px, under it
HEIGHT = TOP + PLOT_HEIGHT + LABEL_HEIGHT
EDGE = 1.5  # % of the width kept free at each side
Y_TICKS = 4  # about this many gridlines above zero
# The plot's width (px) on a laptop, and on a phone (390 px less margins and axis): label spacing.
WIDE_PLOT_PX = 860
NARROW_PLOT_PX = 290


@dataclass(frozen=True)
class Point:
    x: float  # % of the width
    y: float  # px
    count: int
    share: float
    href: str  # the search for this term in this period
    title: str


@dataclass(frozen=True)
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Line:
    number: int  # 0..4: the series' colour and dash
    term: str
    total: int
    href: str  # the term's search over the whole span
    points: tuple[Point, ...]
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Tick:
    y: float  # px
    text: str


@dataclass(frozen=True)
class Label:
    text: str
    x: float  # %
    anchor: str  # start | middle | end
    narrow: bool  # of the set spaced for a phone (else for a wide screen): CSS shows one set


@dataclass(frozen=True)
class Chart:
    lines: tuple[Line, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[Label, ...]
    share: bool  # the y axis is a share of all posts
    height: int = HEIGHT
    top: int = TOP
    base: int = TOP + PLOT_HEIGHT


def period_text(period: Period, interval: Interval) -> str:
    """2026-06-12, 2026-06 (a whole month), or 2026-06-08 至 06-14."""
    start, end = period.start, period.end
    if start == end:
        return start.isoformat()
    if start.day == 1 and (start.year, start.month) == (end.year, end.month) \
            and end.day == calendar.monthrange(end.year, end.month)[1]:
        return start.strftime("%Y-%m")
    tail = end.strftime("%m-%d") if end.year == start.year else end.isoformat()
    return f"{start.isoformat()} 至 {tail}"


def _axis_text(period: Period, interval: Interval, one_year: bool) -> str:
    if interval is Interval.MONTH:
        return period.start.strftime("%Y-%m")
    return period.start.strftime("%m-%d") if one_year else period.start.isoformat()


def nice_step(peak: float, ticks: int = Y_TICKS) -> float:
    """A round step (1, 2 or 5 × 10^k) giving about `ticks` gridlines up to `peak`."""
    if peak <= 0:
        return 1.0
    raw = peak / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _tick_text(value: float, share: bool, step: float) -> str:
    if not share:
        return f"{value:,.0f}"
    decimals = max(0, -math.floor(math.log10(step * 100))) if step > 0 else 0
    return f"{value * 100:.{decimals}f}%"


def build(result: TrendResult, share: bool, href: Callable[[str, Period], str],
          term_href: Callable[[str], str]) -> Chart | None:
    """The chart of `result`: counts, or shares of each period's posts when `share`."""
    periods = result.periods
    if not periods or not result.series:
        return None
    values = [s.shares(periods) if share else tuple(float(c) for c in s.counts) for s in result.series]
    peak = max(max(v) for v in values)
    min_step = 1.0 if not share else 0.0
    step = max(nice_step(peak), min_step) if peak > 0 else (0.01 if share else 1.0)
    top_value = step * max(1, math.ceil(peak / step))
    slot = (100 - 2 * EDGE) / len(periods)
    xs = [round(EDGE + (i + 0.5) * slot, 3) for i in range(len(periods))]

    def y(value: float) -> float:
        return round(TOP + PLOT_HEIGHT * (1 - value / top_value), 1)

    lines = []
    for number, (series, series_values) in enumerate(zip(result.series, values)):
        shares = series.shares(periods)
        points = tuple(
            Point(x=xs[i], y=y(series_values[i]), count=series.counts[i], share=shares[i],
                  href=href(series.term, period),
                  title=f"{series.term} · {period_text(period, result.interval)}："
                        f"{series.counts[i]:,} 条（占全部 {period.total:,} 条的 {shares[i]:.1%}）")
            for i, period in enumerate(periods))
        segments = tuple(Segment(a.x, a.y, b.x, b.y) for a, b in itertools.pairwise(points))
        lines.append(Line(number, series.term, series.total, term_href(series.term), points, segments))
    ticks = tuple(Tick(y(step * k), _tick_text(step * k, share, step))
                  for k in range(round(top_value / step) + 1))
    one_year = periods[0].start.year == periods[-1].end.year
    texts = [_axis_text(p, result.interval, one_year) for p in periods]
    labels = tuple(Label(texts[i], x, anchor, narrow)
                   for narrow, plot_px in ((False, WIDE_PLOT_PX), (True, NARROW_PLOT_PX))
                   for i, (x, anchor) in sorted(spaced_labels(xs, texts, plot_px).items()))
    return Chart(lines=tuple(lines), ticks=ticks, labels=labels, share=share)
