"""Suggestions: the vocabulary's build time and p50/p95 of SearchEngine.suggest.

    python -m benchmarks.suggest INDEX [--repeat N] [--prefixes N]

The prefixes are drawn from the index's own vocabulary (fixed seed): the first one, two and three
characters of words, and their pinyin initials, as someone typing would send them. The build is
what the first suggestion after each new index generation costs. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from finsearch.search import SearchEngine
from finsearch.search.suggest import Vocabulary, pinyin_initials

LIMIT = 8  # what the page asks for


def _prefixes(vocabulary: Vocabulary, count: int) -> list[str]:
    rng = np.random.default_rng(1)
    words = [vocabulary.words[i] for i in rng.choice(len(vocabulary.words), size=count, replace=False)]
    typed = [word[:length] for word in words for length in (1, 2, 3) if len(word) >= length]
    typed += [pinyin_initials(word)[:3] for word in words if pinyin_initials(word)]
    return typed


def measure(index: str, repeat: int, prefixes: int) -> dict:
    engine = SearchEngine(index)
    with engine.snapshot() as snap, snap.own_reader() as reader:
        started = time.perf_counter()
        vocabulary = Vocabulary.build(reader)  # cold: pinyin computed for every word
        cold_build = time.perf_counter() - started
        started = time.perf_counter()
        Vocabulary.build(reader)  # a new generation of the same words: initials cached
        rebuild = time.perf_counter() - started
    engine.suggest("金", LIMIT)  # the engine's own vocabulary for this generation
    typed = _prefixes(vocabulary, min(prefixes, len(vocabulary.words)))
    samples = []
    for _ in range(repeat):
        for text in typed:
            begun = time.perf_counter()
            engine.suggest(text, LIMIT)
            samples.append(time.perf_counter() - begun)
    ms = np.array(samples) * 1000
    engine.close()
    return {"index": index, "words": len(vocabulary.words), "keys": len(vocabulary.keys),
            "build_s": round(cold_build, 2), "rebuild_s": round(rebuild, 2), "prefixes": len(typed),
            "p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "max_ms": round(float(ms.max()), 3), "samples": len(samples)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prefixes", type=int, default=200, help="words to draw prefixes from")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.index, args.repeat, args.prefixes), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
