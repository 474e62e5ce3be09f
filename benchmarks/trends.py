"""Trends for five terms over the whole archive: p50/p95 of SearchEngine.trends.

    python -m benchmarks.trends INDEX [--repeat N] [--term T]...

Cold: the engine's match cache is off, so each round evaluates the five queries again (what the
first look at a new comparison costs); warm: the cache is on (switching interval or mode, or the
CSV after the page). Every interval the archive's span allows is measured. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from finsearch.search import SearchEngine, SearchError
from finsearch.search.trends import Interval, make_trend_request

TERMS = ("银行", "新能源", "人工智能", "降准", "ETF")  # common, compound, rare-ish, Latin


def _percentiles(samples: list[float]) -> dict:
    ms = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2), "rounds": len(samples)}


def measure(index: str, terms: tuple[str, ...], repeat: int) -> dict:
    report: dict = {"index": index, "terms": list(terms), "intervals": {}}
    for cached, label in ((0, "cold"), (32, "warm")):
        engine = SearchEngine(index, match_cache=cached)
        report["documents"] = engine.stats().documents
        for interval in (None, *Interval):
            request = make_trend_request(terms, interval=interval.value if interval else None)
            try:
                result = engine.trends(request)  # also the warm-up round
            except SearchError as refused:  # a span too long for days
                report["intervals"][interval.value if interval else "auto"] = {"refused": str(refused)}
                continue
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                engine.trends(request)
                samples.append(time.perf_counter() - started)
            name = interval.value if interval else f"auto ({result.interval.value})"
            report["intervals"].setdefault(name, {"periods": len(result.periods)})[label] = _percentiles(samples)
        engine.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--term", action="append", help=f"a term (up to 5; default {' '.join(TERMS)})")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.index, tuple(args.term or TERMS), args.repeat), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
