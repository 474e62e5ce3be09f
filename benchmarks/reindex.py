"""The nightly reindex: full build, nothing changed, 1% of posts added and 0.1% changed.

    .venv/bin/python -m benchmarks.reindex [--corpus 10k|wire] [--work DIR]

Works on a copy of a benchmark corpus in the work dir. The newest 1% of its
posts (by path, which starts with the date) are held back from the first build
and added later, as a day's news is; 0.1% of the others get a correction line.
`finsearch reindex` runs as the nightly job does (a fresh process each time,
wall time measured around it); one line per step, then a JSON object.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import CORPORA, DEFAULT_SHARED, DEFAULT_WORK, ensure_corpus

ADDED_SHARE, CHANGED_SHARE = 0.01, 0.001


def run_reindex(archive: Path, index: Path, *extra: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "finsearch", "reindex", str(archive), "--index", str(index),
                           "--json", *extra], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    report["wall_seconds"] = round(time.perf_counter() - started, 2)
    report.pop("problems", None)
    return report


def copy_posts(corpus: Path, archive: Path, posts: list[Path]) -> None:
    """Copy the posts (paths relative to `corpus`) into the same places under `archive`."""
    for rel in posts:
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / rel, archive / rel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=list(CORPORA), default="10k")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    from finsearch.indexer.ingest import find_posts

    corpus = ensure_corpus(args.corpus, args.work, args.shared)
    archive = args.work / "corpora" / f"reindex-{args.corpus}"
    index = args.work / "indexes" / f"reindex-{args.corpus}"
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    posts = [path.relative_to(corpus) for path in find_posts(corpus)]
    held_back = posts[len(posts) - round(len(posts) * ADDED_SHARE):]
    first = posts[:len(posts) - len(held_back)]
    copy_posts(corpus, archive, first)

    steps = {"full": run_reindex(archive, index, "--full")}
    steps["nothing changed"] = run_reindex(archive, index)
    copy_posts(corpus, archive, held_back)
    changed = first[::round(1 / CHANGED_SHARE)]
    for rel in changed:
        path = archive / rel
        path.write_text(path.read_text("utf-8").replace("\n---\n", "\n---\n今日更正：", 1), "utf-8")
    steps[f"{len(held_back)} added, {len(changed)} changed"] = run_reindex(archive, index)
    steps["nothing changed again"] = run_reindex(archive, index)

    for name, report in steps.items():
        print(f"{name:<26} {report['wall_seconds']:>7.2f} s wall  (engine {report['seconds']:.2f} s; "
              f"+{report['added']} ~{report['updated']} -{report['deleted']}; "
              f"segments {report['segments_before']} -> {report['segments_after']})")
    print(json.dumps({"corpus": args.corpus, "posts": len(posts), "steps": steps}, ensure_ascii=False))


if __name__ == "__main__":
    main()
