"""相关报道 under a results page that is not full: posts holding most, not all, of the query's words.

A search is literal: every word typed must stand in the post as typed (search.query). A pasted
headline (英伟达市值不到两个月蒸发1万亿美元) finds its own post and little else, while other papers
told the same news in other words. So when a query of plain words finds fewer stories than a page,
the reporter is also shown, apart and labelled, the posts that hold most of its words — Lucene's
minimum_should_match over the query's analysed words, or a more-like-this built from its rarest:

- the words: the jieba words of what was typed (the words the literal query ranks by, as the
  word fields hold them), those contained in a longer one of them left out (万亿美元 stands for
  万亿, 美元, 亿美元); only a query of plain words (no OR, NOT, proximity, field or quotes: those
  say exactly what is wanted) and not a literal search has related coverage;
- the RELATED_TERMS rarest of them (fewest posts: the telling ones, and the cheap ones to read);
  a related post holds a strict majority of those: "most but not all" needs MIN_TERMS of them;
- read cheaply: a post holding a majority of k words holds one of the k - majority + 1 rarest
  (pigeonhole), so only those are read whole, the others among their posts only;
- ranked by BM25F summed over the words it holds, times the share of them it holds (Lucene's
  coordination), one post per story, the stories of the literal matches left out, under the
  request's filters; then the first stories ordered again as a results page's are (search.rescore),
  the words standing for the typed ones; as many as the page has room for.

The literal results, their total, facets, exports and feeds are untouched: this is a separate
request (`SearchEngine.related`, /api/related), made by the results page after it has shown them.
"""
from __future__ import annotations

import logging
import time

import numpy as np
from whoosh import query as wq

from finsearch.analysis import fold, words
from finsearch.search import deadline, present, rescore
from finsearch.search.collect import filter_masks, first_of_each_story, leading
from finsearch.search.docsets import common, merged, rows_of, sorted_distinct
from finsearch.search.evaluate import evaluate
from finsearch.search.matching import match
from finsearch.search.query import FIELDS, Literal, parse_query
from finsearch.search.snapshot import Snapshot
from finsearch.search.types import RelatedHit, RelatedResult, SearchRequest, Sort

log = logging.getLogger(__name__)

# The related coverage's own budget (wall clock, within the request's): a page's extra, asked for
# after the page is shown, so past this the page has none. Warm, it takes tens of milliseconds on a
# million posts; a worker's first one also loads what later ones reuse (the aliases, patterns).
RELATED_SECONDS = 0.5
RELATED_TERMS = 8  # the query's rarest words looked for: the telling ones, and a bounded cost
MIN_TERMS = 3  # with fewer, "most but not all" of them is one word: a coincidence more than a relation


def wanted(request: SearchRequest, stories: int) -> bool:
    """Whether a results page of `stories` stories (the search's total) has related coverage under
    it: its first page is not full and the query is of plain words (query_words), not literal."""
    return _has_room(request, stories) and bool(query_words(request.query))


def _has_room(request: SearchRequest, stories: int) -> bool:
    return request.page == 1 and stories < request.page_size and not request.literal


def query_words(text: str) -> tuple[str, ...]:
    """The words related coverage looks for: the jieba words of a query of plain words, in order,
    without those a longer one contains; () for any other query (or fewer than MIN_TERMS)."""
    try:
        q = parse_query(text, None).query
    except ValueError:  # too long: the search says so
        return ()
    parts = q.subqueries if isinstance(q, wq.And) else [q]
    if not all(isinstance(part, Literal) and part.scope is None and not part.quoted for part in parts):
        return ()
    found = list(dict.fromkeys(word for part in parts for word in words(part.text)))
    kept = tuple(word for word in found if not any(word != other and word in other for other in found))
    return kept if len(kept) >= MIN_TERMS else ()


def related(snap: Snapshot, request: SearchRequest) -> RelatedResult:
    """The related coverage of `request`'s results page (empty when `wanted` says none), within
    RELATED_SECONDS (after that, none: `timed_out`)."""
    started = time.perf_counter()
    try:
        with deadline.within(RELATED_SECONDS):
            return _related(snap, request, started)
    except deadline.SearchTimeout:
        deadline.check()  # the request's own budget spent: the request's timeout, not this one's
        log.info("related coverage of %r took more than %s s: none shown", request.query[:60], RELATED_SECONDS)
        return RelatedResult(request, (), (), time.perf_counter() - started, timed_out=True)


def _related(snap: Snapshot, request: SearchRequest, started: float) -> RelatedResult:
    matched = match(snap, request, scored=request.sort.by_score)  # the search's own, from the match cache
    literal = first_of_each_story(snap.table, matched.kept, matched.kept_scores, None)[0]
    looked_for = query_words(request.query) if _has_room(request, int(literal.size)) else ()
    if not looked_for:
        return RelatedResult(request, (), (), time.perf_counter() - started)
    table = snap.table
    typed = as_typed(request.query, looked_for)
    frequency = {word: max(snap.view.doc_frequency(field, word) for field, _ in FIELDS[None]) for word in looked_for}
    key = sorted((word for word in looked_for if frequency[word]), key=lambda word: frequency[word])[:RELATED_TERMS]
    if len(key) < MIN_TERMS:
        return RelatedResult(request, (), tuple(typed.values()), time.perf_counter() - started)
    docs, scores = _holding(snap, key, len(key) // 2 + 1)
    # Under the request's filters; the literal matches' stories are on the page already.
    passed = filter_masks(table, docs, request, snap.mentioning(request.stocks)).all
    passed &= ~np.isin(table.stories[docs], table.stories[matched.kept])
    docs, scores = docs[passed], scores[passed]
    selected, selected_scores, _ = first_of_each_story(table, docs, scores, None)
    room = request.page_size - int(literal.size)
    ranked = leading(table, selected, selected_scores, None, Sort.RELEVANCE, max(room, rescore.RESCORE_DEPTH))
    deadline.check()  # before the stored fields are read (rescoring and the hits: most of the cost)
    with snap.lock:
        documents = snap.documents.remembering()
        # The same news told again is left out, not moved down: related posts only fill the room.
        ranked = rescore.rescored(documents, table, ranked, None, [(word,) for word in key], retold=False)[:room]
    among = common(docs, table.story_posts(sorted_distinct(table.stories[ranked])))
    marked = tuple(word for word in looked_for if len(word) > 1)  # a lone character would be marked all over
    hits = []
    for docnum in ranked.tolist():
        with snap.lock:
            hit = present.hit(documents, table, docnum, among, marked)
        text = fold(hit.title + "\n" + hit.body)
        lacked = [word for word in looked_for if word not in text]
        # Named: its longer words lacked, when there are (a lone 为 or 和 says little about the post).
        hits.append(RelatedHit(hit, tuple(typed[word] for word in [w for w in lacked if len(w) > 1] or lacked)))
    return RelatedResult(request, tuple(hits), tuple(typed.values()), time.perf_counter() - started)


def as_typed(query: str, words: tuple[str, ...]) -> dict[str, str]:
    """Each of `words` (analysed, so folded: CFTC → cftc) as the query writes it (fold keeps lengths)."""
    folded = fold(query)
    return {word: query[at:at + len(word)] if (at := folded.find(word)) >= 0 else word for word in words}


def _holding(snap: Snapshot, key: list[str], needed: int) -> tuple[np.ndarray, np.ndarray]:
    """The live posts that hold at least `needed` of the words `key` (rarest first) in the title
    or the body, ascending, and their scores: BM25F summed over the words held, times the share
    of `key` held. Only the len(key) - needed + 1 rarest are read whole: a post holding `needed`
    of the words holds one of them."""
    queries = [wq.Or([wq.Term(word_field, word) for word_field, _ in FIELDS[None]]) for word in key]
    rare = len(key) - needed + 1
    parts = []
    for q in queries[:rare]:
        with snap.lock:  # a word at a time: other threads' searches go on in between
            parts.append(evaluate(snap.view, q))
    candidates = merged([part.docs for part in parts])
    for q in queries[rare:]:
        with snap.lock:
            parts.append(evaluate(snap.view, q, within=candidates))
    held = np.zeros(candidates.size, dtype=np.int64)
    scores = np.zeros(candidates.size)
    for part in parts:
        rows = rows_of(candidates, part.docs)
        held[rows] += 1
        scores[rows] += part.scores
    kept = held >= needed
    return candidates[kept], scores[kept] * held[kept] / len(key)
