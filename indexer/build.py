"""Build an index from scratch: read the archive, analyse, write, publish."""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm
from whoosh import index as whoosh_index

from analysis.segmenter import segmenter
from indexer import store
from indexer.ingest import Post, Problem, ProblemCounts, ReadResult, find_posts, read_archive
from indexer.schema import make_schema, to_document

log = logging.getLogger(__name__)

WRITER_MEMORY_MB = 1024  # per writer process; less makes Whoosh spill postings to disk and merge them back
# Segments as separate files, not one compound file: Whoosh reads a compound
# file's parts into memory (BytesIO over the mmap), so each searcher process
# would hold a private copy of the whole index.
WRITER_OPTIONS = {"limitmb": WRITER_MEMORY_MB, "compound": False}
POSTS_PER_EXTRA_PROC = 1000  # below this, starting writer processes costs more than it saves


@dataclass
class BuildReport(ProblemCounts):
    index: Path
    indexed: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


def _die_with_parent() -> None:
    """In a forked writer worker: die when the build process dies (kill -9 included)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


if sys.platform.startswith("linux"):
    os.register_at_fork(after_in_child=_die_with_parent)


def default_procs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def build_index(archive: Path, root: Path, procs: int | None = None, progress: bool = True) -> BuildReport:
    """Index every post of `archive` into a new build and make it current.

    Searches keep using the previous build until the new one is complete.
    Raises store.IndexBusy if another process is writing this index.
    """
    with store.writer_lock(root):
        return build_locked(archive, root, procs, progress)


def build_locked(archive: Path, root: Path, procs: int | None, progress: bool) -> BuildReport:
    """build_index for a caller that already holds the writer lock."""
    started = time.perf_counter()
    store.remove_stale_builds(root)  # what a killed run left behind
    build = store.new_build_dir(root)
    report = BuildReport(index=root)
    paths = find_posts(archive)
    if procs is None:
        procs = max(1, min(default_procs(), len(paths) // POSTS_PER_EXTRA_PROC))
    log.info("indexing %d files from %s with %d process(es)", len(paths), archive, procs)
    segmenter()  # load jieba once, before the writer forks its workers
    ix = whoosh_index.create_in(str(build), make_schema())
    options = dict(WRITER_OPTIONS)
    if procs > 1:
        options.update(procs=procs, multisegment=True)
    writer = ix.writer(**options)
    try:
        report.indexed = add_posts(writer, read_archive(archive, paths), report.problems, len(paths), progress)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    store.publish(root, build)
    report.seconds = time.perf_counter() - started
    log.info("indexed %d posts in %.1f s (%d recovered, %d skipped)",
             report.indexed, report.seconds, report.recovered, report.skipped)
    return report


def add_posts(writer, results: Iterable[ReadResult], problems: list[Problem], total: int, progress: bool,
              accept: Callable[[Post], bool] = lambda post: True) -> int:
    """Add every readable post to `writer`, collecting problems; returns how many were added."""
    added = 0
    for result in tqdm(results, total=total, unit="post", desc="indexing", disable=not progress,
                       mininterval=0.5):
        problems.extend(result.problems)
        if result.post is not None and accept(result.post):
            writer.add_document(**to_document(result.post))
            added += 1
    return added
