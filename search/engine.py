"""The search API: one entry point for the CLI and the web UI.

Matching and ranking (BM25F) are numpy over whole posting lists (search.evaluate);
filters and facet counts are numpy over per-document arrays (date, category and
paper membership) built once per index version, so a facet count costs the same
whatever the number of hits.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.util.times import datetime_to_long, long_to_datetime

from finsearch import storage
from finsearch.analysis import word_analyzer
from finsearch.analysis.aliases import AliasTable, shipped_groups, shipped_stocks
from finsearch.analysis.near_duplicates import decode, title_key
from finsearch.search import ranking
from finsearch.search.coverage import Coverage
from finsearch.search.evaluate import IndexView, evaluate
from finsearch.search.headline import headline
from finsearch.search.query import WORD_FIELD_OF_GRAM, ParsedQuery, parse_query
from finsearch.search.snippets import highlight_html, match_spans, snippet_html
from finsearch.search.spelling import corrections
from finsearch.search.stories import near_stories
from finsearch.search.suggest import Completion, Vocabulary, found_together
from finsearch.search.trends import TrendRequest, TrendResult, count_trends
from finsearch.search.types import (
    MAX_PAGE,
    MAX_PAGE_SIZE,
    Article,
    FacetCount,
    Facets,
    Hit,
    IndexHealth,
    IndexStats,
    Reprint,
    SearchError,
    SearchRequest,
    SearchResult,
    Sort,
    Suggestion,
)
from finsearch.search.zero_results import suggestions
from finsearch.storage import (
    BODY,
    CATEGORY,
    DATE,
    ID_FIELD,
    PAPER,
    PATH,
    SIGNATURE,
    STORY,
    TAGS,
    TITLE,
    TITLE_BOOST,
    TITLE_KEY,
    URL,
    from_local_naive,
)

log = logging.getLogger(__name__)

MATCH_CACHE_SIZE = 32  # queries whose matches and scores are kept (per index version)
EXPORT_BATCH = 200  # posts read per lock hold while streaming every hit
# What an article shows of a long post (the index keeps all of it for searching).
MAX_ARTICLE_CHARS = 200_000
MAX_ARTICLE_PARAGRAPHS = 2_000
_EPOCH_TICKS = datetime_to_long(dt.datetime(1970, 1, 1))  # Whoosh counts from datetime.min
_DAY_TICKS = 86_400 * 1_000_000
# 相关报道 (SearchEngine.related): an OR of the article's most telling words, by tf-idf.
RELATED_LIMIT = 5
KEY_TERMS = 6
RELATED_SHARED_TERMS = 2  # key words a related post must contain
RELATED_CANDIDATES = 4  # best matches read per related post wanted (some share only one word)
KEY_TERM_CHARS = 5_000  # of the body: the lead says what a news post is about
_KEY_TERM = re.compile(r"\w{2,}")  # a word, not punctuation or query syntax


@dataclass
class _FacetTable:
    """Per-document arrays of one index version, indexed by Whoosh docnum."""

    dates: np.ndarray  # int64 Whoosh ticks (µs since datetime.min) of the site's local time
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
    def build(cls, view: IndexView) -> _FacetTable:
        reader = view.searcher.reader()
        size = reader.doc_count_all()
        # An empty index has no columns at all.
        dates = storage.numeric_column(reader, DATE)
        months = (dates - _EPOCH_TICKS).astype("datetime64[us]").astype("datetime64[M]").astype(np.int32)
        exact = np.unique(storage.bytes_column(reader, STORY), return_inverse=True)[1].astype(np.int64)
        cats, cat_masks = cls._masks(view, CATEGORY, size)
        papers, paper_masks = cls._masks(view, PAPER, size)
        stories = cls._stories(view, exact, dates, paper_masks)
        by_story_rank = np.lexsort((np.arange(size), dates, stories))
        story_rank = np.empty(size, dtype=np.int64)
        story_rank[by_story_rank] = np.arange(size)
        title_ids, title_id_of = cls._title_ids(view, size)
        return cls(dates, months, exact, stories, story_rank, by_story_rank, cats, cat_masks, papers, paper_masks,
                   title_ids, title_id_of, _story_leaders(stories, by_story_rank, view.is_live))

    @staticmethod
    def _stories(view: IndexView, exact: np.ndarray, dates: np.ndarray, paper_masks: np.ndarray) -> np.ndarray:
        reader = view.searcher.reader()
        size = exact.size
        if not size or SIGNATURE not in reader.schema or not reader.has_column(SIGNATURE):
            log.info("index has no near-duplicate signatures: only identical posts are one story")
            return exact
        sizes, numbers, minima = decode(storage.fixed_bytes_column(reader, SIGNATURE), size)
        papers = (np.where(paper_masks.any(axis=0), paper_masks.argmax(axis=0), -1) if paper_masks.size
                  else np.full(size, -1))
        return near_stories(exact, dates, papers, view.live, sizes, numbers, minima)

    @staticmethod
    def _title_ids(view: IndexView, size: int) -> tuple[np.ndarray, dict[str, int]]:
        reader = view.searcher.reader()
        if not size or TITLE_KEY not in reader.schema or not reader.has_column(TITLE_KEY):
            return np.full(size, -1, dtype=np.int64), {}
        values, ids = np.unique(storage.bytes_column(reader, TITLE_KEY), return_inverse=True)
        return ids.astype(np.int64), {value.decode("utf-8"): number for number, value in enumerate(values.tolist())}

    @staticmethod
    def _masks(view: IndexView, field: str, size: int):
        values = [value.decode("utf-8") if isinstance(value, bytes) else value
                  for value in view.searcher.reader().lexicon(field)]
        masks = np.zeros((len(values), size), dtype=bool)
        for row, value in enumerate(values):
            masks[row, evaluate(view, wq.Term(field, value), scored=False).docs] = True
        return values, masks


class SearchEngine:
    """Answers searches from the current index; follows index swaps and updates.

    Safe to share between threads; each process keeps one open searcher.
    """

    def __init__(self, index_root: str | Path | None = None, match_cache: int = MATCH_CACHE_SIZE):
        """`match_cache`: how many queries' matches to keep (0: none, for measuring cold searches)."""
        self.root = storage.resolve_root(index_root)
        self._match_cache_size = match_cache
        self._lock = threading.RLock()
        self._build: Path | None = None
        self._searcher: Any = None  # a whoosh Searcher (Whoosh is untyped)
        self._view: IndexView | None = None
        self._table: _FacetTable | None = None
        self._table_generation: tuple[Path, Any] | None = None  # (build, Whoosh generation)
        self._aliases = AliasTable()  # aliases.txt, the shipped stock table and the stock names of the current build
        self._match_cache: OrderedDict = OrderedDict()
        self._vocabulary: tuple[object, Vocabulary] | None = None  # (generation, its suggestions)
        self._vocabulary_lock = threading.Lock()
        self._current()  # fail early if there is no index
        parse_query("预热 warm-up")  # load jieba and OpenCC now, not in the first request

    # -- public API -------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        _check(request)
        with self._lock:
            searcher, table = self._current()
            parsed = parse_query(request.query, None if request.literal else self._aliases)
            expanded = parse_query(request.query, self._aliases).expanded if request.literal else parsed.expanded
            docs, scores = self._matches(parsed.query, request.sort)
            in_dates, in_categories, in_papers = self._filter_masks(table, docs, request)
            keep = in_dates & in_categories & in_papers
            matched = docs[keep]
            tiers = self._tiers(table, parsed, matched, request.sort)
            selected, selected_scores, selected_tiers = _first_of_each_story(table, matched, scores[keep], tiers)
            # Each facet counts under the other filters, so several values can be picked.
            facets = Facets(
                categories=_counts(table.category_values, table.category_masks, docs[in_dates & in_papers]),
                papers=_counts(table.paper_values, table.paper_masks, docs[in_dates & in_categories]),
                months=_month_counts(table.months[docs[in_categories & in_papers]]),
            )
            page_docs = _page(table, selected, selected_scores, selected_tiers, request)
            # The page's stories among all matches, once: their other posts are shown as reprints.
            on_page = matched[np.isin(table.stories[matched], table.stories[page_docs])]
            hits = tuple(self._hit(searcher, table, docnum, on_page, parsed.terms) for docnum in page_docs)
            offers = self._suggestions(table, request) if not matched.size else ()
        return SearchResult(request=request, total=int(selected.size), hits=hits, facets=facets,
                            seconds=time.perf_counter() - started, notice=parsed.notice,
                            articles=int(matched.size), expanded=expanded, suggestions=offers)

    def iter_hits(self, request: SearchRequest, batch_size: int = EXPORT_BATCH) -> Iterator[Hit]:
        """Every post the search matches, reprints included (each its own hit, `reprints` empty),
        in the request's order; `page` and `page_size` are ignored. For exports.

        The request is checked now (SearchError before anything is streamed); then stored fields
        and snippets are read one batch at a time, so memory holds the ordered docnums (8 bytes a
        post) and one batch. If the index changes mid-stream, raises SearchError ("index_changed")
        rather than mix two versions.
        """
        _check_dates(request)
        with self._lock:
            _, table = self._current()
            parsed = parse_query(request.query, None if request.literal else self._aliases)
            generation = self._table_generation
            docs, scores = self._matches(parsed.query, request.sort)
            in_dates, in_categories, in_papers = self._filter_masks(table, docs, request)
            keep = in_dates & in_categories & in_papers
            matched = docs[keep]
            tiers = self._tiers(table, parsed, matched, request.sort)
            ordered = matched[np.lexsort(_sort_keys(table, matched, scores[keep], tiers, request.sort))]
        no_reprints = np.empty(0, dtype=np.int64)

        def hits() -> Iterator[Hit]:
            for start in range(0, ordered.size, batch_size):
                with self._lock:
                    searcher, table = self._current()
                    if self._table_generation != generation:
                        raise SearchError("索引在导出期间已更新，请重新导出", code="index_changed")
                    batch = [self._hit(searcher, table, docnum, no_reprints, parsed.terms)
                             for docnum in ordered[start:start + batch_size].tolist()]
                yield from batch
        return hits()

    def version(self) -> str:
        """The current index version; it changes with every committed build, update or deletion
        (a key for caching answers)."""
        with self._lock:
            searcher, _ = self._current()
            build = self._build
            return f"{build.name if build else ''}/{searcher.reader().generation()}"

    def article(self, article_id: str) -> Article | None:
        with self._lock:
            searcher, _ = self._current()
            fields = searcher.document(**{ID_FIELD: article_id})
        if fields is None:
            return None
        paragraphs, truncated = _shown_paragraphs(fields.get(BODY, ""))
        return Article(
            id=fields[ID_FIELD], title=fields.get(TITLE, ""), date=from_local_naive(fields[DATE]),
            categories=_split(fields.get(CATEGORY)), tags=_split(fields.get(TAGS)),
            paper=fields.get(PAPER, ""), url=fields.get(URL, ""),
            paragraphs=paragraphs, truncated=truncated, path=fields.get(PATH, ""),
            headline=headline(fields.get(TITLE, ""), fields.get(BODY, "")))

    def stats(self) -> IndexStats:
        with self._lock:
            searcher, table = self._current()
            build = self._build
            reader = searcher.reader()
            docs = self._opened_view().live
            dates = table.dates[docs]
            segments = len(searcher.subsearchers) if searcher.subsearchers else 1
        assert build is not None  # _current() opened it
        size = sum(f.stat().st_size for f in build.iterdir() if f.is_file())
        first = _from_ticks(dates.min()) if dates.size else None
        last = _from_ticks(dates.max()) if dates.size else None
        return IndexStats(location=str(self.root), documents=reader.doc_count(), segments=segments,
                          size_bytes=size, first_date=first, last_date=last,
                          categories=_counts(table.category_values, table.category_masks, docs),
                          papers=_counts(table.paper_values, table.paper_masks, docs))

    def health(self) -> IndexHealth:
        """The generation being served, for monitoring."""
        with self._lock:
            searcher, _ = self._current()
            build = self._build
            documents = searcher.reader().doc_count()
        assert build is not None  # _current() opened it
        manifest = storage.read_manifest(build) or {}
        created = manifest.get("created")
        return IndexHealth(manifest.get("generation"), build.name, documents,
                           created if isinstance(created, (int, float)) else None)

    def trends(self, request: TrendRequest) -> TrendResult:
        """Stories per day/week/month of each term, under the request's filters (search.trends)."""
        started = time.perf_counter()
        filters = SearchRequest(date_from=request.date_from, date_to=request.date_to,
                                categories=request.categories, papers=request.papers)
        with self._lock:
            _, table = self._current()
            # Each term is read as the search reads it (aliases too), so a count is that search's total.
            parsed = [parse_query(term, self._aliases) for term in request.terms]

            def filtered(docs: np.ndarray) -> np.ndarray:
                in_dates, in_categories, in_papers = self._filter_masks(table, docs, filters)
                return docs[in_dates & in_categories & in_papers]

            population = filtered(self._opened_view().live)
            matches = [filtered(self._matches(p.query, Sort.NEWEST)[0]) for p in parsed]
            days = (table.dates - _EPOCH_TICKS) // _DAY_TICKS
            archive = Coverage(np.unique(days[self._opened_view().live]))
            stories = table.stories
        return count_trends(request, days, stories, population, matches, [p.notice for p in parsed], archive,
                            started)

    def day_counts(self, request: SearchRequest) -> tuple[FacetCount, ...]:
        """Posts per day ("YYYY-MM-DD", oldest first) among a search's matches, under all its filters
        (the timeline's data; the query's matches come from the cache the search just filled)."""
        return self._time_counts(request, "D")

    def hour_counts(self, request: SearchRequest) -> tuple[FacetCount, ...]:
        """Posts per hour ("YYYY-MM-DDTHH", oldest first), as day_counts: a timeline of a day or two."""
        return self._time_counts(request, "h")

    def _time_counts(self, request: SearchRequest, unit: str) -> tuple[FacetCount, ...]:
        _check(request)
        with self._lock:
            _, table = self._current()
            parsed = parse_query(request.query, None if request.literal else self._aliases)
            docs, _ = self._matches(parsed.query, request.sort)
            in_dates, in_categories, in_papers = self._filter_masks(table, docs, request)
            keep = in_dates & in_categories & in_papers
            times = (table.dates[docs[keep]] - _EPOCH_TICKS).astype("datetime64[us]").astype(f"datetime64[{unit}]")
        values, counts = np.unique(times, return_counts=True)
        labels = values.astype(str)
        return tuple(FacetCount(str(label), int(c)) for label, c in zip(labels, counts))

    def suggest(self, text: str, limit: int) -> tuple[Completion, ...]:
        """Completions of the last word of `text` from the index's vocabulary (search.suggest)."""
        with self._lock:
            self._current()
            generation = self._table_generation
        vocabulary = self._vocabulary
        if vocabulary is None or vocabulary[0] != generation:
            vocabulary = self._build_vocabulary(generation, stale=vocabulary)
        return vocabulary[1].suggest(text, limit, self._found_together)

    def _found_together(self, head: str, words: list[str]) -> list[int]:
        """How many posts the search for `head` finds that hold each of `words` (suggestions rank
        the completions of the word being typed by the words typed before it)."""
        with self._lock:
            self._current()
            try:
                parsed = parse_query(head, self._aliases)
            except SearchError:
                return [0] * len(words)
            docs, _ = self._matches(parsed.query, Sort.NEWEST)
            return found_together(self._opened_view(), docs, words)

    def _build_vocabulary(self, generation, stale):
        """One build at a time, outside the search lock (it takes seconds on a large index, and
        searches go on); meanwhile the previous generation's vocabulary answers.

        It reads through a reader of its own: a Whoosh reader is not safe to share between
        threads, and the searcher's serves the searches meanwhile (sharing it once made a search
        in a worker miss posts while the vocabulary was being built)."""
        if not self._vocabulary_lock.acquire(blocking=stale is None):
            return stale
        try:
            current = self._vocabulary
            if current is not None and current[0] == generation:
                return current
            try:
                ix, build = storage.open_current(self.root)
                with ix.reader() as reader:
                    built = (generation, Vocabulary.build(reader, _stock_pairs(build)))
            except Exception:  # e.g. the index was swapped meanwhile: try again next time
                if stale is None:
                    raise
                log.warning("suggestions: rebuilding the vocabulary failed; keeping the previous one",
                            exc_info=True)
                return stale
            self._vocabulary = built
            return built
        finally:
            self._vocabulary_lock.release()

    def highlight(self, text: str, query: str, literal: bool = False) -> str:
        """`text` as escaped HTML with the query's matches (its aliases' too unless `literal`)
        marked, for an article page."""
        return highlight_html(text, self._marked_terms(query, literal))

    def match_count(self, article: Article, query: str, literal: bool = False) -> int:
        """How many matches of the query `highlight` marks in the article's title and paragraphs."""
        terms = self._marked_terms(query, literal)
        return sum(len(match_spans(text, terms)) for text in (article.headline, *article.paragraphs))

    def same_story(self, article_id: str) -> tuple[Reprint, ...]:
        """The other posts of the article's story (the same news, identical or reworded), oldest
        first, as a search shows them under a hit; () for an unknown id."""
        with self._lock:
            searcher, table = self._current()
            docnum = searcher.document_number(**{ID_FIELD: article_id})
            if docnum is None:
                return ()
            return self._reprints(searcher, table, docnum, self._opened_view().live)

    def related(self, article_id: str, limit: int = RELATED_LIMIT) -> tuple[Hit, ...]:
        """相关报道: the best matches of an OR of the article's key words (key_terms) that contain
        at least two of them, one hit per story, the article's own story left out."""
        with self._lock:
            searcher, table = self._current()
            docnum = searcher.document_number(**{ID_FIELD: article_id})
            if docnum is None:
                return ()
            fields = searcher.stored_fields(docnum)
            live = self._opened_view().live
            own = live[table.stories[live] == table.stories[docnum]]
            own_ids = {searcher.stored_fields(other)[ID_FIELD] for other in own.tolist()}
            terms = key_terms(fields.get(TITLE, ""), fields.get(BODY, "")[:KEY_TERM_CHARS],
                              searcher.reader(), min_documents=own.size + 1)
            if not terms:
                return ()
            result = self.search(SearchRequest(query=" OR ".join(terms), literal=True,
                                               page_size=limit * RELATED_CANDIDATES))
        # One shared word is often a coincidence (疫情 in a post on bank loans during the lockdown).
        shared = min(RELATED_SHARED_TERMS, len(terms))
        related = []
        for hit in result.hits:
            if hit.id in own_ids:
                continue
            found = self.article(hit.id)
            text = "\n".join((found.title, *found.paragraphs)) if found else ""
            if sum(bool(match_spans(text, (term,), 1)) for term in terms) >= shared:
                related.append(hit)
                if len(related) == limit:
                    break
        return tuple(related)

    def _marked_terms(self, query: str, literal: bool) -> tuple[str, ...]:
        try:
            return parse_query(query, None if literal else self._aliases).terms
        except SearchError:
            return ()

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None

    # -- internals --------------------------------------------------------

    def _current(self):
        """The searcher of the current index version, reopened if the index changed.

        Not Searcher.refresh(): it reuses readers by segment id, so a commit that
        only deletes documents would go unseen.
        """
        build = storage.current_build(self.root)
        if build != self._build or self._searcher is None or not self._searcher.up_to_date():
            ix, build = storage.open_current(self.root)
            old, self._searcher, self._build = self._searcher, ix.searcher(), build
            if old is not None:
                old.close()
            log.info("opened index %s (generation %s)", build, self._searcher.reader().generation())
        generation = (self._build, self._searcher.reader().generation())
        if generation != self._table_generation:
            self._match_cache.clear()
            reader = self._searcher.reader()
            self._view = IndexView(self._searcher, storage.reader_live_docs(reader), WORD_FIELD_OF_GRAM)
            self._table = _FacetTable.build(self._view)
            self._aliases = AliasTable.build(shipped_groups(), _stock_pairs(self._build))
            self._table_generation = generation
        return self._searcher, self._table

    def _opened_view(self) -> IndexView:
        """The view of the version `_current()` opened (under the lock, after it)."""
        assert self._view is not None, "_current() opens the index first"
        return self._view

    def _filter_masks(self, table: _FacetTable, docs: np.ndarray, request: SearchRequest):
        """Which of `docs` pass the request's date, category and paper filters, one mask each."""
        return (self._date_mask(table, docs, request),
                self._any_mask(table.category_values, table.category_masks, docs, request.categories),
                self._any_mask(table.paper_values, table.paper_masks, docs, request.papers))

    def _suggestions(self, table: _FacetTable, request: SearchRequest) -> tuple[Suggestion, ...]:
        """Queries near the request's that find posts under its filters (it found none)."""
        def count(query: str, literal: bool) -> int:
            try:
                parsed = parse_query(query, None if literal else self._aliases)
            except SearchError:
                return 0
            docs, _ = self._matches(parsed.query, Sort.NEWEST)  # unscored: only counted
            in_dates, in_categories, in_papers = self._filter_masks(table, docs, request)
            return int((in_dates & in_categories & in_papers).sum())
        vocabulary = self._vocabulary  # the suggestions' (built in the background): none yet, no spelling
        correct = functools.partial(corrections, vocabulary[1]) if vocabulary else None
        return suggestions(request.query, request.literal, self._aliases, count, correct)

    @staticmethod
    def _date_mask(table: _FacetTable, docs: np.ndarray, request: SearchRequest) -> np.ndarray:
        mask = np.ones(docs.size, dtype=bool)
        dates = table.dates[docs]
        start, end = _date_bounds(request)
        if start is not None:
            mask &= dates >= datetime_to_long(start)
        if end is not None:
            mask &= dates < datetime_to_long(end)
        return mask

    @staticmethod
    def _any_mask(values: list[str], masks: np.ndarray, docs: np.ndarray, wanted) -> np.ndarray:
        if not wanted:
            return np.ones(docs.size, dtype=bool)
        rows = [values.index(v) for v in wanted if v in values]
        if not rows:
            return np.zeros(docs.size, dtype=bool)
        return np.asarray(masks[np.ix_(np.asarray(rows), docs)].any(axis=0))

    def _matches(self, q: wq.Query, sort: Sort) -> tuple[np.ndarray, np.ndarray]:
        """Every matching docnum (ascending) and its score, cached per index version.

        Every match is scored exactly (no top-N shortcut), so facets, other pages
        and other sorts of the same query reuse the evaluation; a sort by date
        needs no scores.
        """
        scored = sort is Sort.RELEVANCE
        for key in [(repr(q), True)] + ([] if scored else [(repr(q), False)]):
            if key in self._match_cache:
                self._match_cache.move_to_end(key)
                return self._match_cache[key]
        matches = evaluate(self._opened_view(), q, scored)
        self._match_cache[(repr(q), scored)] = (matches.docs, matches.scores)
        while len(self._match_cache) > self._match_cache_size:
            self._match_cache.popitem(last=False)
        return matches.docs, matches.scores

    def _tiers(self, table: _FacetTable, parsed: ParsedQuery, docs: np.ndarray, sort: Sort) -> np.ndarray | None:
        """The relevance tier (search.ranking) of each of `docs`; None when not sorting by relevance."""
        if sort is not Sort.RELEVANCE or not parsed.terms or not docs.size:
            return None
        key = ("title", repr(parsed.query))
        if key in self._match_cache:
            self._match_cache.move_to_end(key)
            in_title = self._match_cache[key]
        else:
            in_title = evaluate(self._opened_view(), ranking.title_query(parsed.query), scored=False).docs
            self._match_cache[key] = in_title
            while len(self._match_cache) > self._match_cache_size:
                self._match_cache.popitem(last=False)
        title_id = table.title_id_of.get(title_key(" ".join(parsed.terms)), -1)
        whole_title = docs[table.title_ids[docs] == title_id] if title_id >= 0 else docs[:0]
        return ranking.tiers(docs, in_title, np.intersect1d(whole_title, in_title, assume_unique=True))

    @staticmethod
    def _hit(searcher, table: _FacetTable, docnum: int, matched: np.ndarray, terms: tuple[str, ...]) -> Hit:
        fields = searcher.stored_fields(docnum)
        title, body = fields.get(TITLE, ""), fields.get(BODY, "")
        reprints = SearchEngine._reprints(searcher, table, docnum, matched)
        shown = headline(title, body)
        leader = int(table.story_leaders[docnum])
        story = fields[ID_FIELD] if leader in (docnum, -1) else searcher.stored_fields(leader)[ID_FIELD]
        return Hit(id=fields[ID_FIELD], title=title, title_html=highlight_html(shown, terms),
                   date=from_local_naive(fields[DATE]), categories=_split(fields.get(CATEGORY)),
                   paper=fields.get(PAPER, ""), url=fields.get(URL, ""),
                   snippet=snippet_html(body, terms), reprints=reprints, headline=shown, story=story, body=body)

    @staticmethod
    def _reprints(searcher, table: _FacetTable, docnum: int, among: np.ndarray) -> tuple[Reprint, ...]:
        """The other posts of `docnum`'s story among `among`, oldest first."""
        same_story = among[table.stories[among] == table.stories[docnum]]
        others = same_story[same_story != docnum]
        reprints = []
        for other in others[np.lexsort((others, table.dates[others]))].tolist():
            other_fields = searcher.stored_fields(other)
            reprints.append(Reprint(other_fields[ID_FIELD], other_fields.get(PAPER, ""),
                                    from_local_naive(other_fields[DATE]),
                                    near=bool(table.exact[other] != table.exact[docnum])))
        return tuple(reprints)


def last_run(index_dir: str | Path | None) -> dict[str, Any] | None:
    """The outcome of the last index/reindex/rollback/replicate run on the index (INDEX/last-run.json)."""
    return storage.read_outcome(storage.resolve_root(index_dir))


def key_terms(title: str, body: str, reader, min_documents: int = 2, count: int = KEY_TERMS) -> tuple[str, ...]:
    """The `count` words of a post that best tell what it is about: jieba words (as the index's
    word fields hold them) by tf-idf, a title word counting TITLE_BOOST times, the document
    frequency read from the index. Words in fewer than `min_documents` posts (only the post and
    its reprints) are left out: they would find nothing else."""
    frequency: dict[str, float] = defaultdict(float)
    analyze = word_analyzer()
    for text, weight in ((title, TITLE_BOOST), (body, 1.0)):
        for token in analyze(text):
            word = token.text
            if _KEY_TERM.fullmatch(word) and not word.isdigit():
                frequency[word] += weight
    documents = max(reader.doc_count(), 1)
    scored = []
    for word, tf in frequency.items():
        df = max(reader.doc_frequency(TITLE, word), reader.doc_frequency(BODY, word))
        if df >= min_documents:
            scored.append((tf * math.log(documents / df), word))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return tuple(word for _, word in scored[:count])


def _stock_pairs(build: Path) -> list[tuple[str, str]]:
    """(name, code) of the shipped stock table and of the build's archive: aliases and suggestions."""
    return [*shipped_stocks(), *storage.stock_name_pairs(build)]


def _story_leaders(stories: np.ndarray, by_story_rank: np.ndarray, is_live: np.ndarray) -> np.ndarray:
    """Each doc's story's earliest live post (-1 where the story has none): the story's name in
    exports, the same across searches as long as that post stays."""
    ordered = by_story_rank[is_live[by_story_rank]]  # live docs by (story, date, docnum)
    ordered_stories = stories[ordered]
    first = np.concatenate(([True], ordered_stories[1:] != ordered_stories[:-1]))[:ordered.size]
    leaders = np.full(int(stories.max()) + 1 if stories.size else 0, -1, dtype=np.int64)
    leaders[ordered_stories[first]] = ordered[first]
    return leaders[stories]


def _check(request: SearchRequest) -> None:
    if request.page < 1 or request.page > MAX_PAGE:
        raise SearchError(f"页码应在 1 到 {MAX_PAGE} 之间", code="page_out_of_range", param="page")
    if not 1 <= request.page_size <= MAX_PAGE_SIZE:
        raise SearchError(f"每页条数应在 1 到 {MAX_PAGE_SIZE} 之间", code="size_out_of_range", param="size")
    _check_dates(request)


def _check_dates(request: SearchRequest) -> None:
    start, end = _date_bounds(request)
    if start is not None and end is not None and start >= end:
        raise SearchError("开始日期晚于结束日期", code="date_order", param="from")


def _date_bounds(request: SearchRequest) -> tuple[dt.datetime | None, dt.datetime | None]:
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


def _first_of_each_story(table: _FacetTable, docs: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None):
    """One post per story among `docs` (docnum order kept), with its score and tier: the earliest
    published, unless one of them has the query as its whole title (it is what was asked for)."""
    if docs.size < 2:
        return docs, scores, tiers
    # In the table's (story, date, docnum) order, the first post of each story among docs.
    ordered = table.by_story_rank[_sorted(table.story_rank[docs], table.stories.size)]
    stories = table.stories[ordered]
    first = _sorted(ordered[np.concatenate(([True], stories[1:] != stories[:-1]))], table.stories.size)
    if tiers is not None and (tiers == ranking.WHOLE_TITLE).any():
        whole = docs[tiers == ranking.WHOLE_TITLE]
        whole = whole[np.lexsort((whole, table.dates[whole], table.stories[whole]))]
        whole_stories = table.stories[whole]
        best = whole[np.concatenate(([True], whole_stories[1:] != whole_stories[:-1]))]
        replaced = np.isin(table.stories[first], table.stories[best])
        first = np.sort(np.concatenate((first[~replaced], best)))
    rows = np.searchsorted(docs, first)
    return first, scores[rows], None if tiers is None else tiers[rows]


def _sorted(values: np.ndarray, bound: int) -> np.ndarray:
    """Distinct non-negative ints below `bound`, sorted: by a mask when they are many."""
    if values.size * 16 < bound:
        return np.sort(values)
    mask = np.zeros(bound, dtype=bool)
    mask[values] = True
    return np.flatnonzero(mask)


def _page(table: _FacetTable, selected: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None,
          request: SearchRequest) -> list[int]:
    """The docnums of the requested page, in the requested order.

    Relevance ties go to the newer post; date ties keep docnum order. Every
    order is total, so pages never overlap.
    """
    start = (request.page - 1) * request.page_size
    end = start + request.page_size
    if start >= selected.size:
        return []
    keys = _sort_keys(table, selected, scores, tiers, request.sort)
    # Only the docs whose first key is within the page's reach need the full sort.
    first_key = keys[-1]
    if end < selected.size:
        reach = np.partition(first_key, end - 1)[end - 1]
        candidates = np.flatnonzero(first_key <= reach)
    else:
        candidates = np.arange(selected.size)
    order = candidates[np.lexsort(tuple(key[candidates] for key in keys))]
    return selected[order[start:end]].tolist()


def _sort_keys(table: _FacetTable, docs: np.ndarray, scores: np.ndarray, tiers: np.ndarray | None,
               sort: Sort) -> tuple:
    """np.lexsort keys (last is primary) putting `docs` in the order of `sort`.

    Relevance: by tier (search.ranking), then score, then the newer post. Tier and score are
    also folded into one primary key, the tier worth more than any score, so that _page can
    find the page's reach with one partition.
    """
    dates = table.dates[docs]
    if tiers is None or not docs.size:
        tiers = np.zeros(docs.size, dtype=np.int8)
    if sort is Sort.RELEVANCE and docs.size and (scores.min() < scores.max() or tiers.min() < tiers.max()):
        span = float(scores.max() - scores.min()) + 1.0
        return (docs, -dates, -scores, -(tiers * span + scores))
    if sort is Sort.OLDEST:
        return (docs, dates)
    return (docs, -dates)  # newest; also relevance when every score is the same (the empty query)


def _counts(values: list[str], masks: np.ndarray, docs: np.ndarray) -> tuple[FacetCount, ...]:
    if not values:
        return ()
    counts = masks[:, docs].sum(axis=1)
    pairs = [(values[i], int(c)) for i, c in enumerate(counts) if c]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return tuple(FacetCount(v, c) for v, c in pairs)


def _month_counts(months: np.ndarray) -> tuple[FacetCount, ...]:
    if not months.size:
        return ()
    values, counts = np.unique(months, return_counts=True)
    labels = values.astype("datetime64[M]").astype(str)
    return tuple(FacetCount(str(label), int(c)) for label, c in zip(labels, counts))


def _from_ticks(ticks) -> dt.datetime:
    return from_local_naive(long_to_datetime(int(ticks)))


def _shown_paragraphs(body: str) -> tuple[tuple[str, ...], bool]:
    """The first paragraphs of `body`, within MAX_ARTICLE_PARAGRAPHS and MAX_ARTICLE_CHARS; and
    whether some were left out (the last one shown may be cut)."""
    shown: list[str] = []
    room = MAX_ARTICLE_CHARS
    for paragraph in filter(None, body.split("\n")):
        if len(shown) == MAX_ARTICLE_PARAGRAPHS or room == 0:
            return tuple(shown), True
        shown.append(paragraph[:room])
        room -= len(shown[-1])
        if len(paragraph) > len(shown[-1]):
            return tuple(shown), True
    return tuple(shown), False


def _split(value) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)
