"""The app's one SearchEngine, and the facts about the index the pages reuse."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from finsearch.search import IndexMissing, IndexStats, SearchEngine

log = logging.getLogger(__name__)


class SearchService:
    """Opens the engine at start-up; if there is no index yet, retries on each request until there is."""

    def __init__(self, index_dir, stats_ttl: float = 300):
        self.index_dir = index_dir
        self.stats_ttl = stats_ttl
        self._lock = threading.Lock()
        self._engine: SearchEngine | None = None
        self._stats: tuple[float, IndexStats] | None = None
        try:
            self.engine()
        except IndexMissing as error:
            log.warning("%s", error)

    def engine(self) -> SearchEngine:
        """The engine; raises search.IndexMissing while there is no index."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = SearchEngine(self.index_dir)
        return self._engine

    def stats(self) -> IndexStats:
        """The index's stats, re-read at most every `stats_ttl` seconds (the engine follows swaps)."""
        cached = self._stats
        if cached is not None and time.monotonic() - cached[0] < self.stats_ttl:
            return cached[1]
        stats = self.engine().stats()
        self._stats = (time.monotonic(), stats)
        return stats

    def reference_date(self) -> dt.date:
        """"Now" for 近一周/近一月/近一年: the newest post's day, since an archive (like the sample
        data, 2021-2022 and 2026-05..08) need not be current and today would give empty ranges;
        today if the index is empty."""
        last = self.stats().last_date
        return last.date() if last is not None else dt.date.today()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
