"""What a reader sees of a post: a hit with its snippet and reprints, an article, related posts.

The only stage that reads stored fields; everything before it works on docnums.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Any

import numpy as np

from finsearch import storage
from finsearch.analysis import word_analyzer
from finsearch.search.collect import first_of_each_story, page
from finsearch.search.docsets import common
from finsearch.search.doctable import DocTable, from_ticks, lag_minutes
from finsearch.search.headline import headline
from finsearch.search.matching import match, tiers
from finsearch.search.snapshot import Snapshot
from finsearch.search.snippets import highlight_html, match_spans, snippet_html
from finsearch.search.types import Article, Hit, Reprint, SearchRequest, Sort

# What an article shows of a long post (the index keeps all of it for searching).
MAX_ARTICLE_CHARS = 200_000
MAX_ARTICLE_PARAGRAPHS = 2_000
# 相关报道: an OR of the article's most telling words, by tf-idf.
RELATED_LIMIT = 5
KEY_TERMS = 6
RELATED_SHARED_TERMS = 2  # key words a related post must contain
RELATED_CANDIDATES = 4  # best matches read per related post wanted (some share only one word)
KEY_TERM_CHARS = 5_000  # of the body: the lead says what a news post is about
_KEY_TERM = re.compile(r"\w{2,}")  # a word, not punctuation or query syntax


def hit(documents: storage.Documents, table: DocTable, docnum: int, among: np.ndarray,
        terms: tuple[str, ...]) -> Hit:
    """The hit of `docnum`, its story's other posts among `among` as reprints (read by id: the
    table has their papers and dates)."""
    fields = documents.stored(docnum)
    title, body = fields.get(storage.TITLE, ""), fields.get(storage.BODY, "")
    shown = headline(title, body)
    leader = int(table.story_leaders[docnum])
    first = leader in (docnum, -1)
    first_report = (_reprint(fields[storage.ID_FIELD], table, docnum, first=True) if first
                    else _reprint(documents.id(leader), table, leader, first=True))
    return Hit(id=fields[storage.ID_FIELD], title=title, title_html=highlight_html(shown, terms),
               date=storage.from_local_naive(fields[storage.DATE]), categories=split(fields.get(storage.CATEGORY)),
               paper=fields.get(storage.PAPER, ""), url=fields.get(storage.URL, ""),
               snippet=snippet_html(body, terms), reprints=reprints(documents, table, docnum, among),
               headline=shown, story=first_report.id, body=body, first=first,
               lag_minutes=0 if first else lag_minutes(table, docnum, leader), first_report=first_report)


def reprints(documents: storage.Documents, table: DocTable, docnum: int, among: np.ndarray) -> tuple[Reprint, ...]:
    """The other posts of `docnum`'s story among `among` (live posts), oldest first."""
    same_story = among[table.stories[among] == table.stories[docnum]]
    others = same_story[same_story != docnum]
    found = []
    for other in others[np.lexsort((others, table.dates[others]))].tolist():
        leader = int(table.story_leaders[other])
        found.append(_reprint(documents.id(other), table, other, near=bool(table.exact[other] != table.exact[docnum]),
                              first=leader == other, lag=lag_minutes(table, other, leader) if leader >= 0 else 0))
    return tuple(found)


def _reprint(post_id: str, table: DocTable, docnum: int, near: bool = False, first: bool = False,
             lag: int = 0) -> Reprint:
    """A live post as a reprint: its paper and date are the table's (the same as its stored fields)."""
    return Reprint(post_id, table.paper_name(docnum), from_ticks(table.dates[docnum]), near=near, first=first,
                   lag_minutes=lag)


def article(fields: dict[str, Any]) -> Article:
    paragraphs, truncated = shown_paragraphs(fields.get(storage.BODY, ""))
    return Article(
        id=fields[storage.ID_FIELD], title=fields.get(storage.TITLE, ""),
        date=storage.from_local_naive(fields[storage.DATE]), categories=split(fields.get(storage.CATEGORY)),
        tags=split(fields.get(storage.TAGS)), paper=fields.get(storage.PAPER, ""), url=fields.get(storage.URL, ""),
        paragraphs=paragraphs, truncated=truncated, path=fields.get(storage.PATH, ""),
        headline=headline(fields.get(storage.TITLE, ""), fields.get(storage.BODY, "")))


def shown_paragraphs(body: str) -> tuple[tuple[str, ...], bool]:
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


def key_terms(title: str, body: str, reader: Any, min_documents: int = 2, count: int = KEY_TERMS) -> tuple[str, ...]:
    """The `count` words of a post that best tell what it is about: jieba words (as the index's
    word fields hold them) by tf-idf, a title word counting TITLE_BOOST times, the document
    frequency read from the index. Words in fewer than `min_documents` posts (only the post and
    its reprints) are left out: they would find nothing else."""
    frequency: dict[str, float] = defaultdict(float)
    analyze = word_analyzer()
    for text, weight in ((title, storage.TITLE_BOOST), (body, 1.0)):
        for token in analyze(text):
            word = token.text
            if _KEY_TERM.fullmatch(word) and not word.isdigit():
                frequency[word] += weight
    documents = max(reader.doc_count(), 1)
    scored = []
    for word, tf in frequency.items():
        df = max(reader.doc_frequency(storage.TITLE, word), reader.doc_frequency(storage.BODY, word))
        if df >= min_documents:
            scored.append((tf * math.log(documents / df), word))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return tuple(word for _, word in scored[:count])


def related(snap: Snapshot, docnum: int, found: Article) -> tuple[Hit, ...]:
    """相关报道: the best matches of an OR of the article's key words (key_terms) that contain at
    least two of them, one hit per story, the article's own story left out."""
    live, table = snap.view.live, snap.table
    own = common(live, table.story_posts(table.stories[[docnum]]))
    with snap.lock:
        terms = key_terms(found.title, "\n".join(found.paragraphs)[:KEY_TERM_CHARS], snap.searcher.reader(),
                          min_documents=own.size + 1)
    if not terms:
        return ()
    request = SearchRequest(query=" OR ".join(terms), literal=True, page_size=RELATED_LIMIT * RELATED_CANDIDATES)
    matched = match(snap, request, scored=True)
    docs = matched.kept
    ranks = tiers(snap, matched.parsed, docs, Sort.RELEVANCE)
    selected, selected_scores, selected_ranks = first_of_each_story(table, docs, matched.kept_scores, ranks)
    own_docs = set(own.tolist())
    candidates = [d for d in page(table, selected, selected_scores, selected_ranks, request) if d not in own_docs]
    # One shared word is often a coincidence (疫情 in a post on bank loans during the lockdown).
    shared = min(RELATED_SHARED_TERMS, len(terms))
    found_related: list[Hit] = []
    with snap.lock:
        for candidate in candidates:
            fields = snap.searcher.stored_fields(candidate)
            text = fields.get(storage.TITLE, "") + "\n" + fields.get(storage.BODY, "")
            if sum(bool(match_spans(text, (term,), 1)) for term in terms) >= shared:
                found_related.append(hit(snap.documents, table, candidate, docs[:0], terms))
                if len(found_related) == RELATED_LIMIT:
                    break
    return tuple(found_related)


def split(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)
