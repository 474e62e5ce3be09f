"""Threshold study for near-duplicate stories: which posts the clustering merges, to read by eye.

Computes the index's signatures (indexer/near_duplicates.py) for a slice of the wire archive
(JSON lines: id, source, datetime, title, content), clusters them as the engine does when it
opens a generation (analysis/stories.py), and prints how many posts joined an earlier story, then a
sample of merged pairs (follower and the story's first post) side by side, for a reader to
judge: precision = pairs that are the same news / pairs read.

    .venv/bin/python -m benchmarks.near_duplicates [--corpus ../shared/corpus/wire-2026.jsonl.gz]
        [--items 20000] [--sample 100] [--seed 13] [--jaccard 0.6] [--containment 0.9]

Single process, no index: about a second per thousand items.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import time
from pathlib import Path

import numpy as np

from finsearch.analysis import stories
from finsearch.analysis.near_duplicates import decode, signature, story_key, title_key

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "wire-2026.jsonl.gz"


def read_items(path: Path, count: int) -> list[dict]:
    """The `count` earliest items of the middle of the archive (a contiguous stretch of days,
    so that the three wires' versions of one flash are all in it)."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        items = [json.loads(line) for line in lines if line.strip()]
    items.sort(key=lambda item: item["datetime"])
    start = max(0, (len(items) - count) // 2)
    return items[start:start + count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jaccard", type=float, default=stories.MIN_JACCARD)
    parser.add_argument("--containment", type=float, default=stories.MIN_CONTAINMENT)
    parser.add_argument("--width", type=int, default=220, help="characters of each post to print")
    args = parser.parse_args()
    stories.MIN_JACCARD, stories.MIN_CONTAINMENT = args.jaccard, args.containment

    items = read_items(args.corpus, args.items)
    started = time.perf_counter()
    texts = [(item.get("title") or "", item.get("content") or "") for item in items]
    column = b"".join(signature(title, body) for title, body in texts)
    signed = time.perf_counter() - started
    sizes, numbers, minima = decode(column, len(items))
    keys = np.array([story_key(title, body) for title, body in texts], dtype=object)
    exact = np.unique(keys, return_inverse=True)[1].astype(np.int64)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    dates = np.array([(dt.datetime.fromisoformat(item["datetime"]) - epoch) // dt.timedelta(microseconds=1)
                      for item in items], dtype=np.int64)
    papers = np.unique(np.array([item["source"] for item in items]), return_inverse=True)[1]
    title_ids = np.unique(np.array([title_key(title) for title, _ in texts]), return_inverse=True)[1].astype(np.int64)
    started = time.perf_counter()
    merged = stories.near_stories(exact, dates, papers, np.arange(len(items)), sizes, numbers, minima, title_ids)
    clustered = time.perf_counter() - started

    heads = {}  # story -> its earliest post
    for doc in np.lexsort((np.arange(len(items)), dates)).tolist():
        heads.setdefault(int(merged[doc]), doc)
    near = [(heads[int(merged[doc])], doc) for doc in range(len(items))
            if exact[doc] != exact[heads[int(merged[doc])]]]
    exact_repeats = len(items) - np.unique(exact).size
    print(f"{len(items)} items, {items[0]['datetime']} … {items[-1]['datetime']}")
    print(f"signatures {signed:.1f} s, clustering {clustered:.2f} s; thresholds jaccard ≥ {args.jaccard}, "
          f"containment ≥ {args.containment}, window {stories.STORY_WINDOW // stories.TICKS_PER_HOUR} h")
    print(f"exact repeats {exact_repeats}; near-duplicate posts merged {len(near)}; "
          f"stories {np.unique(merged).size} (from {np.unique(exact).size} exact stories)")
    sample = random.Random(args.seed).sample(near, min(args.sample, len(near)))
    for number, (head, doc) in enumerate(sample, 1):
        print(f"\n#{number}")
        for which in (head, doc):
            item = items[which]
            text = " ".join(((item.get("title") or "") + " | " + (item.get("content") or "")).split())
            print(f"  {item['source_name']} {item['datetime'][5:16]} {text[:args.width]}")


if __name__ == "__main__":
    main()
