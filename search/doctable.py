"""The per-document arrays of one index generation, read from its columns once.

Filters, facet counts, story grouping, the timeline and trends are numpy over these arrays
(indexed by Whoosh docnum), so they cost the same whatever the number of hits.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.util.times import datetime_to_long, long_to_datetime

from finsearch import storage
from finsearch.analysis.near_duplicates import decode
from finsearch.search.evaluate import IndexView, evaluate
from finsearch.search.stories import near_stories

log = logging.getLogger(__name__)

EPOCH_TICKS = datetime_to_long(dt.datetime(1970, 1, 1))  # Whoosh counts from datetime.min
DAY_TICKS = 86_400 * 1_000_000


@dataclass
class DocTable:
    """Per-document arrays of one generation, indexed by Whoosh docnum."""

    dates: np.ndarray  # int64 Whoosh ticks (µs since datetime.min) of the site's local time
    days: np.ndarray  # int64 day number since 1970-01-01, in the site's time zone
    months: np.ndarray  # int32 month number since 1970-01
    exact: np.ndarray  # int64 per doc: posts with the same title and body share one number
    stories: np.ndarray  # int64 story number: `exact` with near-duplicates merged (search.stories)
    story_rank: np.ndarray  # int64 place of each doc in the order (story, date, docnum)
    by_story_rank: np.ndarray  # the docnum at each place of that order
    category_values: list[str]
    category_masks: np.ndarray  # bool [category, doc]
    paper_values: list[str]
    paper_masks: np.ndarray  # bool [paper, doc]
    title_ids: np.ndarray  # int64 per doc: equal for titles equal as a reader compares them (-1: unknown)
    title_id_of: dict[str, int]  # title_key -> its number in title_ids
    story_leaders: np.ndarray  # int64 per doc: its story's earliest live post (-1: the story has none)

    @classmethod
    def build(cls, view: IndexView) -> DocTable:
        reader = view.searcher.reader()
        size = reader.doc_count_all()
        # An empty index has no columns at all.
        dates = storage.numeric_column(reader, storage.DATE)
        days = (dates - EPOCH_TICKS) // DAY_TICKS
        months = (dates - EPOCH_TICKS).astype("datetime64[us]").astype("datetime64[M]").astype(np.int32)
        exact = np.unique(storage.bytes_column(reader, storage.STORY), return_inverse=True)[1].astype(np.int64)
        cats, cat_masks = cls._masks(view, storage.CATEGORY, size)
        papers, paper_masks = cls._masks(view, storage.PAPER, size)
        title_ids, title_id_of = cls._title_ids(view, size)
        stories = cls._stories(view, exact, dates, paper_masks, title_ids if title_id_of else None)
        by_story_rank = np.lexsort((np.arange(size), dates, stories))
        story_rank = np.empty(size, dtype=np.int64)
        story_rank[by_story_rank] = np.arange(size)
        return cls(dates, days, months, exact, stories, story_rank, by_story_rank, cats, cat_masks, papers,
                   paper_masks, title_ids, title_id_of, _story_leaders(stories, by_story_rank, view.is_live))

    @staticmethod
    def _stories(view: IndexView, exact: np.ndarray, dates: np.ndarray, paper_masks: np.ndarray,
                 title_ids: np.ndarray | None) -> np.ndarray:
        reader = view.searcher.reader()
        size = exact.size
        if not size or storage.SIGNATURE not in reader.schema or not reader.has_column(storage.SIGNATURE):
            log.info("index has no near-duplicate signatures: only identical posts are one story")
            return exact
        sizes, numbers, minima = decode(storage.fixed_bytes_column(reader, storage.SIGNATURE), size)
        papers = (np.where(paper_masks.any(axis=0), paper_masks.argmax(axis=0), -1) if paper_masks.size
                  else np.full(size, -1))
        return near_stories(exact, dates, papers, view.live, sizes, numbers, minima, title_ids)

    @staticmethod
    def _title_ids(view: IndexView, size: int) -> tuple[np.ndarray, dict[str, int]]:
        reader = view.searcher.reader()
        if not size or storage.TITLE_KEY not in reader.schema or not reader.has_column(storage.TITLE_KEY):
            return np.full(size, -1, dtype=np.int64), {}
        values, ids = np.unique(storage.bytes_column(reader, storage.TITLE_KEY), return_inverse=True)
        return ids.astype(np.int64), {value.decode("utf-8"): number for number, value in enumerate(values.tolist())}

    @staticmethod
    def _masks(view: IndexView, field: str, size: int) -> tuple[list[str], np.ndarray]:
        values = [value.decode("utf-8") if isinstance(value, bytes) else value
                  for value in view.searcher.reader().lexicon(field)]
        masks = np.zeros((len(values), size), dtype=bool)
        for row, value in enumerate(values):
            masks[row, evaluate(view, wq.Term(field, value), scored=False).docs] = True
        return values, masks

    def category_labels(self, live: np.ndarray) -> dict[str, str]:
        """Each category's Chinese name: the paper most of its posts carry (cailianshe → 财联社). The
        data has no other name for a category."""
        labels = {}
        for row, category in enumerate(self.category_values):
            in_category = live[self.category_masks[row, live]]
            counts = self.paper_masks[:, in_category].sum(axis=1) if self.paper_values else np.zeros(0)
            labels[category] = self.paper_values[int(counts.argmax())] if counts.size and counts.max() else category
        return labels


def _story_leaders(stories: np.ndarray, by_story_rank: np.ndarray, is_live: np.ndarray) -> np.ndarray:
    """Each doc's story's earliest live post (-1 where the story has none): the story's name in
    exports, the same across searches as long as that post stays."""
    ordered = by_story_rank[is_live[by_story_rank]]  # live docs by (story, date, docnum)
    ordered_stories = stories[ordered]
    first = np.concatenate(([True], ordered_stories[1:] != ordered_stories[:-1]))[:ordered.size]
    leaders = np.full(int(stories.max()) + 1 if stories.size else 0, -1, dtype=np.int64)
    leaders[ordered_stories[first]] = ordered[first]
    return leaders[stories]


def from_ticks(ticks: int) -> dt.datetime:
    return storage.from_local_naive(long_to_datetime(int(ticks)))


def day_labels(days: np.ndarray) -> np.ndarray:
    """ "YYYY-MM-DD" of day numbers."""
    return days.astype("datetime64[D]").astype(str)
