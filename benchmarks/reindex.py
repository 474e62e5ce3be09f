"""The nightly reindex: nothing changed, every file verified, 1% of posts added and 0.1% changed.

    .venv/bin/python -m benchmarks.reindex [--corpus 10k|wire] [--work DIR]
    .venv/bin/python -m benchmarks.reindex --archive DIR --index DIR

With --corpus, works on a copy of a benchmark corpus in the work dir: the newest
1% of its posts (by path, which starts with the date) are held back from a first
full build and added later, as a day's news is. With --archive and --index, times
the runs on that archive and its built index instead (no build): 1% of the posts
are added as copies under new names in the folder ADDED_FOLDER, and at the end
that folder is removed and the edited posts get their bytes and mtimes back (a
last run puts the index back to the same documents, a generation later).

Either way 0.1% of the others get a correction line, dated an hour before the run
(edited during the day). Files are copied with their mtimes (as `cp -a` or
`rsync -a` would). `finsearch reindex` runs as the nightly job does (a fresh
process each time, wall time measured around it); one line per step (`read` is
how many files the run checksummed), then a JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.run import CORPORA, DEFAULT_SHARED, DEFAULT_WORK, ensure_corpus

ADDED_SHARE, CHANGED_SHARE = 0.01, 0.001
ADDED_FOLDER = "reindex-benchmark-added"
EDITED_BEFORE_RUN_NS = 3600 * 10**9


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
        shutil.copy2(corpus / rel, archive / rel)


def add_renamed_copies(archive: Path, posts: list[Path]) -> None:
    """Copies of `posts` under ADDED_FOLDER, named without the numeric code an id is taken from
    (so each copy is a post of its own, its path its id)."""
    for rel in posts:
        target = archive / ADDED_FOLDER / rel.with_name(f"{rel.stem}-copy{rel.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(archive / rel, target)


def edit(archive: Path, posts: list[Path]) -> dict[Path, tuple[bytes, int]]:
    """Add a correction line to each post, dated an hour ago; returns each one's bytes and mtime before."""
    before = {}
    an_hour_ago = time.time_ns() - EDITED_BEFORE_RUN_NS
    for rel in posts:
        path = archive / rel
        before[path] = (path.read_bytes(), path.stat().st_mtime_ns)
        path.write_text(path.read_text("utf-8").replace("\n---\n", "\n---\n今日更正：", 1), "utf-8")
        os.utime(path, ns=(an_hour_ago, an_hour_ago))
    return before


def on_corpus(corpus: Path, archive: Path, index: Path) -> tuple[int, dict[str, dict]]:
    from finsearch.indexer.ingest import find_posts
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    posts = [Path(path).relative_to(corpus) for path in find_posts(corpus)]
    held_back = posts[len(posts) - round(len(posts) * ADDED_SHARE):]
    first = posts[:len(posts) - len(held_back)]
    copy_posts(corpus, archive, first)

    steps = {"full": run_reindex(archive, index, "--full")}
    steps["nothing changed"] = run_reindex(archive, index)
    steps["nothing changed, --verify"] = run_reindex(archive, index, "--verify")
    copy_posts(corpus, archive, held_back)
    changed = first[::round(1 / CHANGED_SHARE)]
    edit(archive, changed)
    steps[f"{len(held_back)} added, {len(changed)} changed"] = run_reindex(archive, index)
    steps["nothing changed again"] = run_reindex(archive, index)
    return len(posts), steps


def on_archive(archive: Path, index: Path) -> tuple[int, dict[str, dict]]:
    from finsearch.indexer.ingest import find_posts
    if (archive / ADDED_FOLDER).exists():
        sys.exit(f"{archive / ADDED_FOLDER} exists: left by an interrupted run? remove it first")
    posts = [Path(path).relative_to(archive) for path in find_posts(archive)]
    steps = {"nothing changed": run_reindex(archive, index)}
    steps["nothing changed, --verify"] = run_reindex(archive, index, "--verify")
    added = posts[::round(1 / ADDED_SHARE)]
    changed = posts[1::round(1 / CHANGED_SHARE)]
    originals: dict[Path, tuple[bytes, int]] = {}
    try:
        add_renamed_copies(archive, added)
        originals = edit(archive, changed)
        steps[f"{len(added)} added, {len(changed)} changed"] = run_reindex(archive, index)
        steps["nothing changed again"] = run_reindex(archive, index)
    finally:
        shutil.rmtree(archive / ADDED_FOLDER, ignore_errors=True)
        for path, (raw, mtime_ns) in originals.items():
            path.write_bytes(raw)
            os.utime(path, ns=(mtime_ns, mtime_ns))
    steps[f"put back: {len(added)} deleted, {len(changed)} changed"] = run_reindex(archive, index)
    return len(posts), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=list(CORPORA), default="10k")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--archive", type=Path, help="an archive already indexed at --index (instead of a corpus)")
    parser.add_argument("--index", type=Path, help="the index of --archive")
    args = parser.parse_args()
    if (args.archive is None) != (args.index is None):
        parser.error("--archive and --index go together")

    if args.archive is not None:
        name = str(args.archive)
        posts, steps = on_archive(args.archive, args.index)
    else:
        name = args.corpus
        corpus = ensure_corpus(args.corpus, args.work, args.shared)
        posts, steps = on_corpus(corpus, args.work / "corpora" / f"reindex-{args.corpus}",
                                 args.work / "indexes" / f"reindex-{args.corpus}")

    for step, report in steps.items():
        print(f"{step:<34} {report['wall_seconds']:>7.2f} s wall  (engine {report['seconds']:.2f} s; "
              f"read {report['checksummed']}; +{report['added']} ~{report['updated']} -{report['deleted']}; "
              f"segments {report['segments_before']} -> {report['segments_after']})")
    print(json.dumps({"archive": name, "posts": posts, "steps": steps}, ensure_ascii=False))


if __name__ == "__main__":
    main()
