"""Crash matrix: every crash point x N runs, each compared with a full rebuild.

    .venv/bin/python -m benchmarks.crash_matrix [--archive DIR | --corpus 10k|wire] [--runs 5] [--work DIR]

Works on a copy of the archive, indexed once. For each crash point and each run:
1% of the posts change (deleted, edited, added back from a held-back pool), a
`finsearch reindex` is made to exit hard at that point (FINSEARCH_CRASH_AT), the
index is checked to serve a whole generation (the previous one, or the new one
after the swap), the next reindex runs normally, and the result is compared with
a control index that got the same runs without crashes (same documents, same top
10 for QUERIES) and with a fresh full build (same documents; its top 10 may differ
within the churn tolerance, see churn.py). One line per case, then a JSON summary.
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

from benchmarks.churn import QUERIES, top10
from benchmarks.run import CORPORA, DEFAULT_SHARED, DEFAULT_WORK, REPO, ensure_corpus

CHANGE_SHARE = 0.01


def reindex(archive: Path, index: Path, crash_at: str | None = None) -> int:
    env = {"FINSEARCH_CRASH_AT": crash_at} if crash_at else {}
    return subprocess.run([sys.executable, "-m", "finsearch", "reindex", str(archive), "--index", str(index)],
                          capture_output=True, env={**os.environ, **env}, check=False).returncode


def documents(index: Path) -> set[str]:
    """The ids of the live documents of the current generation."""
    from finsearch.storage import generations as store
    from finsearch.storage.schema import ID_FIELD
    ix, _ = store.open_current(index)
    with ix.reader() as reader:
        ids = list(reader.column_reader(ID_FIELD))
        return {ids[doc] for doc in reader.all_doc_ids()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=None, help="a folder of posts (default: data/posts)")
    parser.add_argument("--corpus", choices=list(CORPORA), default=None, help="a benchmark corpus instead")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    from finsearch.indexer import build_index
    from finsearch.indexer.ingest import find_posts
    from finsearch.storage import generations as store

    source = ensure_corpus(args.corpus, args.work, args.shared) if args.corpus else (args.archive or REPO / "data" / "posts")
    base = args.work / "crash-matrix"
    shutil.rmtree(base, ignore_errors=True)
    archive, index, control, fresh = base / "posts", base / "index", base / "control", base / "fresh"
    posts = [Path(path).relative_to(source) for path in find_posts(source)]
    shutil.copytree(source, archive)
    build_index(archive, index, progress=False)
    shutil.copytree(index, control, symlinks=True)
    rng = random.Random(args.seed)
    count = max(1, round(len(posts) * CHANGE_SHARE))
    cases = []
    for point in store.CRASH_POINTS:
        for run in range(args.runs):
            present = sorted(p for p in archive.rglob("*") if p.is_file())
            for path in rng.sample(present, count // 2):
                path.unlink()
            for path in rng.sample(sorted(p for p in archive.rglob("*") if p.is_file()), count - count // 2):
                path.write_bytes(path.read_bytes().replace(b"\n---\n", f"\n---\n崩溃矩阵{point}{run}。".encode(), 1))
            for rel in rng.sample(posts, count // 2):
                (archive / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source / rel, archive / rel)
            before = documents(index)
            started = time.perf_counter()
            if point == "during-cleanup":  # something to clean: what a run killed earlier left
                reindex(archive, index, "after-segments")
            crashed = reindex(archive, index, point)
            serving = documents(index)
            completed = reindex(archive, index)
            reindex(archive, control)
            shutil.rmtree(fresh, ignore_errors=True)
            build_index(archive, fresh, progress=False)
            expected = documents(fresh)
            case = {"point": point, "run": run + 1, "crash_exit": crashed, "completed_exit": completed,
                    "served_whole": serving == (expected if point == "after-swap" else before),
                    "equal_to_control": documents(index) == documents(control) and top10(index) == top10(control),
                    "documents_of_rebuild": documents(index) == expected,
                    "seconds": round(time.perf_counter() - started, 1)}
            cases.append(case)
            print(json.dumps(case), file=sys.stderr)
    ok = [c for c in cases if c["crash_exit"] == store.CRASH_EXIT_CODE and c["completed_exit"] == 0
          and c["served_whole"] and c["equal_to_control"] and c["documents_of_rebuild"]]
    print(json.dumps({"source": str(source), "queries": len(QUERIES), "cases": len(cases), "ok": len(ok),
                      "failed": [c for c in cases if c not in ok]}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
