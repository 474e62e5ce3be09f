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

from finsearch.indexer import stock_names, store
from finsearch.indexer.build import WRITER_OPTIONS, build_locked
from finsearch.indexer.ingest import (Post, Problem, ProblemCounts, claim_id, file_checksum, find_posts, path_order,
                                      read_post)
from finsearch.indexer.schema import CHECKSUM, ID_FIELD, PATH, to_document
from finsearch.indexer.writer import BulkWriter

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
    mentions = stock_names.current(ix)
    on_disk = {path.relative_to(archive).as_posix(): path for path in find_posts(archive, report.problems)}
    changed, added = [], []
    for rel, path in on_disk.items():
        if rel not in indexed:
            added.append(path)
        elif indexed[rel][0] != file_checksum(path, archive):
            changed.append(path)
    gone = sorted(indexed.keys() - on_disk.keys())
    report.unchanged = len(on_disk) - len(added) - len(changed)
    report.segments_after = report.segments_before
    if not (added or changed or gone):
        return report

    changed_paths = {p.relative_to(archive).as_posix() for p in changed}
    # Which path holds each id once this run's deletions are done (for duplicate ids).
    owner = {doc_id: rel for rel, (_, doc_id) in indexed.items() if rel not in changed_paths and rel not in gone}
    writer = BulkWriter(ix, **WRITER_OPTIONS)
    try:
        for rel in gone + sorted(changed_paths):
            writer.delete_by_term(PATH, rel)
            mentions.pop(rel, None)
        report.deleted = len(gone)

        def accept(post: Post) -> bool:
            duplicate = claim_id(owner, post.id, post.path)  # the full build's rule
            if duplicate is not None:
                report.problems.append(duplicate)
                if duplicate.path == post.path:
                    return False
                writer.delete_by_term(PATH, duplicate.path)  # an indexed post later in path order
                mentions.pop(duplicate.path, None)
            if post.path in changed_paths:
                report.updated += 1
            else:
                report.added += 1
            return True

        # read_post, not read_archive: `accept` alone decides duplicates, knowing the ids already indexed.
        todo = sorted(added + changed, key=lambda path: path_order(path.relative_to(archive).as_posix()))
        for result in tqdm((read_post(path, archive) for path in todo), total=len(todo), unit="post",
                           desc="indexing", disable=not (progress and len(todo) > 1000), mininterval=0.5):
            report.problems.extend(result.problems)
            if result.post is not None and accept(result.post):
                writer.add_document(**to_document(result.post))
                mentions[result.post.path] = stock_names.of_post(result.post)
        # Before the commit, stamped with the generation it makes: a run killed between the two
        # leaves a stamp the index does not have, and the next run recomputes the file.
        stock_names.write(Path(ix.storage.folder), writer.generation, mentions)
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


def _segment_count(ix: whoosh_index.Index) -> int:
    with ix.reader() as reader:
        return len(reader.leaf_readers())
