"""The peer the scale benchmark measures against: tantivy 0.27 + jieba (and, for the ranking
evaluation, the same build over CJK character bigrams).

    python -m benchmarks.tantivy_peer queries INDEX_DIR --mix MIX.json [--repeat N] [--warmup N]

(the build runs through `python -m benchmarks.build_one tantivy ARCHIVE INDEX_DIR`, so its memory
is measured over the process tree as the other engines' builds are.)

What issue 15 names as the yardstick: "two processes for jieba, stored title and body, positions".

- build: the post files are read and cut by jieba (`jieba.cut`, its default mode) in
  `JIEBA_PROCESSES` worker processes; the parent keeps the archive's path order, drops duplicate
  ids exactly as `indexer.ingest.read_archive` does (so the peer indexes the engine's posts), and
  feeds one tantivy `IndexWriter` the words joined by spaces. The text fields use tantivy's
  `default` tokenizer (split at spaces and punctuation, lower case), so a word of jieba is a term;
  title and body are stored (as the spaced words) with positions; date is indexed and fast (for
  filters and "newest first"), category a raw, indexed term per category;
- search: the query cut by jieba, each word a term of title or body, all words required (the
  engine's and the baseline's AND); the variants' date range and category as filters, "newest" by
  the date fast field; the top 10, each with its stored title and a body snippet
  (`SnippetGenerator`). No facet counts: tantivy's figure is without facets, as the issue says.
- bigrams (`build(..., analyzer="bigrams")`, for benchmarks/ranking_eval.py): the same posts, each
  text as its CJK character bigrams and its Latin/digit words (`bigrams`, the way Lucene's
  CJKAnalyzer cuts text), lower-cased, through tantivy's `whitespace` tokenizer; nothing stored
  but the id.

Needs the `bench` extra (`make bench-setup`): `pip install -e ".[bench]"`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import multiprocessing
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jieba
import tantivy

from finsearch.indexer.ingest import SITE_TZ, Problem, claim_id, find_posts, read_post

JIEBA_PROCESSES = 2
# Posts a worker takes at a time: enough to make the hand-over cheap, few enough to keep memory flat.
CHUNK_POSTS = 64
CHUNKS_IN_FLIGHT = 4 * JIEBA_PROCESSES
# tantivy's writer: one indexing thread (the two CPUs are busy with jieba) and its default heap.
WRITER_THREADS = 1
WRITER_HEAP_BYTES = 128_000_000
TEXT_TOKENIZER = "default"  # tantivy's: split at whitespace and punctuation, lower case
BIGRAM_TOKENIZER = "whitespace"  # the bigrams are cut and lower-cased before tantivy sees them
SNIPPET_CHARS = 150
PAGE = 10


def make_schema(analyzer: str = "words") -> tantivy.Schema:
    """The words index stores title and body (the scale benchmark shows them); the bigrams one
    only the id (the ranking evaluation reads texts from the engine's index)."""
    words = analyzer == "words"
    tokenizer = TEXT_TOKENIZER if words else BIGRAM_TOKENIZER
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=words, tokenizer_name=tokenizer, index_option="position")
    builder.add_text_field("body", stored=words, tokenizer_name=tokenizer, index_option="position")
    builder.add_date_field("date", stored=True, indexed=True, fast=True)
    builder.add_text_field("category", tokenizer_name="raw", index_option="basic")
    return builder.build()


def cut(text: str) -> str:
    """jieba's words of a text, joined by spaces (what the index's tokenizer splits again)."""
    return " ".join(jieba.cut(text))


# A run of CJK characters, a Latin word or a number (decimals whole: 3.5; 300etf is 300 and etf).
_BIGRAM_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z]+|[0-9]+(?:\.[0-9]+)*")


def bigram_tokens(text: str) -> list[str]:
    """CJK character bigrams and Latin/digit words of `text` (NFKC, lower case), in text order.

    A CJK run of one character is kept as that character, so no character goes unindexed.
    """
    tokens: list[str] = []
    for run in _BIGRAM_RUN.findall(unicodedata.normalize("NFKC", text).lower()):
        if not run[0].isascii() and len(run) > 1:
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            tokens.append(run)
    return tokens


def bigrams(text: str) -> str:
    """bigram_tokens joined by spaces (what the index's whitespace tokenizer splits again)."""
    return " ".join(bigram_tokens(text))


ANALYZERS = {"words": cut, "bigrams": bigrams}


# -- build -------------------------------------------------------------------

@dataclass
class PeerBuild:
    indexed: int
    skipped: int
    procs: int


# One post as a worker hands it over: (id, path, title words, body words, local time, categories),
# or None with the reading's problems.
_Cut = tuple[str, str, str, str, dt.datetime, tuple[str, ...]]


def _cut_chunk(job: tuple[Path, list[str], str]) -> list[tuple[_Cut | None, list[Problem]]]:
    root, paths, analyzer = job
    analyze = ANALYZERS[analyzer]
    out: list[tuple[_Cut | None, list[Problem]]] = []
    for path in paths:
        result = read_post(path, root)
        post = result.post
        if post is None:
            out.append((None, result.problems))
            continue
        local = post.published.astimezone(SITE_TZ).replace(tzinfo=None)
        out.append(((post.id, post.path, analyze(post.title), analyze("\n".join(post.paragraphs)), local,
                     post.categories), result.problems))
    return out


def _cut_posts(archive: Path, pool, analyzer: str) -> Iterator[_Cut | None]:
    """Every post in path order, cut; None for a post not indexed (unreadable, or a duplicate id)."""
    passed_over: list[Problem] = []
    paths = find_posts(archive, passed_over)
    yield from (None for _ in passed_over)  # as read_archive: each passed-over file counts as skipped
    # Pool.imap hands out every task at once, and results would pile up in memory if the writer
    # fell behind: a chunk is handed out only when fewer than CHUNKS_IN_FLIGHT are out.
    in_flight = threading.BoundedSemaphore(CHUNKS_IN_FLIGHT)

    def jobs() -> Iterator[tuple[Path, list[str], str]]:
        for start in range(0, len(paths), CHUNK_POSTS):
            in_flight.acquire()  # in the pool's task-feeding thread
            yield archive, paths[start:start + CHUNK_POSTS], analyzer

    owners: dict[str, str] = {}
    for chunk in pool.imap(_cut_chunk, jobs()):
        in_flight.release()
        for item, _problems in chunk:
            # In path order the second post of an id is the duplicate, as read_archive decides.
            if item is not None and claim_id(owners, item[0], item[1]) is not None:
                item = None
            yield item


def _init_worker() -> None:
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()


def build(archive: Path, index_dir: Path, analyzer: str = "words") -> PeerBuild:
    """Index every post of `archive` into the (new, empty) folder `index_dir`, its texts cut by
    `analyzer` ("words": jieba; "bigrams": CJK character bigrams)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(make_schema(analyzer), path=str(index_dir))
    writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=WRITER_THREADS)
    indexed = skipped = 0
    with multiprocessing.get_context("fork").Pool(JIEBA_PROCESSES, initializer=_init_worker) as pool:
        for item in _cut_posts(archive, pool, analyzer):
            if item is None:
                skipped += 1
                continue
            doc_id, _path, title, body, local, categories = item
            doc = tantivy.Document()
            doc.add_text("id", doc_id)
            doc.add_text("title", title)
            doc.add_text("body", body)
            doc.add_date("date", local)
            for category in categories:
                doc.add_text("category", category)
            writer.add_document(doc)
            indexed += 1
    writer.commit()
    writer.wait_merging_threads()
    return PeerBuild(indexed, skipped, JIEBA_PROCESSES)


# -- search ------------------------------------------------------------------

@dataclass(frozen=True)
class PeerHit:
    title: str
    snippet: str


@dataclass(frozen=True)
class PeerResult:
    total: int
    hits: tuple[PeerHit, ...]


class PeerSearcher:
    def __init__(self, index_dir: Path):
        self.index = tantivy.Index.open(str(index_dir))
        self.schema = self.index.schema
        self.searcher = self.index.searcher()

    def _word_query(self, word: str) -> tantivy.Query:
        """One word of the query in title or body (a phrase when the tokenizer splits it, e.g. 3.5%)."""
        return self.index.parse_query(_quoted(word), ["title", "body"])

    def search(self, text: str, date_from: dt.date | None = None, date_to: dt.date | None = None,
               categories: tuple[str, ...] = (), newest_first: bool = False, limit: int = PAGE) -> PeerResult:
        clauses = [(tantivy.Occur.Must, self._word_query(word)) for word in query_words(text)]
        if date_from or date_to:
            start = dt.datetime.combine(date_from, dt.time()) if date_from else None
            end = dt.datetime.combine(date_to, dt.time.max) if date_to else None
            clauses.append((tantivy.Occur.Must, tantivy.Query.range_query(
                self.schema, "date", tantivy.FieldType.Date, start, end)))
        if categories:
            clauses.append((tantivy.Occur.Must, tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "category", c)) for c in categories])))
        query = tantivy.Query.boolean_query(clauses) if clauses else tantivy.Query.all_query()
        if newest_first:
            found = self.searcher.search(query, limit, order_by_field="date", order=tantivy.Order.Desc)
        else:
            found = self.searcher.search(query, limit)
        snippets = tantivy.SnippetGenerator.create(self.searcher, query, self.schema, "body")
        snippets.set_max_num_chars(SNIPPET_CHARS)
        hits = []
        for _key, address in found.hits:
            doc = self.searcher.doc(address)
            hits.append(PeerHit(title=doc.get_first("title") or "", snippet=snippets.snippet_from_doc(doc).to_html()))
        return PeerResult(total=found.count or 0, hits=tuple(hits))


def _quoted(word: str) -> str:
    """A word as one term (or phrase) of tantivy's query language, whatever characters it holds."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def query_words(text: str) -> list[str]:
    """The words the peer searches for: jieba's words of `text`, spaces and punctuation left out."""
    return [word for word in jieba.cut(text) if word.strip() and any(ch.isalnum() for ch in word)]


# -- ranking (benchmarks/ranking_eval.py) --------------------------------------

def relevance_query(index: tantivy.Index, text: str, analyzer: str, mode: str) -> tantivy.Query | None:
    """`text` as a BM25 query over title and body (each field's score added) of an index cut by
    `analyzer`; None when nothing searchable is left.

    words: each jieba word a term (or phrase) of title or body; mode "and" requires every word,
    "or" any. bigrams: mode "and" requires every bigram of the text, anywhere in the post;
    "phrase" requires each word typed (split at spaces) as the phrase of its bigrams.
    """
    schema = index.schema

    def title_or_body(make) -> tantivy.Query:
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, make(field)) for field in ("title", "body")])

    if analyzer == "words":
        pieces = [index.parse_query(_quoted(word), ["title", "body"]) for word in query_words(text)]
    elif mode == "phrase":
        pieces = []
        for word in text.split():
            tokens = bigram_tokens(word)
            if len(tokens) == 1:
                pieces.append(title_or_body(lambda field, t=tokens[0]: tantivy.Query.term_query(schema, field, t)))
            elif tokens:
                pieces.append(title_or_body(lambda field, ts=tokens: tantivy.Query.phrase_query(schema, field, ts)))
    else:
        pieces = [title_or_body(lambda field, t=token: tantivy.Query.term_query(schema, field, t))
                  for token in dict.fromkeys(bigram_tokens(text))]
    if not pieces:
        return None
    occur = tantivy.Occur.Should if mode == "or" else tantivy.Occur.Must
    return tantivy.Query.boolean_query([(occur, piece) for piece in pieces])


def ranked_ids(index_dir: Path, texts: list[str], analyzer: str, mode: str, limit: int = PAGE) -> list[list[str]]:
    """The ids of the best `limit` posts for each of `texts`, by BM25 (relevance_query)."""
    jieba.setLogLevel(logging.WARNING)
    index = tantivy.Index.open(str(index_dir))
    searcher = index.searcher()
    out = []
    for text in texts:
        query = relevance_query(index, text, analyzer, mode)
        hits = searcher.search(query, limit).hits if query is not None else []
        out.append([searcher.doc(address).get_first("id") for _score, address in hits])
    return out


def time_mix(index_dir: Path, kinds: list[dict], repeat: int, warmup: int) -> dict:
    """The query mix's kinds (as benchmarks.queries writes them) on the peer: seconds per query."""
    started = time.perf_counter()
    searcher = PeerSearcher(index_dir)
    searcher.search("金融")
    opened = time.perf_counter() - started
    calls = []
    for kind in kinds:
        date_from = dt.date.fromisoformat(kind["date_from"]) if kind.get("date_from") else None
        date_to = dt.date.fromisoformat(kind["date_to"]) if kind.get("date_to") else None
        categories = (kind["category"],) if kind.get("category") else ()
        calls.append((kind, (kind["term"], date_from, date_to, categories, bool(kind.get("newest")))))
    out = [{"label": kind["label"], "total": 0, "samples_s": []} for kind in kinds]
    gc.disable()  # as benchmarks.queries: collect between rounds, never inside a timing
    try:
        for round_no in range(warmup + repeat):
            for (_kind, args), row in zip(calls, out):
                t0 = time.perf_counter()
                result = searcher.search(*args)
                seconds = time.perf_counter() - t0
                if round_no >= warmup:
                    row["samples_s"].append(seconds)
                    row["total"] = result.total
            gc.collect()
    finally:
        gc.enable()
    return {"open_first_query_s": opened, "kinds": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.tantivy_peer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queries", help="time the query mix; one JSON object on stdout")
    q.add_argument("index", type=Path)
    q.add_argument("--mix", type=Path, required=True, help="JSON list of kinds (benchmarks.queries.kind_dicts)")
    q.add_argument("--repeat", type=int, default=30)
    q.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args(argv)
    jieba.setLogLevel(logging.WARNING)
    if not args.index.is_dir() or not tantivy.Index.exists(str(args.index)):
        print(f"tantivy_peer: no tantivy index at {args.index}", file=sys.stderr)
        return 2
    kinds = json.loads(args.mix.read_text("utf-8"))
    json.dump(time_mix(args.index, kinds, args.repeat, args.warmup), sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
