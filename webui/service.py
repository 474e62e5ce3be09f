"""The app's one SearchEngine, and the facts about the index the pages reuse."""
from __future__ import annotations

import datetime as dt
import logging
import threading

from finsearch.search import IndexMissing, IndexStats, SearchEngine

log = logging.getLogger(__name__)


class SearchService:
    """Opens the engine at start-up; if there is no index yet, retries on each request until there is.

    `watch`: prepare each new generation in the background (a server); `verify`: check every
    byte of each generation opened, in the background.
    """

    def __init__(self, index_dir, watch: bool = False, verify: bool = False):
        self.index_dir = index_dir
        self._watch = watch
        self._verify = verify
        self._lock = threading.Lock()
        self._engine: SearchEngine | None = None
        try:
            self.engine()
        except IndexMissing as error:
            log.warning("%s", error)

    def engine(self) -> SearchEngine:
        """The engine; raises search.IndexMissing while there is no readable index."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    engine = SearchEngine(self.index_dir, verify=self._verify)
                    if self._watch:
                        engine.watch()
                    self._engine = engine
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def reference_date(stats: IndexStats) -> dt.date:
    """"Now" for 近一周/近一月/近一年: the newest post's day, since an archive (like the sample
    data, 2021-2022 and 2026-05..08) need not be current and today would give empty ranges;
    today if the index is empty."""
    return stats.last_date.date() if stats.last_date is not None else dt.date.today()
