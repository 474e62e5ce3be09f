"""The engine's top hits for a list of queries, as JSON: the `engine` system of ranking_eval.py.

    PYTHON benchmarks/rank_engine.py INDEX_DIR [--depth N] [--option KEY=VALUE ...] < queries.json

stdin: a JSON list of [topic id, query]; stdout: a JSON object, topic id -> {"ids": the hits'
post ids in the order shown, "reprints": each hit's reprint ids, "total": stories matched,
"related": the ids of the related coverage shown after them}.

As the results page shows them: when the first page (--page posts) is not full, the related
coverage (相关报道, SearchEngine.related) follows the literal hits in `ids`, filling it. An engine
whose code has no related coverage shows the literal hits only.

It imports nothing of benchmarks/, only the installed `finsearch`, so ranking_eval.py can run it
with another worktree's Python (that worktree's .venv, whose editable install is that worktree's
code) and compare a candidate ranking with today's in one run. Each --option is passed to
`finsearch.search.make_request` as a keyword (sort=…, literal=1, or a candidate's new parameter).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from finsearch.search import SearchEngine, make_request


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", help="the engine's index root (the folder holding `current`)")
    ap.add_argument("--depth", type=int, default=10, help="hits per query (one page of this size)")
    ap.add_argument("--page", type=int, default=10, help="the results page's size, which related coverage fills")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="a make_request keyword for every query (repeatable)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    options = dict(option.split("=", 1) for option in args.option)
    engine = SearchEngine(args.index, match_cache=0)
    out = {}
    for topic, query in json.load(sys.stdin):
        result = engine.search(make_request(query, size=args.depth, **options))
        related = related_ids(engine, make_request(query, size=args.page, **options))
        out[topic] = {"ids": [hit.id for hit in result.hits] + related,
                      "reprints": [[reprint.id for reprint in hit.reprints] for hit in result.hits],
                      "total": result.total, "related": related}
    json.dump(out, sys.stdout, ensure_ascii=False)
    print()
    return 0


def related_ids(engine: SearchEngine, request) -> list[str]:
    """The related coverage the results page of `request` shows (none from code without it)."""
    if not hasattr(engine, "related"):
        return []
    return [related.hit.id for related in engine.related(request).hits]


if __name__ == "__main__":
    sys.exit(main())
