"""The reference engine: jieba wired to Whoosh the way jieba's README shows.

Nothing clever, on purpose: `jieba.analyse.ChineseAnalyzer` on a stored TEXT
title and body, one default `ix.writer()`, one `add_document` per post, one
commit. Posts are read with the project's own `indexer.ingest.read_archive`, so
both engines index exactly the same posts and texts.

Searching does the same work as `search.SearchEngine.search`: parse the query
(`MultifieldParser` over title and body, words ANDed), filter (a `DateRange` and
a `Term` filter), rank or sort by date, take the top 10, highlight the body of
each hit (`hit.highlights("body")`) and count facets (category, paper, month)
with `groupedby`.

Differences the figures should be read with:
- facet counts are taken under all filters (the engine counts each facet under
  the *other* filters, so that several values can be picked);
- matching is by jieba words only (the engine also matches literal strings by
  character bigrams), so the hit counts differ; `run.py` reports both.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from jieba.analyse import ChineseAnalyzer
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh import sorting
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.qparser import MultifieldParser

from finsearch.indexer.ingest import SITE_TZ, read_archive

FACETS = ("category", "paper", "month")


def make_schema() -> Schema:
    analyzer = ChineseAnalyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(stored=True, analyzer=analyzer),
        body=TEXT(stored=True, analyzer=analyzer),
        date=DATETIME(stored=True, sortable=True),
        category=KEYWORD(stored=True, commas=True),
        paper=ID(stored=True),
        month=ID(stored=True),  # "YYYY-MM", for the month facet
    )


@dataclass
class BaselineBuild:
    indexed: int
    skipped: int
    seconds: float


def build(archive: Path, index_dir: Path) -> BaselineBuild:
    """Index every post of `archive` into the (new, empty) folder `index_dir`."""
    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(index_dir), make_schema())
    writer = ix.writer()
    indexed = skipped = 0
    for result in read_archive(archive):
        post = result.post
        if post is None:
            skipped += 1
            continue
        local = post.published.astimezone(SITE_TZ).replace(tzinfo=None)
        writer.add_document(
            id=post.id,
            title=post.title,
            body="\n".join(post.paragraphs),
            date=local,
            category=",".join(post.categories),
            paper=post.paper,
            month=local.strftime("%Y-%m"),
        )
        indexed += 1
    writer.commit()
    return BaselineBuild(indexed, skipped, time.perf_counter() - started)


@dataclass(frozen=True)
class BaselineHit:
    id: str
    title: str
    date: dt.datetime
    category: str
    paper: str
    snippet: str


@dataclass(frozen=True)
class BaselineResult:
    total: int
    hits: tuple[BaselineHit, ...]
    facets: dict[str, dict[str, int]]


class BaselineSearcher:
    """One open searcher, reused across queries (as the engine keeps one)."""

    def __init__(self, index_dir: Path):
        self.ix = whoosh_index.open_dir(str(index_dir))
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(["title", "body"], self.ix.schema)  # AndGroup by default

    def search(self, text: str, date_from: dt.date | None = None, date_to: dt.date | None = None,
               categories: tuple[str, ...] = (), newest_first: bool = False,
               limit: int = 10) -> BaselineResult:
        q = self.parser.parse(text)
        filters = []
        if date_from or date_to:
            start = dt.datetime.combine(date_from, dt.time()) if date_from else None
            end = dt.datetime.combine(date_to, dt.time.max) if date_to else None
            filters.append(wq.DateRange("date", start, end))
        if categories:
            filters.append(wq.Or([wq.Term("category", c) for c in categories]))
        filter_q = None if not filters else filters[0] if len(filters) == 1 else wq.And(filters)
        results = self.searcher.search(
            q, limit=limit, filter=filter_q,
            sortedby="date" if newest_first else None, reverse=newest_first,
            groupedby={name: sorting.FieldFacet(name) for name in FACETS})
        hits = tuple(BaselineHit(id=hit["id"], title=hit["title"], date=hit["date"],
                                 category=hit.get("category", ""), paper=hit.get("paper", ""),
                                 snippet=hit.highlights("body"))
                     for hit in results[:limit])  # with groupedby, Whoosh ranks every match
        facets = {name: {str(value): len(docs) for value, docs in results.groups(name).items()}
                  for name in FACETS}
        return BaselineResult(total=len(results), hits=hits, facets=facets)

    def close(self) -> None:
        self.searcher.close()
