"""Hits per hour(s), day, week, month, quarter or year as bars for an inline SVG drawn by the template
(no JS, no inline style).

The bucket fits the question: the axis runs from the first hit to the last (within the date
filter), and the bucket is the smallest that keeps every bar at least 24 px wide (a tap target)
on the screen: there are two versions, for a wide results column and for a phone's, and CSS
shows one. A date filter of two days or less (近24小时) is counted by hours. Bars are laid out in
percentages of the SVG's width (so it stretches to any width without distorting the labels) and
pixels of its fixed height; labels never overlap.

The days of a bucket the archive has no post for (search.coverage) are hatched, from the top down
in proportion: a bucket the archive lacks entirely is a hatched column, no data rather than an
empty bar, and one it partly lacks is hatched that far.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import Enum

from finsearch.search import FacetCount
from finsearch.search.coverage import Coverage, Span, span

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
    HOUR = "hour"
    TWO_HOURS = "2h"
    THREE_HOURS = "3h"
    SIX_HOURS = "6h"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


HOURS = {Bucket.HOUR: 1, Bucket.TWO_HOURS: 2, Bucket.THREE_HOURS: 3, Bucket.SIX_HOURS: 6}
BUCKET_NAMES = {Bucket.HOUR: "小时", Bucket.TWO_HOURS: "2小时", Bucket.THREE_HOURS: "3小时",
                Bucket.SIX_HOURS: "6小时", Bucket.DAY: "日", Bucket.WEEK: "周", Bucket.MONTH: "月",
                Bucket.QUARTER: "季度", Bucket.YEAR: "年"}
DAY_BUCKETS = (Bucket.DAY, Bucket.WEEK, Bucket.MONTH, Bucket.QUARTER)  # then years, however many
MINUTE = "%Y-%m-%dT%H:%M"  # an hour bar's dates, as the date filter takes them

Moment = dt.date  # a day, or (for hour buckets) a dt.datetime, which is a dt.date too


@dataclass(frozen=True)
class Bar:
    start: Moment  # the bucket, clipped to the date filter: what a click narrows to
    end: Moment  # the last day (or, for hours, the last minute) of it
    label: str  # 06-12 (a day, or a week's Monday; with the year across years), 2026-06, 2026 Q2, 2026, 10:00
    count: int
    x: float  # % of the width
    width: float  # %
    y: float  # px
    height: float  # px
    slot_x: float  # the whole slot, for a click target as tall as the plot
    slot_width: float
    active: bool  # the current date range is this bucket
    coverage: Span  # how much of the bucket the archive holds

    @property
    def missing_height(self) -> float:
        """px of the slot hatched from the top: the share of its days the archive lacks."""
        return round(PLOT_HEIGHT * (1 - self.coverage.covered / self.coverage.days), 1)

    @property
    def start_param(self) -> str:
        """The bar's start as the `from` of its search (a day, or a minute for an hour bar)."""
        return _param(self.start)

    @property
    def end_param(self) -> str:
        return _param(self.end)

    @property
    def period_text(self) -> str:
        """2026-06-12, 2026-06-08 至 2026-06-14, 2026-08-20 10:00 至 11:59."""
        if self.end == self.start:
            return _shown(self.start)
        tail = self.end.strftime("%H:%M") if _same_day(self.start, self.end) else _shown(self.end)
        return f"{_shown(self.start)} 至 {tail}"


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

    @property
    def has_gaps(self) -> bool:
        """Whether some bucket lacks days in the archive (the chart then shows the key to its hatching)."""
        return any(bar.missing_height for bar in self.bars)


@dataclass(frozen=True)
class Timelines:
    wide: Timeline  # for a results column about WIDE_PX wide
    narrow: Timeline  # for a phone


def bucket_start(moment: Moment, bucket: Bucket) -> Moment:
    if bucket in HOURS:
        assert isinstance(moment, dt.datetime)
        return moment.replace(hour=moment.hour - moment.hour % HOURS[bucket], minute=0, second=0, microsecond=0)
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    if bucket is Bucket.DAY:
        return day
    if bucket is Bucket.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if bucket is Bucket.MONTH:
        return day.replace(day=1)
    if bucket is Bucket.QUARTER:
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, 1, 1)


def next_bucket(start: Moment, bucket: Bucket) -> Moment:
    if bucket in HOURS:
        return start + dt.timedelta(hours=HOURS[bucket])
    if bucket is Bucket.DAY:
        return start + dt.timedelta(days=1)
    if bucket is Bucket.WEEK:
        return start + dt.timedelta(days=7)
    months = {Bucket.MONTH: 1, Bucket.QUARTER: 3, Bucket.YEAR: 12}[bucket]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _starts(first: Moment, last: Moment, bucket: Bucket) -> list[Moment]:
    starts, start = [], bucket_start(first, bucket)
    while start <= last:
        starts.append(start)
        start = next_bucket(start, bucket)
    return starts


def choose_bucket(first: Moment, last: Moment, max_bars: int, buckets: tuple[Bucket, ...] = DAY_BUCKETS) -> Bucket:
    """The smallest of `buckets` giving at most `max_bars` bars from `first` to `last` (else the
    last bucket after them: years, or six hours)."""
    for bucket in buckets:
        start, bars = bucket_start(first, bucket), 0
        while start <= last and bars <= max_bars:
            start, bars = next_bucket(start, bucket), bars + 1
        if bars <= max_bars:
            return bucket
    return Bucket.YEAR if buckets == DAY_BUCKETS else buckets[-1]


def _label(start: Moment, bucket: Bucket, one_year: bool) -> str:
    if bucket in HOURS:  # a day's first hour by its day, so the axis says when the day changes
        midnight = isinstance(start, dt.datetime) and start.hour == 0
        return start.strftime("%m-%d" if midnight else "%H:%M")
    if bucket is Bucket.YEAR:
        return str(start.year)
    if bucket is Bucket.QUARTER:
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    if bucket is Bucket.MONTH:
        return start.strftime("%Y-%m")
    return start.strftime("%m-%d") if one_year else start.isoformat()


def build(days: tuple[FacetCount, ...], date_from: dt.date | None = None, date_to: dt.date | None = None,
          coverage: Coverage | None = None) -> Timelines | None:
    """The bars of `days` (posts per "YYYY-MM-DD" among the hits), within [date_from, date_to];
    `coverage`: the days the archive has posts for (None: every day)."""
    counts: dict[Moment, int] = {dt.date.fromisoformat(d.value): d.count for d in days if d.count > 0}
    counts = {day: c for day, c in counts.items()
              if (not date_from or day >= date_from) and (not date_to or day <= date_to)}
    if not counts:
        return None
    return _both(counts, date_from, date_to, coverage, DAY_BUCKETS)


def build_hours(hours: tuple[FacetCount, ...], start: dt.datetime, end: dt.datetime | None = None,
                coverage: Coverage | None = None) -> Timelines | None:
    """The bars of `hours` (posts per "YYYY-MM-DDTHH" among the hits), within [start, end], by the
    hour or a few hours: the timeline of a date filter of a day or two (search.collect.HOURS_SPAN)."""
    counts: dict[Moment, int] = {dt.datetime.fromisoformat(h.value + ":00"): h.count for h in hours if h.count > 0}
    if not counts:
        return None
    return _both(counts, start, end, coverage, tuple(HOURS))


def _both(counts: dict[Moment, int], date_from: Moment | None, date_to: Moment | None,
          coverage: Coverage | None, buckets: tuple[Bucket, ...]) -> Timelines:
    first, last = min(counts), max(counts)
    wide, narrow = (_timeline(counts, first, last, date_from, date_to, px, coverage, buckets)
                    for px in (WIDE_PX, NARROW_PX))
    return Timelines(wide=wide, narrow=narrow)


def _timeline(counts: dict[Moment, int], first: Moment, last: Moment, date_from: Moment | None,
              date_to: Moment | None, width_px: int, coverage: Coverage | None,
              buckets: tuple[Bucket, ...]) -> Timeline:
    bucket = choose_bucket(first, last, width_px // TARGET_PX, buckets)
    starts = _starts(first, last, bucket)
    totals = dict.fromkeys(starts, 0)
    for moment, count in counts.items():  # one step per day (or hour) with hits, not per hit
        totals[bucket_start(moment, bucket)] += count
    slots = max(len(starts), MIN_SLOTS)
    slot = 100.0 / slots
    offset = (100.0 - slot * len(starts)) / 2
    gap = 0.25
    peak = max(totals.values())
    one_year = first.year == last.year
    unit = dt.timedelta(minutes=1) if bucket in HOURS else dt.timedelta(days=1)
    bars = []
    for i, start in enumerate(starts):
        count = totals[start]
        begin = max(start, date_from) if date_from else start
        end = next_bucket(start, bucket) - unit
        end = min(end, date_to) if date_to else end
        height = 0.0 if not count else max(2.0, PLOT_HEIGHT * count / peak)
        slot_x = offset + i * slot
        bars.append(Bar(start=begin, end=end, label=_label(start, bucket, one_year), count=count,
                        x=round(slot_x + slot * gap / 2, 3), width=round(slot * (1 - gap), 3),
                        y=round(PLOT_HEIGHT - height, 1), height=round(height, 1), slot_x=round(slot_x, 3),
                        slot_width=round(slot, 3), active=(date_from == begin and date_to == end),
                        coverage=_coverage(coverage, begin, end)))
    centres = [b.slot_x + b.slot_width / 2 for b in bars]
    labels = tuple(Label(bars[i].label, x, anchor)
                   for i, (x, anchor) in sorted(spaced_labels(centres, [b.label for b in bars], width_px).items()))
    return Timeline(bucket=bucket, bars=tuple(bars), labels=labels, peak=peak, total=sum(totals.values()))


def _coverage(coverage: Coverage | None, begin: Moment, end: Moment) -> Span:
    if isinstance(begin, dt.datetime):  # an hour bar: its day has posts or not
        return span(coverage, begin.date(), begin.date())
    return span(coverage, begin, end)


def _param(moment: Moment) -> str:
    return moment.strftime(MINUTE) if isinstance(moment, dt.datetime) else moment.isoformat()


def _shown(moment: Moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if isinstance(moment, dt.datetime) else moment.isoformat()


def _same_day(a: Moment, b: Moment) -> bool:
    return isinstance(a, dt.datetime) and isinstance(b, dt.datetime) and a.date() == b.date()


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
