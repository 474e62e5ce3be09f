"""Build an index from scratch: read the archive, analyse, write, publish."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm
from whoosh import index as whoosh_index

from analysis.segmenter import segmenter
from indexer import store
from indexer.ingest import Problem, find_posts, read_archive
from indexer.schema import make_schema, to_document

log = logging.getLogger(__name__)

WRITER_MEMORY_MB = 256


@dataclass
class BuildReport:
    index: Path
    indexed: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return sum(1 for p in self.problems if p.skipped)

    @property
    def recovered(self) -> int:
        return sum(1 for p in self.problems if not p.skipped)


def default_procs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def build_index(archive: Path, root: Path, procs: int | None = None, progress: bool = True) -> BuildReport:
    """Index every post of `archive` into a new build and make it current.

    Searches keep using the previous build until the new one is complete.
    Raises store.IndexBusy if another process is writing this index.
    """
    started = time.perf_counter()
    procs = procs or default_procs()
    with store.writer_lock(root):
        build = store.new_build_dir(root)
        report = BuildReport(index=root)
        paths = find_posts(archive)
        log.info("indexing %d files from %s with %d process(es)", len(paths), archive, procs)
        segmenter()  # load jieba once, before the writer forks its workers
        ix = whoosh_index.create_in(str(build), make_schema())
        options = {"limitmb": WRITER_MEMORY_MB}
        if procs > 1:
            options.update(procs=procs, multisegment=True)
        writer = ix.writer(**options)
        try:
            for result in tqdm(read_archive(archive, paths), total=len(paths), unit="post",
                               desc="indexing", disable=not progress, mininterval=0.5):
                report.problems.extend(result.problems)
                if result.post is not None:
                    writer.add_document(**to_document(result.post))
                    report.indexed += 1
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        store.publish(root, build)
    report.seconds = time.perf_counter() - started
    log.info("indexed %d posts in %.1f s (%d recovered, %d skipped)",
             report.indexed, report.seconds, report.recovered, report.skipped)
    return report
