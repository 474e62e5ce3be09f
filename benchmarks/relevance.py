"""Search quality against a literal-substring ground truth: the engine and a pure jieba word index.

    .venv/bin/python -m benchmarks.relevance            # shared posts + the 10k corpus
    .venv/bin/python -m benchmarks.relevance --limit-queries 40
    .venv/bin/python -m benchmarks.relevance --archive data/posts --queries benchmarks/quality_queries.tsv

For every query of the set (benchmarks/relevance_queries.tsv or the --queries
files, plus queries made from the corpus at run time: substrings that jieba cuts
differently in context, and known items), it computes over the whole result set:
- recall and precision against the ground truth: a post is relevant when its
  title or body contains the query string (see `contains_literally`), or for a
  query listed with aliases, the string or one of its aliases. The engine
  searches literally (literal mode) except for the queries with aliases;
- for known items (a query made from a post's title), the reciprocal rank of
  that post in the first page (MRR@10).
"Before" is the baseline (jieba's ChineseAnalyzer, words ANDed, as jieba's README
wires it to Whoosh, benchmarks/baseline.py); "after" is this engine.
Prints per-kind figures, the overall figures and the worst queries; writes
benchmarks/results/relevance-<timestamp>.json.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUERY_FILE = HERE / "relevance_queries.tsv"
ALIAS_SEPARATOR = "|"
SEED = 20261123
CUT_QUERIES = 40
KNOWN_ITEMS = 40
PAGE = 10


def contains_literally(text: str, term: str) -> bool:
    """The ground truth: `term` occurs in `text`, folded (case, full/half width; traditional
    queries converted), white space ignored except inside a Latin word or a number, and a
    number or Latin word at an edge of the term not part of a longer number or word. A change
    between letters and digits, and a %, are edges: 沪深300 is in "沪深300ETF", GDP in "GDP2026",
    上涨11 in "上涨11%", A股 in "A股市场"; but 13亿元 is not in "113亿元", 28 not in "28.5" or
    "128", 3.5% not in "13.5%", ETF not in "ETFs", A股 not in "Meta股价"."""
    return _truth_pattern(term).search(_fold_text(text)) is not None


def _fold_text(text: str) -> str:
    from finsearch.analysis import fold
    return fold(text)


_PATTERNS: dict[str, re.Pattern] = {}
_BEFORE = {"digit": r"(?<![0-9])(?<![0-9]\.)", "latin": r"(?<![a-z])"}
_AFTER = {"digit": r"(?![0-9])(?!\.[0-9])", "latin": r"(?![a-z])"}


def _char_kind(needle: str, i: int) -> str:
    """digit (a decimal point between digits too), latin, space or other."""
    ch = needle[i]
    if ch.isascii() and ch.isdigit():
        return "digit"
    if ch == "." and 0 < i < len(needle) - 1 and needle[i - 1].isdigit() and needle[i + 1].isdigit():
        return "digit"
    if ch.isascii() and ch.isalpha():
        return "latin"
    return "space" if ch == " " else "other"


def _truth_pattern(term: str) -> re.Pattern:
    if term not in _PATTERNS:
        from finsearch.analysis import fold, simplify
        needle = " ".join(fold(simplify(term)).split())
        kinds = [_char_kind(needle, i) for i in range(len(needle))]
        parts = []
        for i, ch in enumerate(needle):
            if ch == " ":  # a space the user typed keeps two numbers or two words apart, else it is nothing
                same = kinds[i - 1] == kinds[i + 1] and kinds[i - 1] in ("digit", "latin")
                parts.append(r"\s+" if same else "")
                continue
            # Inside one number or one word no space; anywhere else white space is nothing.
            inside = i > 0 and kinds[i - 1] == kinds[i] and kinds[i] in ("digit", "latin")
            glue = i > 0 and not inside and not (kinds[i - 1] == "space" and parts[-1])  # not after \s+
            parts.append((r"\s*" if glue else "") + re.escape(ch))
        pattern = _BEFORE.get(kinds[0], "") + "".join(parts) + _AFTER.get(kinds[-1], "")
        _PATTERNS[term] = re.compile(pattern)
    return _PATTERNS[term]


@dataclass
class Query:
    kind: str
    text: str
    known_id: str = ""  # for known items: the post that must come first
    aliases: tuple[str, ...] = ()  # searched as by default (aliases expanded), judged by all of them


@dataclass
class Score:
    query: Query
    relevant: int
    found: int
    correct: int
    rank: int = 0  # of the known item in the first page, 0 if absent

    @property
    def recall(self) -> float:
        return self.correct / self.relevant if self.relevant else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else (1.0 if not self.relevant else 0.0)


def hand_written_queries(path: Path = QUERY_FILE) -> list[Query]:
    """The queries of a query file: `kind<TAB>query[<TAB>alias|alias…]` lines."""
    queries = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, text, *aliases = line.split("\t")
            names = tuple(a.strip() for a in aliases[0].split(ALIAS_SEPARATOR)) if aliases else ()
            queries.append(Query(kind, text.strip(), aliases=names))
    return queries


def load_queries(posts, limit: int | None, files: list[Path] | None = None) -> list[Query]:
    queries = [q for path in files or [QUERY_FILE] for q in hand_written_queries(path)]
    rng = random.Random(SEED)
    queries += cut_differently(posts, rng, CUT_QUERIES)
    queries += known_items(posts, rng, KNOWN_ITEMS)
    return queries[:limit] if limit else queries


def cut_differently(posts, rng: random.Random, count: int) -> list[Query]:
    """Substrings of 3-5 characters whose both ends fall inside a jieba word of their sentence."""
    from finsearch.analysis.segmenter import segmenter
    found: dict[str, Query] = {}
    while len(found) < count:
        post = rng.choice(posts)
        text = rng.choice(post.paragraphs) if post.paragraphs else post.title
        sentence = rng.choice(re.split(r"[，。；！？、：“”（）\s]", text) or [""])
        if len(sentence) < 8 or not re.fullmatch(r"[\u4e00-\u9fff]+", sentence):
            continue
        bounds = {0}
        for _word, _start, end in segmenter().tokenize(sentence):
            bounds.add(end)
        length = rng.randint(3, 5)
        start = rng.randrange(0, len(sentence) - length)
        if start in bounds or start + length in bounds:
            continue  # not cut across a word boundary on both ends
        term = sentence[start:start + length]
        found.setdefault(term, Query("cut differently", term))
    return list(found.values())


def known_items(posts, rng: random.Random, count: int) -> list[Query]:
    """A post's whole title as the query; titles shared by several posts are left out."""
    titles: dict[str, list] = {}
    for post in posts:
        titles.setdefault(post.title, []).append(post)
    unique = sorted(t for t, ps in titles.items() if len(ps) == 1 and len(t) >= 6)
    return [Query("known item", title, titles[title][0].id) for title in rng.sample(unique, count)]


def ground_truth(queries: list[Query], posts) -> dict[tuple[str, tuple[str, ...]], set[str]]:
    """For each query (text, aliases), the ids of the posts whose title or body contains it
    (or one of its aliases) literally."""
    folded = [(p.id, _fold_text(p.title), _fold_text("\n".join(p.paragraphs))) for p in posts]
    truth = {}
    for query in queries:
        patterns = [_truth_pattern(text) for text in (query.text,) + query.aliases]
        truth[query.text, query.aliases] = {pid for pid, title, body in folded
                             if any(p.search(title) or p.search(body) for p in patterns)}
    return truth


def evaluate(queries: list[Query], truths: dict[tuple[str, tuple[str, ...]], set[str]], run_query,
             first_page) -> list[Score]:
    scores = []
    for query in queries:
        truth = truths[query.text, query.aliases]
        found = run_query(query)
        rank = 0
        if query.known_id:
            page = first_page(query)
            rank = page.index(query.known_id) + 1 if query.known_id in page else 0
        scores.append(Score(query, len(truth), len(found), len(found & truth), rank))
    return scores


def _readable(index: Path) -> bool:
    """Whether this code reads the engine's index kept from an earlier run: one of another format
    (the code changed it since) is built again."""
    from finsearch.search import IndexMissing, SearchEngine
    if not (index / "current").exists():
        return False
    try:
        SearchEngine(index).close()
    except IndexMissing as error:  # an incompatible or damaged index too
        print(f"the kept engine index is rebuilt: {error}", flush=True)
        return False
    return True


def engine_runner(index: Path):
    from finsearch.search import SearchEngine, SearchError, SearchRequest
    engine = SearchEngine(index)

    def all_ids(query: Query) -> set[str]:
        ids, page = set(), 0
        while True:
            page += 1
            try:
                result = engine.search(SearchRequest(query=query.text, page=page, page_size=100,
                                                     literal=not query.aliases))
            except SearchError:
                return ids
            for hit in result.hits:
                ids.add(hit.id)
                ids.update(r.id for r in hit.reprints)
            if page >= result.pages:
                return ids

    def first_page(query: Query) -> list[str]:
        request = SearchRequest(query=query.text, page_size=PAGE, literal=not query.aliases)
        return [hit.id for hit in engine.search(request).hits]

    return all_ids, first_page


def baseline_runner(index: Path):
    from benchmarks.baseline import BaselineSearcher
    baseline = BaselineSearcher(index)

    def all_ids(query: Query) -> set[str]:
        results = baseline.searcher.search(baseline.parser.parse(query.text), limit=None)
        return {hit["id"] for hit in results}

    def first_page(query: Query) -> list[str]:
        return [hit["id"] for hit in baseline.searcher.search(baseline.parser.parse(query.text), limit=PAGE)]

    return all_ids, first_page


def summarize(scores: list[Score]) -> dict:
    def block(items: list[Score]) -> dict:
        literal = [s for s in items if not s.query.known_id]
        known = [s for s in items if s.query.known_id]
        return {
            "queries": len(items),
            "recall": round(sum(s.recall for s in literal) / len(literal), 4) if literal else None,
            "precision": round(sum(s.precision for s in literal) / len(literal), 4) if literal else None,
            "missed_relevant": sum(s.relevant - s.correct for s in literal),
            "full_recall_queries": sum(1 for s in literal if s.correct == s.relevant),
            "mrr": round(sum(1 / s.rank for s in known if s.rank) / len(known), 4) if known else None,
        }
    kinds = sorted({s.query.kind for s in scores})
    return {"overall": block(scores), "kinds": {k: block([s for s in scores if s.query.kind == k]) for k in kinds}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=HERE / ".work", help="corpora and indexes (default benchmarks/.work)")
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared")
    parser.add_argument("--limit-queries", type=int, default=None)
    parser.add_argument("--rebuild", action="store_true", help="rebuild both indexes")
    parser.add_argument("--archive", type=Path, default=None,
                        help="measure on this archive (e.g. data/posts) instead of the shared posts + 10k corpus")
    parser.add_argument("--queries", type=Path, action="append", default=None, metavar="FILE",
                        help="query file(s) (default benchmarks/relevance_queries.tsv); repeatable")
    args = parser.parse_args()

    from benchmarks import baseline
    from benchmarks.run import ensure_corpus, require_shared
    from finsearch.indexer import build_index, read_archive

    archive = args.archive.resolve() if args.archive else args.work / "corpora" / "relevance"
    if not archive.is_dir() and not args.archive:
        require_shared(args.shared, "corpus/posts")
        corpus = ensure_corpus("10k", args.work, args.shared)
        shutil.copytree(corpus, archive.with_suffix(".partial"), dirs_exist_ok=True)
        shutil.copytree(args.shared / "corpus" / "posts", archive.with_suffix(".partial") / "finews",
                        dirs_exist_ok=True)
        archive.with_suffix(".partial").rename(archive)
    posts = [r.post for r in read_archive(archive) if r.post is not None]
    name = f"relevance-{archive.name}" if args.archive else "relevance"
    engine_index, baseline_index = args.work / "indexes" / f"{name}-engine", args.work / "indexes" / f"{name}-baseline"
    builds = {}
    if args.rebuild or not _readable(engine_index):
        shutil.rmtree(engine_index, ignore_errors=True)
        started = time.perf_counter()
        build_index(archive, engine_index, progress=False)
        builds["engine_seconds"] = round(time.perf_counter() - started, 1)
    if args.rebuild or not baseline_index.is_dir():
        shutil.rmtree(baseline_index, ignore_errors=True)
        builds["baseline_seconds"] = round(baseline.build(archive, baseline_index).seconds, 1)

    queries = load_queries(posts, args.limit_queries, args.queries)
    print(f"{len(posts)} posts, {len(queries)} queries", flush=True)
    truths = ground_truth(queries, posts)
    results = {}
    for name, runner in (("baseline", baseline_runner(baseline_index)), ("engine", engine_runner(engine_index))):
        started = time.perf_counter()
        scores = evaluate(queries, truths, *runner)
        results[name] = {"summary": summarize(scores), "seconds": round(time.perf_counter() - started, 1),
                         "scores": scores}

    print(f"\n{'kind':<18}{'queries':>8}  {'recall before → after':>24}  {'precision before → after':>26}  "
          f"{'MRR@10 before → after':>22}")
    kinds = list(results["engine"]["summary"]["kinds"]) + ["overall"]
    for kind in kinds:
        before = results["baseline"]["summary"]["kinds"].get(kind) or results["baseline"]["summary"]["overall"]
        after = results["engine"]["summary"]["kinds"].get(kind) or results["engine"]["summary"]["overall"]
        print(f"{kind:<18}{after['queries']:>8}  {_pair(before['recall'], after['recall']):>24}  "
              f"{_pair(before['precision'], after['precision']):>26}  {_pair(before['mrr'], after['mrr']):>22}")
    for name in ("engine", "baseline"):
        summary = results[name]["summary"]["overall"]
        print(f"{name}: {summary['missed_relevant']} relevant posts missed in all; "
              f"{summary['full_recall_queries']} literal queries with full recall")
    worst = sorted(results["engine"]["scores"], key=lambda s: (s.recall, s.precision, -s.relevant))[:10]
    print("\nworst queries (engine): kind | query | relevant | found | recall | precision | known-item rank")
    for s in worst:
        print(f"  {s.query.kind} | {s.query.text[:30]} | {s.relevant} | {s.found} | {s.recall:.3f} | "
              f"{s.precision:.3f} | {s.rank if s.query.known_id else '-'}")

    out = HERE / "results" / f"relevance-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "posts": len(posts), "queries": len(queries), "builds": builds,
        **{name: {"summary": r["summary"], "seconds": r["seconds"],
                  "per_query": [{"kind": s.query.kind, "query": s.query.text, "relevant": s.relevant,
                                 "found": s.found, "correct": s.correct, "rank": s.rank} for s in r["scores"]]}
           for name, r in results.items()}}, ensure_ascii=False, indent=1), "utf-8")
    print(f"\nwrote {out}")


def _pair(before, after) -> str:
    def fmt(v):
        return "-" if v is None else f"{v:.3f}"
    return f"{fmt(before)} → {fmt(after)}"


if __name__ == "__main__":
    main()
