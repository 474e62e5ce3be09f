"""The per-document arrays of one index generation, read from its columns once.

Filters, facet counts, story grouping, the timeline and trends are numpy over these arrays
(indexed by Whoosh docnum), so they cost the same whatever the number of hits.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

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
MINUTE_TICKS = 60 * 1_000_000
T = TypeVar("T")


class DocTable:
    """Per-document arrays of one generation, indexed by Whoosh docnum.

    Dates, categories and papers are read when the table is made; the story and title arrays,
    which cost the most (near-duplicate stories take seconds on 100,000 posts), on first use:
    `finsearch stats` needs none of them, and a server makes them before the generation is served
    (`prepare`). They are made under `lock`, the lock of the searcher the columns are read with,
    and only that lock, so threads asking for one never wait on each other in two orders.
    """

    def __init__(self, view: IndexView, lock: threading.RLock):
        self._view = view
        self._lock = lock
        self._made: dict[str, Any] = {}
        reader = view.searcher.reader()
        self.size = reader.doc_count_all()
        # int64 Whoosh ticks (µs since datetime.min) of the site's local time; an empty index has no columns.
        self.dates = storage.numeric_column(reader, storage.DATE)
        self.days = (self.dates - EPOCH_TICKS) // DAY_TICKS  # int64 day number since 1970-01-01, in the site's time
        # int32 month number since 1970-01
        self.months = (self.dates - EPOCH_TICKS).astype("datetime64[us]").astype("datetime64[M]").astype(np.int32)
        self.category_values, self.category_masks = self._masks(storage.CATEGORY)  # bool [category, doc]
        self.paper_values, self.paper_masks = self._masks(storage.PAPER)  # bool [paper, doc]

    def prepare(self) -> None:
        """Make every array now."""
        _ = self.story_leaders, self.story_rank, self.title_ids

    def _once(self, name: str, make: Callable[[], T]) -> T:
        found = self._made.get(name)
        if found is None:
            with self._lock:
                found = self._made.get(name)
                if found is None:
                    found = self._made[name] = make()
        return found

    @property
    def exact(self) -> np.ndarray:
        """int64 per doc: posts with the same title and body share one number."""
        return self._once("exact", lambda: np.unique(storage.bytes_column(self._view.searcher.reader(), storage.STORY),
                                                     return_inverse=True)[1].astype(np.int64))

    @property
    def stories(self) -> np.ndarray:
        """int64 story number: `exact` with near-duplicates merged (search.stories)."""
        def make() -> np.ndarray:
            title_ids, title_id_of = self._titles()
            return self._stories(self._view, self.exact, self.dates, self.paper_masks,
                                 title_ids if title_id_of else None)
        return self._once("stories", make)

    @property
    def by_story_rank(self) -> np.ndarray:
        """The docnum at each place of the order (story, date, docnum)."""
        return self._once("by_story_rank", lambda: np.lexsort((np.arange(self.size), self.dates, self.stories)))

    @property
    def story_rank(self) -> np.ndarray:
        """int64 place of each doc in the order (story, date, docnum)."""
        def make() -> np.ndarray:
            rank = np.empty(self.size, dtype=np.int64)
            rank[self.by_story_rank] = np.arange(self.size)
            return rank
        return self._once("story_rank", make)

    @property
    def story_leaders(self) -> np.ndarray:
        """int64 per doc: its story's earliest live post (-1: the story has none)."""
        return self._once("story_leaders", lambda: _story_leaders(self.stories, self.by_story_rank, self._view.is_live))

    @property
    def title_ids(self) -> np.ndarray:
        """int64 per doc: equal for titles equal as a reader compares them (-1: unknown)."""
        return self._titles()[0]

    @property
    def title_id_of(self) -> dict[str, int]:
        """title_key -> its number in title_ids."""
        return self._titles()[1]

    def _titles(self) -> tuple[np.ndarray, dict[str, int]]:
        return self._once("titles", lambda: self._title_ids(self._view, self.size))

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

    def _masks(self, field: str) -> tuple[list[str], np.ndarray]:
        values = [value.decode("utf-8") if isinstance(value, bytes) else value
                  for value in self._view.searcher.reader().lexicon(field)]
        masks = np.zeros((len(values), self.size), dtype=bool)
        for row, value in enumerate(values):
            masks[row, evaluate(self._view, wq.Term(field, value), scored=False).docs] = True
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


def lag_minutes(table: DocTable, doc: int, earlier: int) -> int:
    """Minutes from `earlier` to `doc` as their times are shown, to the minute (07:55:50 → 07:57:10: 2)."""
    return int(table.dates[doc] // MINUTE_TICKS - table.dates[earlier] // MINUTE_TICKS)


def from_ticks(ticks: int) -> dt.datetime:
    return storage.from_local_naive(long_to_datetime(int(ticks)))


def day_labels(days: np.ndarray) -> np.ndarray:
    """ "YYYY-MM-DD" of day numbers."""
    return days.astype("datetime64[D]").astype(str)
