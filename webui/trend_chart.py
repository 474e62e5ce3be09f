"""The trends chart: one line per term, as coordinates for an inline SVG drawn by the template.

As in the timeline, x is in percent of the plot's width (it stretches to any screen without
distorting text or dots: the lines are segments, not one scaled path) and y in pixels of a fixed
height. The y axis is a separate narrow SVG beside the plot. Period labels come in two sets,
spaced for a wide plot and for a phone's, so they never overlap; CSS shows one set.

A period the archive has no post for is no data, not zero: no dot, the lines break there, and its
column is hatched; a period it partly lacks is hatched from the top in proportion (search.coverage).
When one term's peak dwarfs another's (OWN_SCALE_RATIO), each term gets a panel and a scale of its
own, so the small one is not drawn flat along the bottom.
"""
from __future__ import annotations

import calendar
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from finsearch.messages import coverage_note
from finsearch.search.trends import Interval, Period, TrendResult, TrendSeries
from finsearch.webui.timeline import spaced_labels

PLOT_HEIGHT = 220  # px, the lines' area
PANEL_PLOT_HEIGHT = 110  # px, one term's panel when each has its own scale
# A term whose peak is below 1/OWN_SCALE_RATIO of another's would be drawn flat along the bottom
# fifth of a shared scale: each term then gets its own.
OWN_SCALE_RATIO = 5
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
    partial: bool = False  # the archive lacks some of the period's days


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
class Gap:
    """The days of a period the archive lacks, hatched from the top of its column."""

    x: float  # %
    width: float  # %
    height: float  # px, from the top of the plot
    title: str


@dataclass(frozen=True)
class Chart:
    lines: tuple[Line, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[Label, ...]
    share: bool  # the y axis is a share of all posts
    gaps: tuple[Gap, ...] = ()
    height: int = HEIGHT
    top: int = TOP
    base: int = TOP + PLOT_HEIGHT


@dataclass(frozen=True)
class Charts:
    panels: tuple[Chart, ...]  # one chart of every line, or one per line (own_scales)
    own_scales: bool  # each term on a scale of its own, its peak dwarfed by another's
    can_share_scale: bool  # the terms' peaks differ that much, so either layout makes sense

    @property
    def lines(self) -> tuple[Line, ...]:
        return tuple(line for panel in self.panels for line in panel.lines)

    @property
    def has_gaps(self) -> bool:
        return bool(self.panels and self.panels[0].gaps)


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
          term_href: Callable[[str], str], shared_scale: bool = False) -> Charts | None:
    """The chart of `result`: counts, or shares of each period's posts when `share`; one panel per
    term when one's peak is below 1/OWN_SCALE_RATIO of another's, unless `shared_scale`."""
    periods = result.periods
    if not periods or not result.series:
        return None
    values = [s.shares(periods) if share else tuple(float(c) for c in s.counts) for s in result.series]
    peaks = [max(v) for v in values]
    dwarfed = len(peaks) > 1 and min(peaks) * OWN_SCALE_RATIO < max(peaks)
    series = list(enumerate(zip(result.series, values)))
    if dwarfed and not shared_scale:
        panels = tuple(_chart(result, [one], share, href, term_href, PANEL_PLOT_HEIGHT) for one in series)
    else:
        panels = (_chart(result, series, share, href, term_href, PLOT_HEIGHT),)
    return Charts(panels, own_scales=len(panels) > 1, can_share_scale=dwarfed)


def _chart(result: TrendResult, series: list[tuple[int, tuple[TrendSeries, tuple[float, ...]]]], share: bool,
           href: Callable[[str, Period], str], term_href: Callable[[str], str], plot_height: int) -> Chart:
    periods = result.periods
    peak = max(max(v) for _, (_, v) in series)
    min_step = 1.0 if not share else 0.0
    ticks_wanted = Y_TICKS if plot_height >= PLOT_HEIGHT else Y_TICKS // 2
    step = max(nice_step(peak, ticks_wanted), min_step) if peak > 0 else (0.01 if share else 1.0)
    top_value = step * max(1, math.ceil(peak / step))
    slot = (100 - 2 * EDGE) / len(periods)
    xs = [round(EDGE + (i + 0.5) * slot, 3) for i in range(len(periods))]

    def y(value: float) -> float:
        return round(TOP + plot_height * (1 - value / top_value), 1)

    lines = []
    for number, (one, one_values) in series:
        shares = one.shares(periods)
        points: list[Point | None] = []
        for i, period in enumerate(periods):
            if period.span.no_data:
                points.append(None)
                continue
            note = f"；{coverage_note(period.span)}" if period.span.partial else ""
            points.append(Point(x=xs[i], y=y(one_values[i]), count=one.counts[i], share=shares[i],
                                href=href(one.term, period), partial=period.span.partial,
                                title=f"{one.term} · {period_text(period, result.interval)}："
                                      f"{one.counts[i]:,} 条（占全部 {period.total:,} 条的 {shares[i]:.1%}{note}）"))
        # A line joins neighbouring periods only: it breaks where the archive has no data.
        segments = tuple(Segment(a.x, a.y, b.x, b.y) for a, b in itertools.pairwise(points) if a and b)
        lines.append(Line(number, one.term, one.total, term_href(one.term),
                          tuple(p for p in points if p), segments))
    ticks = tuple(Tick(y(step * k), _tick_text(step * k, share, step))
                  for k in range(round(top_value / step) + 1))
    gaps = tuple(Gap(round(EDGE + i * slot, 3), round(slot, 3),
                     round(plot_height * (1 - period.span.covered / period.span.days), 1),
                     f"{period_text(period, result.interval)}：{coverage_note(period.span)}")
                 for i, period in enumerate(periods) if period.span.covered < period.span.days)
    one_year = periods[0].start.year == periods[-1].end.year
    texts = [_axis_text(p, result.interval, one_year) for p in periods]
    labels = tuple(Label(texts[i], x, anchor, narrow)
                   for narrow, plot_px in ((False, WIDE_PLOT_PX), (True, NARROW_PLOT_PX))
                   for i, (x, anchor) in sorted(spaced_labels(xs, texts, plot_px).items()))
    height = TOP + plot_height + LABEL_HEIGHT
    return Chart(lines=tuple(lines), ticks=ticks, labels=labels, share=share, gaps=gaps, height=height,
                 base=TOP + plot_height)
