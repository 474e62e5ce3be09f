"""The per-document arrays of one generation, as searches read them.

Filters, facet counts, story grouping, the timeline and trends are numpy over these arrays
(indexed by Whoosh docnum), so they cost the same whatever the number of hits. What costs
seconds to compute (stories, title keys, facet membership) is written with the generation and
memory-mapped (storage.doc_columns); the rest is derived here when the generation is opened.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass

import numpy as np
from whoosh.util.times import datetime_to_long, long_to_datetime

from finsearch import storage

log = logging.getLogger(__name__)

EPOCH_TICKS = datetime_to_long(dt.datetime(1970, 1, 1))  # Whoosh counts from datetime.min
DAY_TICKS = 86_400 * 1_000_000
HOUR_TICKS = 3_600 * 1_000_000
MINUTE_TICKS = 60 * 1_000_000


@dataclass
class DocTable:
    """Per-document arrays of one generation, indexed by Whoosh docnum."""

    dates: np.ndarray  # int64 Whoosh ticks (µs since datetime.min) of the site's local time
    days: np.ndarray  # int64 day number since 1970-01-01, in the site's time zone
    months: np.ndarray  # int32 month number since 1970-01
    exact: np.ndarray  # int32 per doc: posts with the same title and body share one number
    stories: np.ndarray  # int32 story number: `exact` with near-duplicates merged (analysis.stories)
    story_rank: np.ndarray  # int64 place of each doc in the order (story, date, docnum)
    by_story_rank: np.ndarray  # int32: the docnum at each place of that order
    category_values: list[str]
    category_masks: np.ndarray  # bool [category, doc]
    paper_values: list[str]
    paper_masks: np.ndarray  # bool [paper, doc]
    title_ids: np.ndarray  # int32 per doc: equal for titles equal as a reader compares them (-1: unknown)
    title_keys: storage.TitleKeys  # title_key -> its number in title_ids (`title_id`)
    story_leaders: np.ndarray  # int64 per doc: its story's earliest live post (-1: the story has none)

    @classmethod
    def build(cls, columns: storage.DocColumns, is_live: np.ndarray) -> DocTable:
        dates = columns.dates
        days = (dates - EPOCH_TICKS) // DAY_TICKS
        months = (dates - EPOCH_TICKS).astype("datetime64[us]").astype("datetime64[M]").astype(np.int32)
        story_rank = np.empty(dates.size, dtype=np.int64)
        story_rank[columns.by_story_rank] = np.arange(dates.size)
        return cls(dates, days, months, columns.exact, columns.stories, story_rank, columns.by_story_rank,
                   columns.category_values, columns.category_masks, columns.paper_values, columns.paper_masks,
                   columns.title_ids, columns.title_keys,
                   _story_leaders(columns.stories, columns.by_story_rank, is_live))

    @functools.cached_property
    def story_starts(self) -> np.ndarray:
        """Where each story's posts start in the (story, date, docnum) order (`by_story_rank`), and
        one more: story s is by_story_rank[story_starts[s]:story_starts[s + 1]]."""
        return np.concatenate(([0], np.cumsum(np.bincount(self.stories)))).astype(np.int64)

    def story_posts(self, stories: np.ndarray) -> np.ndarray:
        """Every post of these stories (distinct story numbers; deleted posts too), ascending: a
        page's reprints or an article's story without a pass over every post."""
        starts = self.story_starts
        if not stories.size:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate([self.by_story_rank[starts[s]:starts[s + 1]] for s in stories.tolist()]))

    @functools.cached_property
    def category_rows(self) -> np.ndarray | None:
        """Each doc's category's row in `category_masks` (-1: none), if no doc has two (see
        single_rows)."""
        return single_rows(self.category_masks)

    @functools.cached_property
    def paper_rows(self) -> np.ndarray | None:
        """Each doc's paper's row in `paper_masks` (-1: none), if no doc has two."""
        return single_rows(self.paper_masks)

    def paper_of(self, doc: int) -> int:
        """The row of the doc's paper (the first, if it names two; -1: none)."""
        if self.paper_rows is not None:
            return int(self.paper_rows[doc])
        return int(self.paper_masks[:, doc].argmax()) if self.paper_masks[:, doc].any() else -1

    def paper_name(self, doc: int) -> str:
        """The live doc's paper ("" if none): its stored value (the paper field's one term)."""
        row = self.paper_of(doc)
        return self.paper_values[row] if row >= 0 else ""

    def title_id(self, key: str) -> int:
        """The number of a title key in `title_ids` (-1: no post has that title)."""
        return self.title_keys.number(key)

    def category_labels(self, live: np.ndarray) -> dict[str, str]:
        """Each category's Chinese name: the paper most of its posts carry (cailianshe → 财联社). The
        data has no other name for a category."""
        labels = {}
        for row, category in enumerate(self.category_values):
            in_category = live[self.category_masks[row, live]]
            counts = self.paper_masks[:, in_category].sum(axis=1) if self.paper_values else np.zeros(0)
            labels[category] = self.paper_values[int(counts.argmax())] if counts.size and counts.max() else category
        return labels


def single_rows(masks: np.ndarray) -> np.ndarray | None:
    """Where each doc's one True is in `masks` [value, doc] (-1: none); None if a doc has two. A
    facet's counts are then one count over the docs, not a gather per value."""
    if not masks.size or masks.shape[0] >= np.iinfo(np.int16).max or (masks.sum(axis=0) > 1).any():
        return None
    return np.where(masks.any(axis=0), masks.argmax(axis=0), -1).astype(np.int16)


def _story_leaders(stories: np.ndarray, by_story_rank: np.ndarray, is_live: np.ndarray) -> np.ndarray:
    """Each doc's story's earliest live post (-1 where the story has none): the story's name in
    exports, the same across searches as long as that post stays."""
    ordered = by_story_rank[is_live[by_story_rank]]  # live docs by (story, date, docnum)
    ordered_stories = stories[ordered]
    first = np.concatenate(([True], ordered_stories[1:] != ordered_stories[:-1]))[:ordered.size]
    leaders = np.full(int(stories.max()) + 1 if stories.size else 0, -1, dtype=np.int64)
    leaders[ordered_stories[first]] = ordered[first]
    return leaders[stories]


def lag_minutes(table: DocTable, doc: int, earlier: int) -> int:
    """Minutes from `earlier` to `doc` as their times are shown, to the minute (07:55:50 → 07:57:10: 2)."""
    return int(table.dates[doc] // MINUTE_TICKS - table.dates[earlier] // MINUTE_TICKS)


def from_ticks(ticks: int) -> dt.datetime:
    return storage.from_local_naive(long_to_datetime(int(ticks)))


def day_labels(days: np.ndarray) -> np.ndarray:
    """ "YYYY-MM-DD" of day numbers."""
    return days.astype("datetime64[D]").astype(str)
