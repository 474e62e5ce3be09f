"""One index generation as searches see it, prepared once and held while in use.

A `Snapshot` is everything a request reads of one generation: the generation itself (held,
so the writer never removes it while it is read), its searcher, the per-document table,
the aliases with the stock names it learned, its figures (`IndexStats`), the match cache
and the suggestion vocabulary. A request takes the current snapshot once and uses it from
start to end, so the parts of one page never mix two generations, and an export reads the
generation it started on to its last row.

`Snapshots` hands them out, as Lucene's SearcherManager does: `acquire()` gives the current
one; a new generation is prepared once, before any request uses it (in the background when
`watch()` runs, as tantivy's warmers do, while requests keep the old one), and an old
snapshot is closed when the last request holding it is done.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq

from finsearch import storage
from finsearch.analysis.aliases import AliasTable, shipped_groups, shipped_stocks
from finsearch.search import deadline
from finsearch.search.companies import Companies, Mentions
from finsearch.search.coverage import Coverage
from finsearch.search.docsets import merged, sorted_distinct
from finsearch.search.doctable import DocTable, from_ticks
from finsearch.search.evaluate import Counter, IndexView, Matches, evaluate
from finsearch.search.generation_cache import GenerationCache, digest, packed, unpacked
from finsearch.search.query import WORD_FIELD_OF_GRAM
from finsearch.search.suggest import Vocabulary
from finsearch.search.types import FacetCount, IndexStats

log = logging.getLogger(__name__)

MATCH_CACHE_SIZE = 32  # queries whose matches and scores are kept (per generation)
WATCH_INTERVAL = 1.0  # seconds between looks at `current` by a server's watcher
BACKGROUND_NICENESS = 10  # of a server's background threads: below requests, still done in seconds
ALIASES_FORMAT = 1  # of the cached alias table: bump when AliasTable.build's rule changes


class Snapshot:
    """One generation, ready to search. Whoosh readers are not thread-safe: `lock` serialises the
    use of `searcher`; a long reader (an export, the vocabulary) opens a reader of its own."""

    def __init__(self, root: Path, match_cache: int = MATCH_CACHE_SIZE):
        started = time.perf_counter()
        self.generation = storage.Generation(root)
        try:
            self.searcher = self.generation.index.searcher()
            reader = self.searcher.reader()
            self.view = IndexView(self.searcher, storage.reader_live_docs(reader), WORD_FIELD_OF_GRAM)
            self.documents = storage.Documents(reader)  # as `searcher`, used under `lock`
            self.lock = threading.RLock()
            columns = storage.doc_columns(self.generation.build, reader, self.generation.index.latest_generation())
            self.table = DocTable.build(columns, self.view.is_live)
            self.stats = self._stats(root)
        except BaseException:
            self.generation.close()
            raise
        self.damage: list[storage.Damage] = []  # what a check of every byte found (see verify)
        self.cache = GenerationCache(root)  # what is derived from it, kept for the next process
        self._matches: OrderedDict[Any, Any] = OrderedDict()
        self._match_cache_size = match_cache
        self._vocabulary: Vocabulary | None = None
        self._mentions: Mentions | None = None
        self._mentions_lock = threading.Lock()
        self._vocabulary_lock = threading.Lock()
        # The generation before's, answering suggestions while this one's is built in the background.
        self.stand_in_vocabulary: Vocabulary | None = None
        self._users = 0
        self._retired = False
        self._state_lock = threading.Lock()
        log.info("opened index generation %s (%d documents) in %.2f s", self.generation.name,
                 self.stats.documents, time.perf_counter() - started)

    @property
    def name(self) -> str:
        return self.generation.name

    # Made on first use (`finsearch stats` needs neither); a server's watcher makes them before serving.
    @functools.cached_property
    def stock_pairs(self) -> list[tuple[str, str]]:
        """The shipped stock table and the (name, code) pairs this generation's posts write."""
        return [*shipped_stocks(), *storage.stock_name_pairs(self.generation.build)]

    @functools.cached_property
    def aliases(self) -> AliasTable:
        """Read from the cache folder once a process has made it for this generation
        (search.generation_cache): making it reads every stock name the posts write."""
        key = digest(self.generation.manifest, ALIASES_FORMAT, shipped_groups(), shipped_stocks())
        return _alias_table(self.cache.arrays("aliases", key, lambda: _alias_arrays(
            AliasTable.build(shipped_groups(), self.stock_pairs))))

    @functools.cached_property
    def companies(self) -> Companies:
        return Companies(shipped_stocks(), self.stock_pairs)

    def prepare(self) -> None:
        """Make now what searches use, rather than in the first request that needs it."""
        _ = self.aliases
        self.mentions()

    # -- companies ---------------------------------------------------------------------

    def mentioning(self, codes: tuple[str, ...]) -> np.ndarray | None:
        """The live docnums that mention any of the companies of `codes` (ascending), each company's
        cached as a search's matches are; None for no codes (no filter)."""
        if not codes:
            return None
        found = [self.docs(self.companies.query(code)) for code in codes]
        return merged(found)

    def mentions(self, wait: bool = True) -> Mentions | None:
        """Which companies each post mentions, made once (seconds on a large index); without `wait`,
        None while another thread makes it."""
        if self._mentions is not None:
            return self._mentions
        if not self._mentions_lock.acquire(blocking=wait):
            return None
        try:
            if self._mentions is None:
                started = time.perf_counter()
                self._mentions = Mentions.of(self.view, self.companies, self.lock, self.generation.manifest,
                                             self.cache)
                log.info("companies of %s: %d mentions of %d companies in %.2f s", self.name,
                         self._mentions.companies.size, len(self._mentions.codes), time.perf_counter() - started)
            return self._mentions
        finally:
            self._mentions_lock.release()

    def _stats(self, root: Path) -> IndexStats:
        live, table = self.view.live, self.table
        dates = table.dates[live]
        reader = self.searcher.reader()
        return IndexStats(
            location=str(root), documents=reader.doc_count(), segments=len(reader.leaf_readers()),
            size_bytes=self.generation.size_bytes,
            first_date=from_ticks(dates.min()) if dates.size else None,
            last_date=from_ticks(dates.max()) if dates.size else None,
            categories=facet_counts(table.category_values, table.category_masks, live, table.category_rows),
            papers=facet_counts(table.paper_values, table.paper_masks, live, table.paper_rows),
            generation=self.generation.number, build=self.generation.name, created=self.generation.created,
            category_labels=tuple(table.category_labels(live).items()),
            coverage=Coverage(sorted_distinct(table.days[live])))

    # -- matching, cached per generation ------------------------------------------

    def matches(self, q: wq.Query, scored: bool) -> Matches:
        """Every live match of `q` (ascending) and its score, cached: facets, other pages and
        sorts of the same query reuse the evaluation; a sort by date needs no scores."""
        for key in [(repr(q), True)] + ([] if scored else [(repr(q), False)]):
            found = self._cached(key)
            if found is not None:
                return found
        deadline.check()
        with self.lock:
            found = evaluate(self.view, q, scored)
        self._cache(((repr(q), scored)), found)
        return found

    def docs(self, q: wq.Query) -> np.ndarray:
        """The live docnums matching `q` (no scores), cached like `matches`."""
        key = ("docs", repr(q))
        found = self._cached(key)
        if found is None:
            deadline.check()
            with self.lock:
                found = evaluate(self.view, q, scored=False).docs
            self._cache(key, found)
        return found

    def counter(self, within: np.ndarray) -> Callable[[wq.Query], int]:
        """How many of `within` (sorted live docnums) match a query, for several queries in a row
        (search.evaluate.Counter); not cached across calls (the sets vary)."""
        counter = Counter(self.view, within)

        def count(q: wq.Query) -> int:
            deadline.check()
            with self.lock:
                return counter.count(q)
        return count

    def _cached(self, key: Any) -> Any:
        with self._state_lock:
            if key in self._matches:
                self._matches.move_to_end(key)
                return self._matches[key]
        return None

    def _cache(self, key: Any, value: Any) -> None:
        with self._state_lock:
            self._matches[key] = value
            while len(self._matches) > self._match_cache_size:
                self._matches.popitem(last=False)

    def clear_cache(self) -> None:
        with self._state_lock:
            self._matches.clear()

    # -- readers of its own, for long work ----------------------------------------------

    @contextmanager
    def own_reader(self) -> Iterator[Any]:
        """A Whoosh reader of this generation for one thread's long work (an export, the
        vocabulary), so searches meanwhile keep the shared searcher to themselves."""
        with self.generation.index.reader() as reader:
            yield reader

    # -- suggestions -----------------------------------------------------------------

    def ready_vocabulary(self) -> Vocabulary | None:
        """The vocabulary if built (or a stand-in), without waiting: None while there is none."""
        return self._vocabulary or self.stand_in_vocabulary

    def vocabulary(self, wait: bool = True) -> Vocabulary:
        """The suggestion vocabulary, built once (seconds on a large index); without `wait`, the
        previous generation's stands in while another thread builds it."""
        if self._vocabulary is not None:
            return self._vocabulary
        if not self._vocabulary_lock.acquire(blocking=wait or self.stand_in_vocabulary is None):
            assert self.stand_in_vocabulary is not None
            return self.stand_in_vocabulary
        try:
            if self._vocabulary is None:
                def build() -> Vocabulary:
                    with self.own_reader() as reader:
                        return Vocabulary.build(reader, self.stock_pairs)
                self._vocabulary = Vocabulary.of(self.stock_pairs, self.generation.manifest, self.cache, build)
                self.stand_in_vocabulary = None
            return self._vocabulary
        finally:
            self._vocabulary_lock.release()

    # -- damage ----------------------------------------------------------------------

    def verify(self) -> list[storage.Damage]:
        """Every byte against the manifest's checksums (seconds on a large index: a server does it
        in the background, yielding between files); remembered in `damage`."""
        self.damage = self.generation.verify(between_files=lambda: time.sleep(0))
        if self.damage:
            log.error("index generation %s is damaged: %s", self.name, "; ".join(map(str, self.damage)))
        return self.damage

    def raise_if_damaged(self) -> None:
        if self.damage:
            raise storage.IndexDamaged(f"the index generation {self.name} is damaged: "
                                       + "; ".join(map(str, self.damage[:3])), (d.file for d in self.damage))

    # -- lifetime --------------------------------------------------------------------

    @contextmanager
    def held(self) -> Iterator[Snapshot]:
        """Hold it for work outside a request (a background thread); raises RuntimeError if closed."""
        if not self._take():
            raise RuntimeError(f"the snapshot of {self.name} is closed")
        try:
            yield self
        finally:
            self._give_back()

    def _take(self) -> bool:
        with self._state_lock:
            if self._retired and self._users == 0:
                return False
            self._users += 1
            return True

    def _give_back(self) -> None:
        with self._state_lock:
            self._users -= 1
            done = self._retired and self._users == 0
        if done:
            self._close()

    def retire(self) -> None:
        """No new request gets it; closed when the last one holding it is done."""
        with self._state_lock:
            self._retired = True
            done = self._users == 0
        if done:
            self._close()

    def _close(self) -> None:
        self.searcher.close()
        self.generation.close()
        log.info("closed index generation %s", self.name)


class Snapshots:
    """The current snapshot of an index root, for every request of a process."""

    def __init__(self, root: Path, match_cache: int = MATCH_CACHE_SIZE, verify: bool = False):
        """`verify`: check every byte of each new generation in the background (a server)."""
        self.root = root
        self._match_cache = match_cache
        self._verify = verify
        self._current: Snapshot | None = None
        self._lock = threading.Lock()
        self._preparing = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stopped = threading.Event()
        # Why the newest generation is not the one served (it could not be opened: damaged,
        # incompatible), for monitoring; None once a generation opens.
        self.problem: storage.IndexMissing | None = None

    @contextmanager
    def acquire(self) -> Iterator[Snapshot]:
        """The current generation's snapshot, held until the block ends. Without a watcher, a
        new generation is opened here, by the first request that sees it."""
        while True:
            snapshot = self._current
            if snapshot is None or (self._watcher is None and self._changed(snapshot)):
                snapshot = self._refresh()
            if snapshot._take():
                break
        try:
            snapshot.raise_if_damaged()
            yield snapshot
        finally:
            snapshot._give_back()

    def current_name(self) -> str | None:
        snapshot = self._current
        return snapshot.name if snapshot else None

    def _changed(self, snapshot: Snapshot) -> bool:
        try:
            return storage.current_build(self.root) != snapshot.generation.build
        except storage.IndexMissing:
            return True

    def _refresh(self) -> Snapshot:
        """Open the current generation unless it is the one held; returns the current snapshot."""
        with self._preparing:
            snapshot = self._current
            if snapshot is not None and not self._changed(snapshot):
                return snapshot
            try:
                prepared = Snapshot(self.root, self._match_cache)
            except storage.IndexMissing as error:
                self.problem = error
                raise
            self.problem = None
            if self._watcher is not None:  # in the background, while requests keep the old one
                try:
                    prepared.prepare()
                except BaseException:
                    prepared.retire()
                    raise
            if self._verify:
                threading.Thread(target=_verify, args=(prepared,), name=f"verify {prepared.name}", daemon=True).start()
            with self._lock:
                old, self._current = self._current, prepared
            if old is not None:
                prepared.stand_in_vocabulary = old._vocabulary or old.stand_in_vocabulary
                old.retire()
            if self._watcher is not None:
                threading.Thread(target=_build_vocabulary, args=(prepared,), name=f"vocabulary {prepared.name}",
                                 daemon=True).start()
            return prepared

    @property
    def watching(self) -> bool:
        return self._watcher is not None

    def watch(self, interval: float = WATCH_INTERVAL, on_error: Callable[[BaseException], None] | None = None) -> None:
        """Prepare each new generation in the background from now on; requests keep the one they
        have until the next is ready (a server calls this once)."""
        if self._watcher is not None:
            return
        snapshot = self._current  # the one opened before watching: made whole in the background, as the next
        if snapshot is not None:  # will be (its first requests make what they need themselves meanwhile)
            threading.Thread(target=_prepare, args=(snapshot,), name=f"prepare {snapshot.name}", daemon=True).start()

        def run() -> None:
            while not self._stopped.wait(interval):
                try:
                    snapshot = self._current
                    if snapshot is None or self._changed(snapshot):
                        self._refresh()
                except storage.IndexMissing as error:  # none yet, damaged, incompatible: requests say so
                    log.debug("watcher: %s", error)
                except Exception as error:  # the watcher must outlive any one bad generation
                    log.exception("watcher: preparing the new generation failed")
                    if on_error is not None:
                        on_error(error)
        self._watcher = threading.Thread(target=run, name="finsearch generation watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stopped.set()
        with self._lock:
            old, self._current = self._current, None
        if old is not None:
            old.retire()


def _in_background(snapshot: Snapshot, work: Callable[[Snapshot], Any]) -> None:
    """`work` on a held snapshot, in a background thread: a snapshot closed before it got there
    needs nothing; a failure is logged (requests make what is missing themselves)."""
    try:
        with snapshot.held():
            work(snapshot)
    except RuntimeError:  # replaced and closed before it got here
        pass
    except Exception:
        log.exception("%s of %s in the background failed", work.__name__, snapshot.name)


def _prepare(snapshot: Snapshot) -> None:
    _in_background(snapshot, Snapshot.prepare)


def _build_vocabulary(snapshot: Snapshot) -> None:
    yield_to_requests()  # suggestions make do with the previous generation's meanwhile
    _in_background(snapshot, Snapshot.vocabulary)


def _verify(snapshot: Snapshot) -> None:
    yield_to_requests()
    snapshot.verify()


def yield_to_requests() -> None:
    """Lower the calling thread's CPU priority (Linux schedules threads by their own nice value):
    a worker's background work (checking every byte of a generation, building its vocabulary)
    then takes the cores only when requests leave them. Not for what requests wait for (preparing a
    generation): they would wait longer. Elsewhere, or not allowed: as it was."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
    except (AttributeError, OSError):
        pass


def _alias_arrays(table: AliasTable) -> dict[str, np.ndarray]:
    keys = list(table.others)
    return {"keys": packed(keys), "names": packed([name for key in keys for name in table.others[key]]),
            "counts": np.array([len(table.others[key]) for key in keys], dtype=np.int32)}


def _alias_table(arrays: dict[str, np.ndarray]) -> AliasTable:
    names = unpacked(arrays["names"])
    ends = np.cumsum(arrays["counts"]).tolist()
    return AliasTable(dict(zip(unpacked(arrays["keys"]),
                               (tuple(names[start:end]) for start, end in zip([0, *ends], ends)))))


def facet_counts(values: list[str], masks: np.ndarray, docs: np.ndarray,
                 rows: np.ndarray | None = None) -> tuple[FacetCount, ...]:
    """How many of `docs` have each value, most first; `rows`: each doc's one value's row, when
    no doc has two (DocTable.paper_rows)."""
    if not values:
        return ()
    if rows is not None:
        counts = np.bincount(rows[docs] + 1, minlength=len(values) + 1)[1:].tolist()
    else:
        # A row at a time: gathering one contiguous row and counting it is ten times quicker than
        # the two-dimensional gather and a sum.
        counts = [np.count_nonzero(masks[row][docs]) for row in range(len(values))]
    pairs = [(values[i], int(c)) for i, c in enumerate(counts) if c]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return tuple(FacetCount(v, c) for v, c in pairs)
