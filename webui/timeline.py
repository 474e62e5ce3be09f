"""Hits per day, week, month, quarter or year as bars for an inline SVG drawn by the template
(no JS, no inline style).

The bucket fits the question: the axis runs from the first hit to the last (within the date
filter), and the bucket is the smallest that keeps every bar at least 24 px wide (a tap target)
on the screen: there are two versions, for a wide results column and for a phone's, and CSS
shows one. Bars are laid out in percentages of the SVG's width (so it stretches to any width
without distorting the labels) and pixels of its fixed height; labels never overlap.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import Enum

from finsearch.search import FacetCount

PLOT_HEIGHT = 84  # px, the bars' area
LABEL_HEIGHT = 18  # px, under it
HEIGHT = PLOT_HEIGHT + LABEL_HEIGHT
MIN_SLOTS = 12  # fewer buckets than this: narrower bars, centred
TARGET_PX = 24  # the narrowest tap target
# The results column's width (px) on a laptop, and on a phone (390 px less margins).
WIDE_PX = 760
NARROW_PX = 320
# Label widths are guessed from their characters at the labels' 11 px font.
CHAR_PX = 6.6
LABEL_PAD_PX = 12


class Bucket(str, Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


BUCKET_NAMES = {Bucket.DAY: "日", Bucket.WEEK: "周", Bucket.MONTH: "月", Bucket.QUARTER: "季度", Bucket.YEAR: "年"}


@dataclass(frozen=True)
class Bar:
    start: dt.date  # the bucket, clipped to the date filter: what a click narrows to
    end: dt.date
    label: str  # 06-12 (a day, or a week's Monday; with the year across years), 2026-06, 2026 Q2, 2026
    count: int
    x: float  # % of the width
    width: float  # %
    y: float  # px
    height: float  # px
    slot_x: float  # the whole slot, for a click target as tall as the plot
    slot_width: float
    active: bool  # the current date range is this bucket


@dataclass(frozen=True)
class Label:
    text: str
    x: float  # %
    anchor: str  # start | middle | end


@dataclass(frozen=True)
class Timeline:
    bucket: Bucket
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    peak: int
    total: int
    height: int = HEIGHT
    plot_height: int = PLOT_HEIGHT

    @property
    def bucket_name(self) -> str:
        return BUCKET_NAMES[self.bucket]


@dataclass(frozen=True)
class Timelines:
    wide: Timeline  # for a results column about WIDE_PX wide
    narrow: Timeline  # for a phone


def bucket_start(day: dt.date, bucket: Bucket) -> dt.date:
    if bucket is Bucket.DAY:
        return day
    if bucket is Bucket.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if bucket is Bucket.MONTH:
        return day.replace(day=1)
    if bucket is Bucket.QUARTER:
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def next_bucket(start: dt.date, bucket: Bucket) -> dt.date:
    if bucket is Bucket.DAY:
        return start + dt.timedelta(days=1)
    if bucket is Bucket.WEEK:
        return start + dt.timedelta(days=7)
    months = {Bucket.MONTH: 1, Bucket.QUARTER: 3, Bucket.YEAR: 12}[bucket]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _starts(first: dt.date, last: dt.date, bucket: Bucket) -> list[dt.date]:
    starts, start = [], bucket_start(first, bucket)
    while start <= last:
        starts.append(start)
        start = next_bucket(start, bucket)
    return starts


def choose_bucket(first: dt.date, last: dt.date, max_bars: int) -> Bucket:
    """The smallest bucket giving at most `max_bars` bars from `first` to `last` (years: any number)."""
    for bucket in (Bucket.DAY, Bucket.WEEK, Bucket.MONTH, Bucket.QUARTER):
        start, bars = bucket_start(first, bucket), 0
        while start <= last and bars <= max_bars:
            start, bars = next_bucket(start, bucket), bars + 1
        if bars <= max_bars:
            return bucket
    return Bucket.YEAR


def _label(start: dt.date, bucket: Bucket, one_year: bool) -> str:
    if bucket is Bucket.YEAR:
        return str(start.year)
    if bucket is Bucket.QUARTER:
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    if bucket is Bucket.MONTH:
        return start.strftime("%Y-%m")
    return start.strftime("%m-%d") if one_year else start.isoformat()


def build(days: tuple[FacetCount, ...], date_from: dt.date | None = None,
          date_to: dt.date | None = None) -> Timelines | None:
    """The bars of `days` (posts per "YYYY-MM-DD" among the hits), within [date_from, date_to]."""
    counts = {dt.date.fromisoformat(d.value): d.count for d in days if d.count > 0}
    counts = {day: c for day, c in counts.items()
              if (not date_from or day >= date_from) and (not date_to or day <= date_to)}
    if not counts:
        return None
    first, last = min(counts), max(counts)
    wide, narrow = (_timeline(counts, first, last, date_from, date_to, px) for px in (WIDE_PX, NARROW_PX))
    return Timelines(wide=wide, narrow=narrow)


def _timeline(counts: dict[dt.date, int], first: dt.date, last: dt.date, date_from: dt.date | None,
              date_to: dt.date | None, width_px: int) -> Timeline:
    bucket = choose_bucket(first, last, width_px // TARGET_PX)
    starts = _starts(first, last, bucket)
    totals = dict.fromkeys(starts, 0)
    for day, count in counts.items():  # one step per day with hits, not per hit
        totals[bucket_start(day, bucket)] += count
    slots = max(len(starts), MIN_SLOTS)
    slot = 100.0 / slots
    offset = (100.0 - slot * len(starts)) / 2
    gap = 0.25
    peak = max(totals.values())
    one_year = first.year == last.year
    bars = []
    for i, start in enumerate(starts):
        count = totals[start]
        begin = max(start, date_from) if date_from else start
        end = next_bucket(start, bucket) - dt.timedelta(days=1)
        end = min(end, date_to) if date_to else end
        height = 0.0 if not count else max(2.0, PLOT_HEIGHT * count / peak)
        slot_x = offset + i * slot
        bars.append(Bar(start=begin, end=end, label=_label(start, bucket, one_year), count=count,
                        x=round(slot_x + slot * gap / 2, 3), width=round(slot * (1 - gap), 3),
                        y=round(PLOT_HEIGHT - height, 1), height=round(height, 1), slot_x=round(slot_x, 3),
                        slot_width=round(slot, 3), active=(date_from == begin and date_to == end)))
    centres = [b.slot_x + b.slot_width / 2 for b in bars]
    labels = tuple(Label(bars[i].label, x, anchor)
                   for i, (x, anchor) in sorted(spaced_labels(centres, [b.label for b in bars], width_px).items()))
    return Timeline(bucket=bucket, bars=tuple(bars), labels=labels, peak=peak, total=sum(totals.values()))


def spaced_labels(xs: list[float], texts: list[str], width_px: int) -> dict[int, tuple[float, str]]:
    """Labels at a regular stride, none overlapping another or the edges of a chart `width_px`
    wide: {index: (x %, anchor)}. The first label is always shown."""
    widths = [(len(t) * CHAR_PX + LABEL_PAD_PX) / width_px * 100 for t in texts]
    slot = xs[1] - xs[0] if len(xs) > 1 else 100.0
    stride = max(1, math.ceil(max(widths) / slot))
    chosen: dict[int, tuple[float, str]] = {}
    right_edge = -math.inf
    for i in range(0, len(xs), stride):
        x, half = xs[i], widths[i] / 2
        if x - half < 0:
            left, anchor, x = 0.0, "start", 0.0
        elif x + half > 100:
            left, anchor, x = 100 - widths[i], "end", 100.0
        else:
            left, anchor = x - half, "middle"
        if left < right_edge:
            continue
        chosen[i] = (round(x, 3), anchor)
        right_edge = left + widths[i]
    return chosen
