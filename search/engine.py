"""The search API: one entry point for the CLI and the web UI.

A search reads top to bottom: parse the query (with the generation's aliases), match it
(numpy over whole posting lists, search.evaluate), filter by dates, categories and papers,
collect what the result needs (facets, one post per story, the page, the timeline:
search.collect), and present the page's hits from their stored fields (search.present).
Every call takes one snapshot of the current generation (search.snapshot) and uses it from
start to end: a results page, an article page or an export never mixes two generations.
"""
from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from finsearch import storage
from finsearch.search import present, related, rescore
from finsearch.search.collect import (
    check_dates,
    check_request,
    day_counts,
    facets,
    filter_masks,
    first_of_each_story,
    hour_counts,
    is_short,
)
from finsearch.search.docsets import common, sorted_distinct
from finsearch.search.export import EXPORT_BATCH, Export
from finsearch.search.matching import match, tiers
from finsearch.search.query import parse_query
from finsearch.search.snapshot import MATCH_CACHE_SIZE, Snapshot, Snapshots
from finsearch.search.snippets import highlight_html, match_spans
from finsearch.search.spelling import corrections
from finsearch.search.suggest import Completion, found_together
from finsearch.search.trends import TrendRequest, TrendResult, count_trends
from finsearch.search.types import (
    Article,
    ArticlePage,
    Facets,
    IndexHealth,
    IndexStats,
    RelatedResult,
    SearchError,
    SearchRequest,
    SearchResult,
)
from finsearch.search.zero_results import suggestions

log = logging.getLogger(__name__)


class SearchEngine:
    """Answers searches from the current index generation; follows new generations by itself.

    Safe to share between threads.
    """

    def __init__(self, index_root: str | Path | None = None, match_cache: int = MATCH_CACHE_SIZE,
                 verify: bool = False):
        """`match_cache`: how many queries' matches to keep (0: none, for measuring cold searches);
        `verify`: check every byte of each generation opened, in the background (a server)."""
        self.root = storage.resolve_root(index_root)
        self._snapshots = Snapshots(self.root, match_cache, verify)
        with self._snapshots.acquire():  # fail early if there is no index
            pass

    def snapshot(self):
        """The current generation's snapshot, held for the block (for tools and tests that look
        inside one generation: its searcher under `lock`, its view, its table)."""
        return self._snapshots.acquire()

    def watch(self) -> None:
        """From now on, prepare each new generation in the background (a server calls this); and
        load now what the first request would otherwise wait for (jieba, OpenCC, the stories)."""
        warm_up()
        self._snapshots.watch()

    def close(self) -> None:
        self._snapshots.close()

    # -- searching --------------------------------------------------------------------

    def search(self, request: SearchRequest, timeline: bool = False, with_facets: bool = True) -> SearchResult:
        """A results page; with `timeline`, also the posts per day of all its matches (and per hour
        when its dates span a day or two); without `with_facets`, no facets (a caller that shows
        none: the companies' mentions are not made for it)."""
        started = time.perf_counter()
        check_request(request)
        with self._snapshots.acquire() as snap:
            matched = match(snap, request, scored=request.sort.by_score)
            docs, scores = matched.kept, matched.kept_scores
            ranks = tiers(snap, matched.parsed, docs, request.sort)
            selected, selected_scores, selected_ranks = first_of_each_story(snap.table, docs, scores, ranks)
            with snap.lock:
                documents = snap.documents.remembering()
            page_docs = rescore.ranked_page(snap, documents, matched.parsed, selected, selected_scores,
                                            selected_ranks, request)
            # The page's posts and, among the matches, the other posts of their stories (reprints).
            on_page = common(docs, snap.table.story_posts(sorted_distinct(snap.table.stories[page_docs])))
            with snap.lock:
                hits = tuple(present.hit(documents, snap.table, docnum, on_page, matched.parsed.terms)
                             for docnum in page_docs)
            return SearchResult(
                request=request, total=int(selected.size), hits=hits,
                facets=(facets(snap.table, matched.docs, matched.passed,
                               snap.mentions(wait=not self._snapshots.watching), request.stocks)
                        if with_facets else Facets()),
                seconds=time.perf_counter() - started,
                notice=matched.parsed.notice, articles=int(docs.size),
                expanded=(parse_query(request.query, snap.aliases).expanded if request.literal
                          else matched.parsed.expanded),
                suggestions=self._suggestions(snap, request) if not docs.size else (),
                timeline=day_counts(snap.table, docs) if timeline else (),
                hourly=(hour_counts(snap.table, docs) if timeline and is_short(request, snap.stats.last_date)
                        else ()),
                stats=snap.stats)

    def related(self, request: SearchRequest) -> RelatedResult:
        """相关报道 under the results page of `request` when it is not full: posts with most of the
        query's words, not all (search.related). Apart from `search`, so that the page's own
        answer never waits for it (the page asks for it once shown)."""
        check_request(request)
        with self._snapshots.acquire() as snap:
            return related.related(snap, request)

    def iter_hits(self, request: SearchRequest, batch_size: int = EXPORT_BATCH) -> Export:
        """Every post the search matches, reprints included (each its own hit, `reprints` empty),
        in the request's order; `page` and `page_size` are ignored. For exports.

        The request is checked now (SearchError before anything is streamed); the generation it
        starts on is held until the last row (or `close()`), whatever is published meanwhile, and
        its rows are read a batch at a time, so memory holds the ordered docnums and one batch.
        """
        check_dates(request)
        return Export(self._snapshots, request, batch_size)

    def trends(self, request: TrendRequest) -> TrendResult:
        """Stories per day/week/month of each term, under the request's filters (search.trends)."""
        started = time.perf_counter()
        filters = SearchRequest(date_from=request.date_from, date_to=request.date_to,
                                categories=request.categories, papers=request.papers)
        with self._snapshots.acquire() as snap:
            # Each term is read as the search reads it (aliases too), so a count is that search's total.
            matched = [match(snap, SearchRequest(query=term, date_from=request.date_from,
                                                         date_to=request.date_to, categories=request.categories,
                                                         papers=request.papers), scored=False)
                       for term in request.terms]
            live = snap.view.live
            population = live[filter_masks(snap.table, live, filters).all]
            assert snap.stats.coverage is not None  # every snapshot knows the days it covers
            return count_trends(request, snap.table.days, snap.table.stories, population, [m.kept for m in matched],
                                [m.parsed.notice for m in matched], snap.stats.coverage, started)

    def suggest(self, text: str, limit: int) -> tuple[Completion, ...]:
        """Completions of the last word of `text` from the generation's vocabulary (search.suggest)."""
        with self._snapshots.acquire() as snap:
            vocabulary = snap.vocabulary(wait=not self._snapshots.watching)

            def together(head: str, words: list[str]) -> list[int]:
                """Posts the search for `head` finds that hold each of `words` (the completions of the
                word being typed are ranked by the words typed before it)."""
                try:
                    docs = match(snap, SearchRequest(query=head), scored=False).kept
                except SearchError:
                    return [0] * len(words)
                with snap.lock:
                    return found_together(snap.view, docs, words)
            return vocabulary.suggest(text, limit, together)

    # -- articles ---------------------------------------------------------------------

    def article(self, article_id: str) -> Article | None:
        with self._snapshots.acquire() as snap, snap.lock:
            fields = snap.searcher.document(**{storage.ID_FIELD: article_id})
        return present.article(fields) if fields is not None else None

    def article_page(self, article_id: str, query: str = "", literal: bool = False) -> ArticlePage | None:
        """An article with the query's matches marked, the other posts of its story and related
        stories, all from one generation; None for an unknown id."""
        with self._snapshots.acquire() as snap:
            with snap.lock:
                docnum = snap.searcher.document_number(**{storage.ID_FIELD: article_id})
                if docnum is None:
                    return None
                found = present.article(snap.searcher.stored_fields(docnum))
                same_story = present.reprints(snap.documents, snap.table, docnum, snap.view.live)
            terms = self._marked_terms(snap, query, literal)
            texts = (found.headline, *found.paragraphs)
            return ArticlePage(
                article=found, title_html=highlight_html(found.headline, terms),
                paragraphs_html=tuple(highlight_html(p, terms) for p in found.paragraphs),
                matches=sum(len(match_spans(t, terms)) for t in texts) if query.strip() else None,
                same_story=same_story, related=present.related(snap, docnum, found), stats=snap.stats)

    def highlight(self, text: str, query: str, literal: bool = False) -> str:
        """`text` as escaped HTML with the query's matches (its aliases' too unless `literal`) marked."""
        with self._snapshots.acquire() as snap:
            return highlight_html(text, self._marked_terms(snap, query, literal))

    # -- the index ----------------------------------------------------------------------

    def stats(self) -> IndexStats:
        with self._snapshots.acquire() as snap:
            return snap.stats

    def version(self) -> str:
        """The generation being served: it changes with every publish (a key for caching answers)."""
        with self._snapshots.acquire() as snap:
            return snap.name

    def health(self) -> IndexHealth:
        """The generation being served, and what is wrong with the index if anything (a damaged
        file, here or in a newer generation that could not be opened)."""
        with self._snapshots.acquire() as snap:
            stats, problem = snap.stats, self._snapshots.problem
        if problem is not None:
            return IndexHealth(stats, str(problem), getattr(problem, "files", ()))
        return IndexHealth(stats)

    # -- the steps ----------------------------------------------------------------------

    def _suggestions(self, snap: Snapshot, request: SearchRequest):
        """Queries near the request's that find posts under its filters (it found none)."""
        filtered = self._filtered(snap, request)
        # Matched among the filtered posts only: the postings of the others are not read.
        count_within = snap.counter(filtered) if filtered is not None and filtered.size else None

        def count(query: str, literal: bool) -> int:
            try:
                if filtered is None:
                    return int(match(snap, SearchRequest(query=query, literal=literal), scored=False).kept.size)
                if count_within is None:
                    return 0
                return count_within(parse_query(query, None if literal else snap.aliases).query)
            except SearchError:  # a suggestion the parser refuses is no suggestion
                return 0
        # Spelling needs the vocabulary: a server builds it in the background (none yet, no correction);
        # elsewhere it is read from the cache folder (made when the generation was published).
        vocabulary = snap.ready_vocabulary() if self._snapshots.watching else snap.vocabulary()
        correct = functools.partial(corrections, vocabulary) if vocabulary is not None else None
        return suggestions(request.query, request.literal, snap.aliases, count, correct)

    @staticmethod
    def _filtered(snap: Snapshot, request: SearchRequest) -> np.ndarray | None:
        """The live posts that pass the request's filters (None: it has none)."""
        if not (request.date_from or request.date_to or request.categories or request.papers or request.stocks
                or request.first_only):
            return None
        live = snap.view.live
        return live[filter_masks(snap.table, live, request, snap.mentioning(request.stocks)).all]

    @staticmethod
    def _marked_terms(snap: Snapshot, query: str, literal: bool) -> tuple[str, ...]:
        try:
            return parse_query(query, None if literal else snap.aliases).terms
        except SearchError:
            return ()

def warm_up() -> None:
    """Load the tokenizer's and the re-scoring's dictionaries now (seconds), not in the first search."""
    parse_query("预热 warm-up")
    rescore.prepare()


def prepare_generation(index_dir: str | Path | None) -> float:
    """Work out now, for the current generation, what a process's first search of it would
    otherwise wait for (every company's mentions, the suggestion vocabulary: seconds each on a large
    index), into the cache folder where the next process reads it: an index, reindex, rollback or
    replication run calls this once it has published. The seconds it took."""
    started = time.perf_counter()
    engine = SearchEngine(index_dir, match_cache=0)
    try:
        with engine.snapshot() as snap:
            snap.prepare()
            snap.vocabulary()
    finally:
        engine.close()
    return time.perf_counter() - started


def check_published(index_dir: str | Path | None) -> None:
    """Raise IndexMissing unless a generation is published at `index_dir`; nothing is opened (a
    server's master says so in its log before the workers open the index themselves)."""
    storage.current_build(storage.resolve_root(index_dir))


def last_run(index_dir: str | Path | None) -> dict[str, Any] | None:
    """The outcome of the last index/reindex/rollback/replicate run on the index (INDEX/last-run.json)."""
    return storage.read_outcome(storage.resolve_root(index_dir))
