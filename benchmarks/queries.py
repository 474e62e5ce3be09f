"""The query benchmark of one corpus: the engine and the baseline side by side.

    python -m benchmarks.queries ENGINE_INDEX [BASELINE_INDEX] [--repeat N] [--warmup N]

Prints one JSON object on stdout. `run.py` runs it in a fresh process per
corpus, so "open + first query" includes loading each engine's jieba
dictionary, and nothing from another corpus is left in memory.

The mix (see README.md): nine terms x four variants, every request a first page
of 10 hits with snippets and facet counts (category, paper, month).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import logging
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# (role, term): the fixed part of the mix; the rare word is computed per corpus.
TERMS = (
    ("frequent", "公司"),  # the hard case: in about a quarter of wire posts (hundreds of thousands at 1M)
    ("common", "金融"),
    ("rare", None),
    ("two-word", "人工智能"),
    ("three-word", "新能源汽车产业"),
    ("latin", "ETF"),
    ("digits", "600519"),
    ("headline", None),  # a whole title pasted (15-60 characters): how a reporter finds a post again
    ("words", None),  # five words of another title, typed apart
)
VARIANTS = ("plain", "dates", "category", "newest")
RARE_MIN, RARE_MAX = 3, 10
DATE_QUANTILES = (0.40, 0.60)  # the date range holds the middle ~20% of the posts
_RARE_CANDIDATE = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
LONG_SAMPLE = 400  # posts, spread over the index, whose titles the long queries are drawn from
HEADLINE_CHARS = (15, 60)
HEADLINE_MAX_HITS = 10
WORDS_IN_QUERY = 5


@dataclass
class Kind:
    role: str
    term: str
    variant: str
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    category: str | None = None
    newest: bool = False

    @property
    def label(self) -> str:
        return f"{self.role} {self.term} | {self.variant}"


@dataclass
class KindResult:
    label: str
    role: str
    term: str
    variant: str
    engine_total: int = 0  # the engine's total: stories (a story published by several papers counts once)
    engine_articles: int = 0  # posts matched, as the baseline counts
    baseline_total: int = 0
    engine_hits: int = 0
    baseline_hits: int = 0
    engine_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)


def _date_range(reader) -> tuple[dt.date, dt.date]:
    from whoosh.util.times import long_to_datetime

    ticks = np.fromiter(reader.column_reader("date", translate=False), dtype=np.int64)
    low, high = np.quantile(ticks, DATE_QUANTILES, method="lower")
    return long_to_datetime(int(low)).date(), long_to_datetime(int(high)).date()


def _rare_word(engine, baseline, reader) -> str:
    """A jieba word of the body with RARE_MIN-RARE_MAX hits in both engines; deterministic.

    Candidates are the CJK words of 2-4 characters whose body document frequency
    is in range, tried in the order of a hash of their text (stable, but not
    biased towards the start of the alphabet).
    """
    from finsearch.search import SearchRequest
    candidates = []
    for btext, info in reader.iter_field("body"):
        if RARE_MIN <= info.doc_frequency() <= RARE_MAX:
            text = btext.decode("utf-8")
            if _RARE_CANDIDATE.match(text):
                candidates.append(text)
    candidates.sort(key=lambda t: hashlib.blake2b(t.encode(), digest_size=8).digest())
    for text in candidates[:500]:
        if (RARE_MIN <= engine.search(SearchRequest(query=text)).articles <= RARE_MAX
                and (baseline is None or RARE_MIN <= baseline.search(text).total <= RARE_MAX)):
            return text
    raise SystemExit(f"no word with {RARE_MIN}-{RARE_MAX} hits in both engines")


def _sampled_titles(reader) -> list[str]:
    """The titles of LONG_SAMPLE live posts spread evenly over the index, in the order of a hash of
    their text (deterministic per corpus, not biased towards its first posts)."""
    count = reader.doc_count_all()
    docs = range(0, count, max(1, count // LONG_SAMPLE))
    titles = {reader.stored_fields(d).get("title", "") for d in docs if not reader.is_deleted(d)}
    return sorted(titles, key=lambda t: hashlib.blake2b(t.encode(), digest_size=8).digest())


def _headline(engine, titles: list[str]) -> str:
    """A title of HEADLINE_CHARS characters, mostly Chinese, that finds a few posts: pasted whole."""
    from finsearch.search import SearchRequest
    low, high = HEADLINE_CHARS
    for title in titles:
        if (low <= len(title) <= high and sum(map(_is_cjk, title)) * 2 > len(title)
                and 1 <= engine.search(SearchRequest(query=title)).articles <= HEADLINE_MAX_HITS):
            return title
    raise SystemExit("no title fit to paste as a headline query")


def _words(titles: list[str], headline: str) -> str:
    """WORDS_IN_QUERY Chinese words of a title (not the headline's), none inside another, apart."""
    from finsearch.analysis import words
    for title in titles:
        if title == headline:
            continue
        found = [word for word in words(title) if len(word) >= 2 and all(map(_is_cjk, word))]
        chosen = [word for word in found if not any(word != other and word in other for other in found)]
        if len(chosen) >= WORDS_IN_QUERY:
            return " ".join(chosen[:WORDS_IN_QUERY])
    raise SystemExit(f"no title with {WORDS_IN_QUERY} words")


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def make_mix(engine, baseline, engine_root: Path) -> tuple[list[Kind], dict]:
    from finsearch.storage.generations import open_current
    ix, _ = open_current(engine_root)
    with ix.reader() as reader:
        date_from, date_to = _date_range(reader)
        rare = _rare_word(engine, baseline, reader)
        titles = _sampled_titles(reader)
    headline = _headline(engine, titles)
    category = engine.stats().categories[0].value  # the most common category
    params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
              "date_quantiles": list(DATE_QUANTILES), "category": category, "rare_word": rare,
              "rare_hits": [RARE_MIN, RARE_MAX], "headline": headline, "words": _words(titles, headline),
              "page_size": 10}
    return kinds_of(params), params


def kinds_of(params: dict) -> list[Kind]:
    """The mix's kinds for a corpus' parameters (as `run` reports them), so that another engine
    (benchmarks/tantivy_peer.py) can be given exactly the same queries."""
    date_from, date_to = dt.date.fromisoformat(params["date_from"]), dt.date.fromisoformat(params["date_to"])
    kinds = []
    chosen = {"rare": params["rare_word"], "headline": params.get("headline"), "words": params.get("words")}
    for role, term in TERMS:
        term = term or chosen[role]
        if term is None:  # the parameters of a run from before the long queries
            continue
        for variant in VARIANTS:
            kind = Kind(role, term, variant)
            if variant == "dates":
                kind.date_from, kind.date_to = date_from, date_to
            elif variant == "category":
                kind.category = params["category"]
            elif variant == "newest":
                kind.newest = True
            kinds.append(kind)
    return kinds


def _engine_call(engine, kind: Kind):
    from finsearch.search import SearchRequest, Sort
    request = SearchRequest(query=kind.term, date_from=kind.date_from, date_to=kind.date_to,
                            categories=(kind.category,) if kind.category else (),
                            sort=Sort.NEWEST if kind.newest else Sort.RELEVANCE, page_size=10)
    return lambda: engine.search(request)


def _baseline_call(baseline, kind: Kind):
    categories = (kind.category,) if kind.category else ()
    return lambda: baseline.search(kind.term, kind.date_from, kind.date_to, categories, kind.newest, limit=10)


def _timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def run(engine_root: Path, baseline_dir: Path | None, repeat: int, warmup: int, progress=None,
        engine_cache: bool = False) -> dict:
    from benchmarks.baseline import BaselineSearcher
    from finsearch.search import SearchEngine, SearchRequest

    opened = {}
    started = time.perf_counter()
    # The mix repeats each query many times: with the engine's per-query match
    # cache, every repetition after the first would time a cache hit.
    engine = SearchEngine(engine_root) if engine_cache else SearchEngine(engine_root, match_cache=0)
    engine.search(SearchRequest(query="金融"))
    opened["engine"] = time.perf_counter() - started
    baseline = None
    if baseline_dir is not None:
        started = time.perf_counter()
        baseline = BaselineSearcher(baseline_dir)
        baseline.search("金融")
        opened["baseline"] = time.perf_counter() - started

    kinds, params = make_mix(engine, baseline, engine_root)
    calls = [(kind, _engine_call(engine, kind), baseline and _baseline_call(baseline, kind)) for kind in kinds]
    results = [KindResult(k.label, k.role, k.term, k.variant) for k in kinds]
    load = {"before": list(_loadavg())}
    # Automatic collections would fire inside timings, and at the same point of
    # every round, so always in the same kind; collect between rounds only.
    gc.disable()
    try:
        _rounds(calls, results, baseline, repeat, warmup, progress)
    finally:
        gc.enable()
    load["after"] = list(_loadavg())
    engine.close()
    if baseline is not None:
        baseline.close()
    params["engine_cache"] = "on" if engine_cache else "off"
    return {"repeat": repeat, "warmup": warmup, "params": params, "open_first_query_s": opened,
            "loadavg": load, "kinds": [asdict(r) for r in results]}


def _rounds(calls, results, baseline, repeat: int, warmup: int, progress) -> None:
    """Time the mix: each kind once per round on each engine, samples into `results`."""
    for round_no in range(warmup + repeat):
        for index, ((_kind, engine_call, baseline_call), out) in enumerate(zip(calls, results)):
            # Interleave, and alternate who goes first, so noise hits both alike.
            order = ("engine", "baseline") if (round_no + index) % 2 == 0 else ("baseline", "engine")
            if baseline is None:
                order = ("engine",)
            for who in order:
                seconds, result = _timed(engine_call if who == "engine" else baseline_call)
                if round_no < warmup:
                    continue
                if who == "engine":
                    out.engine_s.append(seconds)
                    out.engine_total, out.engine_hits = result.total, len(result.hits)
                    out.engine_articles = result.articles
                else:
                    out.baseline_s.append(seconds)
                    out.baseline_total, out.baseline_hits = result.total, len(result.hits)
        if progress:
            progress(round_no + 1, warmup + repeat)
        gc.collect()  # between rounds, not inside a timing


def _loadavg() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engine_index", type=Path, help="the engine's index root (holds `current`)")
    ap.add_argument("baseline_index", type=Path, nargs="?", default=None,
                    help="the baseline's Whoosh index folder (none: the engine alone)")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--progress", action="store_true", help="report rounds on stderr")
    ap.add_argument("--engine-cache", action="store_true",
                    help="keep the engine's match cache between repetitions (default: emptied before each query)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def progress(done, total):
        print(f"\r  query rounds {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    out = run(args.engine_index, args.baseline_index, args.repeat, args.warmup,
              progress if args.progress else None, engine_cache=args.engine_cache)
    json.dump(out, sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
