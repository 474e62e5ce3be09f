"""Churn: does the index rot under nightly deletions? Size and top-10 drift against a fresh build.

    .venv/bin/python -m benchmarks.churn [--archive DIR | --corpus 10k|wire] [--runs 30] [--work DIR]

Works on a copy of the archive. The newest RUNS% of its posts are held back; each
run then deletes 1% of the posts present (a fixed seed) and adds 1% of the held-back
ones, and `finsearch reindex` applies it as the nightly job does (a fresh process).
After the last run the same archive is built from scratch, and the two are compared:
bytes on disk, segments, deleted documents still on disk, and for every query of
QUERIES whether its top 10 (ids, in order) is the same. One line per run, then JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import CORPORA, DEFAULT_SHARED, DEFAULT_WORK, REPO, ensure_corpus

DAILY_SHARE = 0.01
QUERIES = ("银行", "基金", "股票", "人工智能", "新能源汽车", "供应链金融", "上海 银行", "证券 OR 保险", "央行 -银行",
           "title:公司", "A股", "ETF", "降准", "科技股", "美联储", "半导体", "房地产", "黄金", "原油", "涨停", "北向资金")


def reindex(archive: Path, index: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "finsearch", "reindex", str(archive), "--index", str(index),
                           "--json"], capture_output=True, text=True, check=False)
    report = json.loads(done.stdout)
    if done.returncode:
        raise SystemExit(f"reindex failed ({done.returncode}): {report.get('error')}")
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    report.pop("problems", None)
    return report


def on_disk(index: Path) -> dict:
    """The current generation's bytes, segments and deleted documents still stored."""
    from whoosh import index as whoosh_index
    build = index / os.readlink(index / "current")
    ix = whoosh_index.open_dir(str(build))
    segments = ix._segments()
    return {"bytes": sum(p.stat().st_size for p in build.iterdir() if p.is_file()),
            "segments": len(segments), "deleted_on_disk": sum(s.deleted_count() for s in segments),
            "documents": sum(s.doc_count() for s in segments)}


def top10(index: Path) -> dict[str, list[str]]:
    from finsearch.search import SearchEngine, SearchRequest
    engine = SearchEngine(index)
    try:
        return {q: [h.id for h in engine.search(SearchRequest(query=q, page_size=10)).hits] for q in QUERIES}
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=None, help="a folder of posts (default: data/posts)")
    parser.add_argument("--corpus", choices=list(CORPORA), default=None, help="a benchmark corpus instead")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    from finsearch.indexer import build_index
    from finsearch.indexer.ingest import find_posts

    source = ensure_corpus(args.corpus, args.work, args.shared) if args.corpus else (args.archive or REPO / "data" / "posts")
    name = args.corpus or "archive"
    archive, index, fresh = (args.work / "churn" / f"{name}-{part}" for part in ("posts", "index", "fresh"))
    for path in (archive, index, fresh):
        shutil.rmtree(path, ignore_errors=True)
    posts = [Path(path).relative_to(source) for path in find_posts(source)]
    daily = max(1, round(len(posts) * DAILY_SHARE))
    held_back = posts[len(posts) - daily * args.runs:]
    for rel in posts[:len(posts) - len(held_back)]:
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / rel, archive / rel)
    started = time.perf_counter()
    build_index(archive, index, progress=False)
    print(f"first build: {len(posts) - len(held_back)} posts, {time.perf_counter() - started:.1f} s; "
          f"{args.runs} runs of -{daily} / +{daily} posts", file=sys.stderr)
    rng = random.Random(args.seed)
    runs = []
    for run in range(args.runs):
        present = sorted(p for p in archive.rglob("*") if p.is_file())
        for path in rng.sample(present, daily):
            path.unlink()
        for rel in held_back[run * daily:(run + 1) * daily]:
            (archive / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / rel, archive / rel)
        report = {**reindex(archive, index), **on_disk(index)}
        runs.append(report)
        print(f"run {run + 1:2d}: {report['wall_seconds']:6.2f} s, {report['segments']} segments, "
              f"{report['bytes'] / 2**20:7.1f} MiB, {report['deleted_on_disk']} deleted docs on disk", file=sys.stderr)
    build_index(archive, fresh, progress=False)
    churned, rebuilt = top10(index), top10(fresh)
    fresh_disk = on_disk(fresh)
    differing = [q for q in QUERIES if churned[q] != rebuilt[q]]
    result = {
        "source": str(source), "runs": args.runs, "daily_posts": daily,
        "churned": on_disk(index), "fresh": fresh_disk,
        "size_ratio": round(on_disk(index)["bytes"] / fresh_disk["bytes"], 3),
        "queries": len(QUERIES), "top10_differing": differing,
        "top10_overlap_mean": round(sum(len(set(churned[q]) & set(rebuilt[q])) / max(1, len(rebuilt[q]))
                                        for q in QUERIES) / len(QUERIES), 3),
        "run_seconds_max": max(r["wall_seconds"] for r in runs),
        "run_seconds_median": sorted(r["wall_seconds"] for r in runs)[len(runs) // 2],
    }
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
