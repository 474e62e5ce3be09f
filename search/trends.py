"""Trends: how many stories match each of a few terms per day, week or month.

Every count is a search total: the stories (reprints once) that the search page finds for the
term with the period's dates and the request's filters; a period's `total` is the same for the
empty query, so `count / total` is the term's share of everything published in the period.
Counting is numpy over the per-document day numbers and story numbers (no Python step per hit).
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from finsearch.search.coverage import Coverage, Span
from finsearch.search.docsets import sorted_distinct
from finsearch.search.params import parse_bound
from finsearch.search.types import MAX_QUERY_CHARS, Notice, SearchError

MAX_TERMS = 5
MAX_PERIODS = 400  # points on one chart; more is a wall of ink (and a slow page)
# The automatic interval: days up to this span (in days), weeks up to the next, else months.
DAY_SPAN_MAX = 45
WEEK_SPAN_MAX = 300
_EPOCH = dt.date(1970, 1, 1)
_MONDAY_SHIFT = 3  # 1970-01-01 was a Thursday: day + 3 counts weeks from a Monday


class Interval(str, Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"




@dataclass(frozen=True)
class TrendRequest:
    terms: tuple[str, ...]  # 1 to MAX_TERMS queries, each in the search syntax
    date_from: dt.date | None = None  # inclusive, by day, in the site's time zone
    date_to: dt.date | None = None  # inclusive
    categories: tuple[str, ...] = ()  # any of them
    papers: tuple[str, ...] = ()  # any of them
    interval: Interval | None = None  # None: chosen from the span


@dataclass(frozen=True)
class Period:
    start: dt.date  # inclusive; clipped to the request's dates
    end: dt.date  # inclusive
    total: int  # stories of the period (the empty query's search total)
    covered: int = -1  # days of the period the archive has posts for (search.coverage); -1: all of them

    @property
    def span(self) -> Span:
        days = (self.end - self.start).days + 1
        return Span(days, days if self.covered < 0 else self.covered)


@dataclass(frozen=True)
class TrendSeries:
    term: str
    counts: tuple[int, ...]  # one per period: the term's search total for that period
    total: int  # the term's search total over the whole span
    notice: Notice | None = None  # how the term was read, if it was malformed

    def shares(self, periods: tuple[Period, ...]) -> tuple[float, ...]:
        return tuple(c / p.total if p.total else 0.0 for c, p in zip(self.counts, periods))


@dataclass(frozen=True)
class TrendResult:
    request: TrendRequest
    interval: Interval
    periods: tuple[Period, ...]
    series: tuple[TrendSeries, ...]
    seconds: float


def make_trend_request(terms: Iterable[str], date_from: str | None = None, date_to: str | None = None,
                       categories: Iterable[str] = (), papers: Iterable[str] = (),
                       interval: str | None = None) -> TrendRequest:
    """A TrendRequest from strings as a user typed them; raises SearchError with a message."""
    terms = [t.strip() for t in terms]
    if not terms:
        raise SearchError("no_terms", "q")
    if len(terms) > MAX_TERMS:
        raise SearchError("too_many_terms", "q", limit=MAX_TERMS, count=len(terms))
    for number, term in enumerate(terms, 1):
        if not term:
            raise SearchError("empty_term", "q", number=number)
        if len(term) > MAX_QUERY_CHARS:
            raise SearchError("term_too_long", "q", number=number, length=len(term), limit=MAX_QUERY_CHARS)
    try:
        chosen = Interval(interval.strip().lower()) if interval and interval.strip() else None
    except ValueError:
        raise SearchError("bad_interval", "interval", value=str(interval)[:40],
                          choices=[i.value for i in Interval]) from None
    first, last = _whole_day(parse_bound(date_from, "from")), _whole_day(parse_bound(date_to, "to"))
    if first and last and first > last:
        raise SearchError("date_order", "from")
    return TrendRequest(
        terms=tuple(dict.fromkeys(terms)), date_from=first, date_to=last,
        categories=tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip())),
        papers=tuple(dict.fromkeys(p.strip() for p in papers if p and p.strip())),
        interval=chosen)


def choose_interval(first: dt.date, last: dt.date) -> Interval:
    """Days for a month or so, weeks up to about ten months, months beyond."""
    span = (last - first).days + 1
    if span <= DAY_SPAN_MAX:
        return Interval.DAY
    if span <= WEEK_SPAN_MAX:
        return Interval.WEEK
    return Interval.MONTH


def day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def _from_day_number(number: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(number))


def period_numbers(days: np.ndarray, interval: Interval) -> np.ndarray:
    """The period of each day number (days since 1970-01-01): days, weeks from Monday, months."""
    if interval is Interval.DAY:
        return days
    if interval is Interval.WEEK:
        return (days + _MONDAY_SHIFT) // 7
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _period_first_day(number: int, interval: Interval) -> int:
    if interval is Interval.DAY:
        return number
    if interval is Interval.WEEK:
        return number * 7 - _MONDAY_SHIFT
    return int(np.datetime64(int(number), "M").astype("datetime64[D]").astype(np.int64))


def count_trends(request: TrendRequest, days: np.ndarray, stories: np.ndarray, population: np.ndarray,
                 matches: list[np.ndarray], notices: list[Notice | None], archive: Coverage,
                 started: float) -> TrendResult:
    """Count stories per period.

    `days` and `stories` are per docnum (day number in the site's time zone, story number);
    `population` the docnums under the request's filters (every post the empty query finds),
    `matches` each term's docnums under the same filters, and `archive` the days the whole index
    has posts for (each period says how many of its days those are).
    """
    everything = np.concatenate(matches) if matches else np.empty(0, dtype=np.int64)
    if everything.size:  # the axis starts at the first hit and ends at the last...
        first_day, last_day = int(days[everything].min()), int(days[everything].max())
    elif population.size:
        first_day, last_day = int(days[population].min()), int(days[population].max())
    else:
        first_day = last_day = day_number(request.date_from or request.date_to or dt.date.today())
    if archive.first is not None and archive.last is not None:  # ...or spans the dates asked for, as far
        if request.date_from:                                    # as the archive goes
            first_day = min(first_day, max(day_number(request.date_from), archive.first))
        if request.date_to:
            last_day = max(last_day, min(day_number(request.date_to), archive.last))
    interval = request.interval or choose_interval(_from_day_number(first_day), _from_day_number(last_day))
    first_period, last_period = (int(p) for p in period_numbers(np.array([first_day, last_day]), interval))
    size = last_period - first_period + 1
    if size > MAX_PERIODS:
        raise SearchError("too_many_periods", "interval", interval=interval.value, count=size, limit=MAX_PERIODS)
    story_count = int(stories.max()) + 1 if stories.size else 1

    def per_period(docs: np.ndarray) -> np.ndarray:
        # A story counts once per period it was published in (as the period's search would).
        doc_days = days[docs]
        inside = (doc_days >= first_day) & (doc_days <= last_day)  # the axis may start after the first post
        docs, doc_days = docs[inside], doc_days[inside]
        slots = period_numbers(doc_days, interval) - first_period
        keys = sorted_distinct(slots * story_count + stories[docs])
        return np.bincount(keys // story_count, minlength=size)

    totals = per_period(population)
    periods = []
    for offset in range(size):
        start = max(_period_first_day(first_period + offset, interval), first_day)
        end = min(_period_first_day(first_period + offset + 1, interval) - 1, last_day)
        first, last = _from_day_number(start), _from_day_number(end)
        periods.append(Period(first, last, int(totals[offset]), archive.covered(first, last)))
    series = tuple(
        TrendSeries(term, tuple(int(c) for c in per_period(docs)), int(sorted_distinct(stories[docs]).size), notice)
        for term, docs, notice in zip(request.terms, matches, notices))
    return TrendResult(request=request, interval=interval, periods=tuple(periods), series=series,
                       seconds=time.perf_counter() - started)


def _whole_day(bound: dt.date | None) -> dt.date | None:
    """Trends count whole periods: a bound given to the minute counts its whole day."""
    return bound.date() if isinstance(bound, dt.datetime) else bound
