"""Stories and title ranking, measured on an archive: with the ranking tiers and without them.

    .venv/bin/python -m benchmarks.stories [--archive data/posts] [--index DIR] [--queries 100] [--seed 13]

- stories: posts, identical-copy stories, stories with near copies merged;
- title first: for words drawn from the titles (jieba words of 2+ characters, fixed seed) that some
  hits have in the title and some only in the body, the share of (title hit, body-only hit) pairs
  in the right order, and the share of queries with every pair right;
- whole title: for every post with a near copy and a title of its own, whether the query equal to
  its title shows a post with that title first, and whether the post is that first hit (itself,
  or among its reprints).
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from finsearch.analysis import fold, words
from finsearch.analysis.near_duplicates import title_key
from finsearch.indexer import build_index
from finsearch.search import SearchEngine, SearchRequest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def all_hits(engine: SearchEngine, query: str) -> list:
    hits, page = [], 1
    while True:
        result = engine.search(SearchRequest(query=query, page=page, page_size=100))
        hits += result.hits
        if page >= result.pages:
            return hits
        page += 1


def title_first(engine: SearchEngine, queries: list[str]) -> dict:
    right = pairs = perfect = measured = 0
    for query in queries:
        in_title = [query in fold(hit.title) for hit in all_hits(engine, query)]
        titles_before = 0
        query_pairs = query_right = 0
        for flag in in_title:
            if flag:
                titles_before += 1
            else:
                query_right += titles_before
                query_pairs += sum(in_title)
        if not query_pairs:
            continue
        measured += 1
        pairs += query_pairs
        right += query_right
        perfect += query_right == query_pairs
    return {"queries": measured, "pair_accuracy": right / pairs if pairs else None,
            "queries_all_right": perfect / measured if measured else None}


def whole_title(engine: SearchEngine) -> dict:
    items = {}
    for hit in all_hits(engine, ""):
        for reprint in hit.reprints:
            if reprint.near:
                items[reprint.id] = hit.id
    first = itself = asked = 0
    for post_id in sorted(items):
        title = engine.article(post_id).title
        if not title or title == engine.article(items[post_id]).title:
            continue
        asked += 1
        top = engine.search(SearchRequest(query=title)).hits[0]
        # Another post with this title (its copy with a comma for a space, or another day's) may
        # stand first: what counts is that the title asked for is the first hit's.
        first += title_key(top.title) == title_key(title)
        itself += top.id == post_id or post_id in {r.id for r in top.reprints}
    return {"posts": asked, "title_first": first / asked if asked else None,
            "post_in_first_hit": itself / asked if asked else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--archive", type=Path, default=REPO / "data" / "posts")
    parser.add_argument("--index", type=Path, help="an index of the archive (default: build one in a temp dir)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index
        if index is None:
            index = Path(scratch) / "index"
            build_index(args.archive, index, progress=False)
        engine = SearchEngine(index, match_cache=0)
        hits = all_hits(engine, "")
        posts = sum(1 + len(hit.reprints) for hit in hits)
        identical = sum(1 for hit in hits for r in hit.reprints if not r.near)
        titles = sorted({hit.title for hit in hits})
        vocabulary = sorted({w for title in titles for w in words(title) if len(w) >= 2 and not w.isascii()})
        queries = random.Random(args.seed).sample(vocabulary, min(args.queries, len(vocabulary)))
        started = time.perf_counter()
        figures = {"archive": str(args.archive), "posts": posts, "stories": len(hits),
                   "near_copies": posts - len(hits) - identical, "identical_copies": identical,
                   "with_tiers": {"title_first": title_first(engine, queries), "whole_title": whole_title(engine)}}
        engine._tiers = lambda *_, **__: None  # the ranking before the tiers: score, then date
        figures["without_tiers"] = {"title_first": title_first(engine, queries), "whole_title": whole_title(engine)}
        figures["seconds"] = round(time.perf_counter() - started, 1)
        engine.close()
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stories.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
