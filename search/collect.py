"""Collectors over one match: filters, facet counts, one post per story, the page, the timeline.

Each takes the match's docnums (and scores) and the generation's DocTable and gives back
arrays or counts; none reads a stored field. In the spirit of tantivy's collectors: a search
runs one match, then as many of these as its result needs.
"""
from __future__ import annotations

import datetime as dt
import functools
import operator
from dataclasses import dataclass

import numpy as np
from whoosh.util.times import datetime_to_long

from finsearch.search import ranking
from finsearch.search.companies import Mentions
from finsearch.search.docsets import members, rows_of, union
from finsearch.search.doctable import EPOCH_TICKS, HOUR_TICKS, DocTable, day_labels
from finsearch.search.snapshot import facet_counts
from finsearch.search.types import MAX_PAGE, MAX_PAGE_SIZE, FacetCount, Facets, SearchError, SearchRequest, Sort


def check_request(request: SearchRequest) -> None:
    if request.page < 1 or request.page > MAX_PAGE:
        raise SearchError("page_out_of_range", "page", limit=MAX_PAGE)
    if not 1 <= request.page_size <= MAX_PAGE_SIZE:
        raise SearchError("size_out_of_range", "size", limit=MAX_PAGE_SIZE)
    check_dates(request)


def check_dates(request: SearchRequest) -> None:
    start, end = date_bounds(request)
    if start is not None and end is not None and start >= end:
        raise SearchError("date_order", "from")


def date_bounds(request: SearchRequest) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The request's dates as [start, end) in site-local naive time; None: no bound.
    A day covers the whole day; a datetime `date_to` covers the whole of its minute."""
    start = end = None
    if request.date_from:
        start = (request.date_from if isinstance(request.date_from, dt.datetime)
                 else dt.datetime.combine(request.date_from, dt.time()))
    last = request.date_to
    if isinstance(last, dt.datetime):
        minute = last.replace(second=0, microsecond=0)
        end = minute + dt.timedelta(minutes=1) if minute < dt.datetime.max - dt.timedelta(minutes=1) else None
    elif last and last < dt.date.max:
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
    return start, end


@dataclass(frozen=True)
class Filtered:
    """Which of a match's docs pass each filter (a mask each, None for a filter the request does
    not set: every doc passes), so a facet can count under the others."""

    size: int  # the match's docs
    dates: np.ndarray | None
    categories: np.ndarray | None
    papers: np.ndarray | None
    stocks: np.ndarray | None
    first: np.ndarray | None  # the story's first report, when only those are asked for

    @property
    def all(self) -> np.ndarray:
        """A new mask of the docs that pass every filter."""
        mask = np.ones(self.size, dtype=bool)
        for passed in (self.dates, self.categories, self.papers, self.stocks, self.first):
            if passed is not None:
                mask &= passed
        return mask


def _passing(docs: np.ndarray, *masks: np.ndarray | None) -> np.ndarray:
    """Those of `docs` that every mask passes (None passes all; then `docs` itself, not a copy:
    a search without filters counts its facets over every match without copying them)."""
    given = [mask for mask in masks if mask is not None]
    if not given:
        return docs
    return docs[functools.reduce(operator.and_, given)]


def filter_masks(table: DocTable, docs: np.ndarray, request: SearchRequest,
                 mentioning: np.ndarray | None = None) -> Filtered:
    """`mentioning`: the docs that mention a company of `request.stocks` (Snapshot.mentioning)."""
    return Filtered(docs.size, _date_mask(table, docs, request),
                    _any_mask(table.category_values, table.category_masks, docs, request.categories),
                    _any_mask(table.paper_values, table.paper_masks, docs, request.papers),
                    members(mentioning, docs) if mentioning is not None else None,
                    table.story_leaders[docs] == docs if request.first_only else None)


def _date_mask(table: DocTable, docs: np.ndarray, request: SearchRequest) -> np.ndarray | None:
    start, end = date_bounds(request)
    if start is None and end is None:
        return None
    mask = np.ones(docs.size, dtype=bool)
    dates = table.dates[docs]
    if start is not None:
        mask &= dates >= datetime_to_long(start)
    if end is not None:
        mask &= dates < datetime_to_long(end)
    return mask


def _any_mask(values: list[str], masks: np.ndarray, docs: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray | None:
    if not wanted:
        return None
    rows = [values.index(v) for v in wanted if v in values]
    mask = np.zeros(docs.size, dtype=bool)
    for row in rows:  # a contiguous row gathered at a time: a third of a two-dimensional gather's cost
        mask |= masks[row][docs]
    return mask


def facets(table: DocTable, docs: np.ndarray, passed: Filtered, mentions: Mentions | None = None,
           stocks: tuple[str, ...] = ()) -> Facets:
    """Each facet counted under the *other* filters, so several values of one can be picked; the
    股票 facet when `mentions` (the generation's) is given, listing the `stocks` asked for too."""
    but_first = _passing(docs, passed.dates, passed.categories, passed.papers, passed.stocks)
    return Facets(
        categories=facet_counts(table.category_values, table.category_masks,
                                _passing(docs, passed.dates, passed.papers, passed.stocks, passed.first),
                                table.category_rows),
        papers=facet_counts(table.paper_values, table.paper_masks,
                            _passing(docs, passed.dates, passed.categories, passed.stocks, passed.first),
                            table.paper_rows),
        months=month_counts(table.months[_passing(docs, passed.categories, passed.papers, passed.stocks,
                                                  passed.first)]),
        stocks=(mentions.counts(_passing(docs, passed.dates, passed.categories, passed.papers, passed.first), stocks)
                if mentions is not None else ()),
        first_reports=int(np.count_nonzero(table.story_leaders[but_first] == but_first)),
    )


def month_counts(months: np.ndarray) -> tuple[FacetCount, ...]:
    values, counts = _value_counts(months)
    labels = values.astype("datetime64[M]").astype(str)
    return tuple(FacetCount(str(label), int(c)) for label, c in zip(labels, counts))


def _value_counts(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of an integer array (ascending) and how often each occurs: months, days
    and hours span few values, so a count per value in one pass (np.unique would sort them all)."""
    if not numbers.size:
        return numbers[:0], np.zeros(0, dtype=np.int64)
    earliest = int(numbers.min())
    counts = np.bincount(numbers - earliest)
    values = np.flatnonzero(counts)
    return values + earliest, counts[values]


HOURS_SPAN = dt.timedelta(days=2)  # a date filter this short has its timeline by hours


def day_counts(table: DocTable, docs: np.ndarray) -> tuple[FacetCount, ...]:
    """Posts per day ("YYYY-MM-DD", oldest first): the timeline's data."""
    values, counts = _value_counts(table.days[docs])
    return tuple(FacetCount(str(label), int(c)) for label, c in zip(day_labels(values), counts))


def hour_counts(table: DocTable, docs: np.ndarray) -> tuple[FacetCount, ...]:
    """Posts per hour ("YYYY-MM-DDTHH", oldest first): the timeline of a day or two."""
    values, counts = _value_counts((table.dates[docs] - EPOCH_TICKS) // HOUR_TICKS)
    labels = values.astype("datetime64[h]").astype(str)
    return tuple(FacetCount(str(label), int(c)) for label, c in zip(labels, counts))


def is_short(request: SearchRequest, last_post: dt.datetime | None) -> bool:
    """Whether the request's dates span at most HOURS_SPAN (an open end runs to the newest post)."""
    if request.date_from is None:
        return False
    start, end = date_bounds(request)
    assert start is not None
    if end is None:
        end = last_post.replace(tzinfo=None) if last_post else None
    return end is not None and end - start <= HOURS_SPAN + dt.timedelta(minutes=1)


def first_of_each_story(table: DocTable, docs: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None):
    """One post per story among `docs` (docnum order kept), with its score and tier: the earliest
    published, unless one of them has the query as its whole title (it is what was asked for)."""
    if docs.size < 2:
        return docs, scores, tiers
    # A story's earliest live post (its leader) is the first among any docs; a doc whose leader
    # is among them is not. Only the stories whose leader did not match are ordered here.
    leaders = table.story_leaders[docs]
    matched = np.zeros(table.stories.size, dtype=bool)
    matched[docs] = True
    led = leaders == docs
    pending = docs[~led & ~(matched[leaders] & (leaders >= 0))]
    # In the table's (story, date, docnum) order, the first post of each of their stories.
    ordered = table.by_story_rank[_sorted(table.story_rank[pending], table.stories.size)]
    stories = table.stories[ordered]
    first = union(docs[led], _sorted(ordered[np.concatenate(([True], stories[1:] != stories[:-1]))[:ordered.size]],
                                     table.stories.size))
    if tiers is not None and (tiers == ranking.WHOLE_TITLE).any():
        whole = docs[tiers == ranking.WHOLE_TITLE]
        whole = whole[np.lexsort((whole, table.dates[whole], table.stories[whole]))]
        whole_stories = table.stories[whole]
        best = whole[np.concatenate(([True], whole_stories[1:] != whole_stories[:-1]))]
        replaced = np.isin(table.stories[first], table.stories[best])
        first = np.sort(np.concatenate((first[~replaced], best)))
    rows = rows_of(docs, first)
    return first, scores[rows], None if tiers is None else tiers[rows]


def _sorted(values: np.ndarray, bound: int) -> np.ndarray:
    """Distinct non-negative ints below `bound`, sorted: by a mask when they are many."""
    if values.size * 16 < bound:
        return np.sort(values)
    mask = np.zeros(bound, dtype=bool)
    mask[values] = True
    return np.flatnonzero(mask)


def page(table: DocTable, selected: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None,
         request: SearchRequest) -> list[int]:
    """The docnums of the requested page, in the requested order.

    Relevance ties go to the newer post; date ties keep docnum order. Every
    order is total, so pages never overlap.
    """
    start = (request.page - 1) * request.page_size
    return leading(table, selected, scores, tiers, request.sort, start + request.page_size)[start:].tolist()


def leading(table: DocTable, selected: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None, sort: Sort,
            count: int) -> np.ndarray:
    """The first `count` of `selected`, in the order of `sort`."""
    if not selected.size:
        return selected
    keys = sort_keys(table, selected, scores, tiers, sort)
    # Only the docs whose first key is within reach of the first `count` need the full sort.
    first_key = keys[-1]
    if count < selected.size:
        reach = np.partition(first_key, count - 1)[count - 1]
        candidates = np.flatnonzero(first_key <= reach)
    else:
        candidates = np.arange(selected.size)
    order = candidates[np.lexsort(tuple(key[candidates] for key in keys))]
    return selected[order[:count]]


def ordered(table: DocTable, docs: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None,
            sort: Sort) -> np.ndarray:
    """All of `docs` in the order of `sort` (an export's)."""
    return docs[np.lexsort(sort_keys(table, docs, scores, tiers, sort))]


def sort_keys(table: DocTable, docs: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None, sort: Sort) -> tuple:
    """np.lexsort keys (last is primary) putting `docs` in the order of `sort`.

    Relevance: by tier (search.ranking), then score, then the newer post; blend (综合): by tier,
    then the score blended with recency (ranking.blend). Tier and score are also folded into
    one primary key, the tier worth more than any score, so that `leading` can find the
    page's reach with one partition.
    """
    dates = table.dates[docs]
    if tiers is None or not docs.size:
        tiers = np.zeros(docs.size, dtype=np.int8)
    if sort is Sort.BLEND and docs.size:
        scores = ranking.blend(scores, dates, int(dates.max()))
    if sort.by_score and docs.size and (scores.min() < scores.max() or tiers.min() < tiers.max()):
        span = float(scores.max() - scores.min()) + 1.0
        return (docs, -dates, -scores, -(tiers * span + scores))
    if sort is Sort.OLDEST:
        return (docs, dates)
    return (docs, -dates)  # newest; also relevance when every score is the same (the empty query)
