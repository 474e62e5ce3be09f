"""The nightly reindex: apply only what changed in the archive since the last run.

Changes are found by content: every post file's checksum is compared with the
one stored in the index (a column, so no stored body is read). Whoosh commits
atomically (new segment files first, then a new table of contents by rename),
so readers see the old state until the commit and the new one after it; a run
killed before that leaves the old state, and the next run finds the same
differences again and completes the work.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm
from whoosh import index as whoosh_index

from finsearch.indexer import store
from finsearch.indexer.build import WRITER_OPTIONS, build_locked
from finsearch.indexer.ingest import MAX_BYTES, Post, Problem, ProblemCounts, checksum, find_posts, read_archive
from finsearch.indexer.schema import CHECKSUM, ID_FIELD, PATH, to_document
from finsearch.indexer.writer import open_writer

log = logging.getLogger(__name__)


@dataclass
class ReindexReport(ProblemCounts):
    index: Path
    full: bool = False
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    segments_before: int = 0
    segments_after: int = 0
    seconds: float = 0.0


def reindex(archive: Path, root: Path, full: bool = False, procs: int | None = None,
            progress: bool = True) -> ReindexReport:
    """Bring the index at `root` up to date with `archive` (a full build if `full` or no index yet).

    Raises store.IndexBusy at once if another process is writing this index.
    """
    started = time.perf_counter()
    with store.writer_lock(root):
        try:
            ix, _ = store.open_current(root)
        except store.IndexMissing:
            full = True
        if full:
            built = build_locked(archive, root, procs, progress)
            ix, _ = store.open_current(root)
            report = ReindexReport(index=root, full=True, added=built.indexed, problems=built.problems,
                                   segments_after=_segment_count(ix))
        else:
            store.remove_stale_builds(root)  # what a killed full build left behind
            report = _apply_changes(ix, archive, root, progress)
    report.seconds = time.perf_counter() - started
    log.info("reindex: %d added, %d updated, %d deleted, %d skipped, %.1f s", report.added, report.updated,
             report.deleted, report.skipped, report.seconds)
    return report


def _apply_changes(ix: whoosh_index.Index, archive: Path, root: Path, progress: bool) -> ReindexReport:
    report = ReindexReport(index=root, segments_before=_segment_count(ix))
    indexed = _indexed_state(ix)  # path -> (checksum, id)
    on_disk = {path.relative_to(archive).as_posix(): path for path in find_posts(archive)}
    changed, added = [], []
    for rel, path in on_disk.items():
        if rel not in indexed:
            added.append(path)
        elif indexed[rel][0] != _file_checksum(path):
            changed.append(path)
    gone = sorted(indexed.keys() - on_disk.keys())
    report.unchanged = len(on_disk) - len(added) - len(changed)
    report.segments_after = report.segments_before
    if not (added or changed or gone):
        return report

    changed_paths = {p.relative_to(archive).as_posix() for p in changed}
    # Which path holds each id once this run's deletions are done (for duplicate ids).
    owner = {doc_id: rel for rel, (_, doc_id) in indexed.items() if rel not in changed_paths and rel not in gone}
    writer = open_writer(ix, **WRITER_OPTIONS)
    try:
        for rel in gone + sorted(changed_paths):
            writer.delete_by_term(PATH, rel)
        report.deleted = len(gone)

        def accept(post: Post) -> bool:
            other = owner.get(post.id)
            if other is not None and other != post.path:
                if other < post.path:  # as in a full build: the first path keeps the id
                    report.problems.append(Problem(post.path, f"duplicate id {post.id} (kept {other})", True))
                    return False
                writer.delete_by_term(PATH, other)
                report.problems.append(Problem(other, f"duplicate id {post.id} (kept {post.path})", True))
            owner[post.id] = post.path
            if post.path in changed_paths:
                report.updated += 1
            else:
                report.added += 1
            return True

        todo = sorted(added + changed)
        for result in tqdm(read_archive(archive, todo), total=len(todo), unit="post", desc="indexing",
                           disable=not (progress and len(todo) > 1000), mininterval=0.5):
            report.problems.extend(result.problems)
            if result.post is not None and accept(result.post):
                writer.add_document(**to_document(result.post))
        writer.commit()  # Whoosh merges small segments as it commits
    except BaseException:
        writer.cancel()
        raise
    report.segments_after = _segment_count(whoosh_index.open_dir(ix.storage.folder))
    return report


def _indexed_state(ix: whoosh_index.Index) -> dict[str, tuple[str, str]]:
    with ix.reader() as reader:
        paths = list(reader.column_reader(PATH))
        sums = list(reader.column_reader(CHECKSUM))
        ids = list(reader.column_reader(ID_FIELD))
        return {paths[d]: (sums[d], ids[d]) for d in reader.all_doc_ids()}


def _file_checksum(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            return ""  # never equal: read_post reports it
        return checksum(path.read_bytes())
    except OSError:
        return ""


def _segment_count(ix: whoosh_index.Index) -> int:
    with ix.reader() as reader:
        return len(reader.leaf_readers())
