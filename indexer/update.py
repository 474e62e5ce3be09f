"""The nightly reindex: apply only what changed in the archive since the last run.

Changes are found by stat, then by content: a post file whose size and mtime
equal those recorded when it was indexed is unchanged, and is not opened; the
others (the suspects) are checksummed, and only those whose checksum differs
from the one in the index are reindexed (both are columns, so no stored body is
read). A change that keeps a file's size and mtime (os.utime after an edit) is
seen only by a run with `verify`, which checksums every file: the weekly run.
A file touched but not changed is not rewritten, so its recorded stat stays
the old one and every run checksums it again (the report's `checksummed`),
until it changes or a full build records it. The changes are
committed into a new generation folder that starts as hard links to the current
one's files, and published with the same atomic `current` swap as a full build
(storage.publish): readers see the old generation until the swap and the new one
after it, and a run killed at any step leaves the old one serving; the next run
finds the same differences again and completes the work.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm
from whoosh import index as whoosh_index
from whoosh.reading import IndexReader

from finsearch import storage
from finsearch.indexer import guard
from finsearch.indexer.build import WRITER_OPTIONS, build_locked
from finsearch.indexer.document import stock_names_of, to_document
from finsearch.indexer.ingest import (
    Post,
    Problem,
    ProblemCounts,
    claim_id,
    file_checksum,
    path_order,
    read_post,
    scan_posts,
)
from finsearch.storage import (
    CHECKSUM,
    FILE_STAT,
    ID_FIELD,
    PATH,
    file_stats,
    open_writer,
    purge_and_merge_small,
)

log = logging.getLogger(__name__)


@dataclass
class ReindexReport(ProblemCounts):
    index: Path
    full: bool = False
    full_reason: str | None = None  # why a reindex rebuilt from scratch by itself
    verify: bool = False  # every file checksummed, whatever its stat
    checksummed: int = 0  # files whose bytes were read to compare them (all of them in a full build)
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    segments_before: int = 0
    segments_after: int = 0
    seconds: float = 0.0
    generation: int = 0
    # Files of the current generation found damaged (each "<file> <problem>"): never linked into
    # the new one; their segments' posts were indexed again from the archive.
    repaired: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, object]:
        """The figures `--json` prints and INDEX/last-run.json records."""
        return {"full": self.full, "full_reason": self.full_reason, "verify": self.verify,
                "checksummed": self.checksummed, "generation": self.generation, "added": self.added,
                "updated": self.updated, "deleted": self.deleted,
                "unchanged": self.unchanged, "segments_before": self.segments_before,
                "segments_after": self.segments_after, "repaired": self.repaired}


def reindex(archive: Path, root: Path, full: bool = False, procs: int | None = None,
            progress: bool = True, max_delete: float = guard.DEFAULT_MAX_DELETE_PERCENT,
            verify: bool = False) -> ReindexReport:
    """Bring the index at `root` up to date with `archive` (a full build if `full` or no index yet).

    `verify`: checksum every post file, not only those whose size or mtime changed.

    Every file of the current generation is checked against its checksum first; a damaged one
    is never linked into the new generation, its segment's posts are indexed again from the
    archive, and the report's `repaired` names it.

    Raises storage.IndexBusy at once if another process is writing this index,
    guard.RunRefused (changing nothing) if the archive is missing or yields no
    readable post, or if the run would delete more than `max_delete` percent of
    the documents, and guard.DiskFull (publishing nothing) when the disk fills up. The
    outcome, either way, is recorded in INDEX/last-run.json.
    """
    started = time.perf_counter()
    try:
        with storage.writer_lock(root):
            try:
                report = _reindex_locked(archive, root, full, procs, progress, max_delete, verify)
            except OSError as error:
                if guard.is_disk_full(error):
                    raise guard.disk_full(error, root) from error
                raise
    except (Exception, KeyboardInterrupt) as error:  # an interrupted run is recorded too
        storage.record_outcome(root, guard.failure("reindex", error))
        raise
    report.seconds = time.perf_counter() - started
    storage.record_outcome(root, {"command": "reindex", "ok": True, **report.counts(), "skipped": report.skipped,
                                "recovered": report.recovered, "seconds": round(report.seconds, 2)})
    log.info("reindex: %d added, %d updated, %d deleted, %d skipped, %d files checksummed%s, %.1f s",
             report.added, report.updated, report.deleted, report.skipped, report.checksummed,
             " (verify)" if report.verify else "", report.seconds)
    return report


def _reindex_locked(archive: Path, root: Path, full: bool, procs: int | None, progress: bool,
                    max_delete: float, verify: bool) -> ReindexReport:
    guard.check_archive(archive)
    reason: str | None = None
    damage: list[storage.Damage] = []
    build: Path | None
    try:
        build = storage.current_build(root)
    except storage.IndexMissing:
        build, reason = None, "there is no index yet"
    else:
        problem = storage.manifest_problem(storage.read_manifest(build), reindexing=True)
        if problem and not full:
            reason = f"the index {problem}"
            log.warning("rebuilding in full: %s", reason)
    if build is not None and reason is None and not full:
        storage.remove_stale_builds(root)  # what a killed run left behind
        # Every byte of the current generation, every night: a damaged file is never linked into
        # the next one, and a damaged segment's posts are indexed again from the archive.
        listed, damage = storage.verified_files(build)
        try:
            return _apply_changes(build, listed, damage, archive, root, progress, max_delete, verify)
        except storage.IndexDamaged as error:
            reason = f"its files are damaged beyond repair ({error})"
            log.error("rebuilding in full: %s", reason)
    replacing = _live_ids(build) if build is not None and not damage else None
    built = build_locked(archive, root, procs, progress, replacing, max_delete)
    ix, _ = storage.open_current(root)
    return ReindexReport(index=root, full=True, full_reason=reason, verify=verify, checksummed=built.files,
                         added=built.indexed, problems=built.problems, segments_after=_segment_count(ix),
                         generation=built.generation, repaired=[str(d) for d in damage])


def _apply_changes(build: Path, listed: dict[str, storage.FileEntry], damage: list[storage.Damage], archive: Path,
                   root: Path, progress: bool, max_delete: float, verify: bool) -> ReindexReport:
    """Apply what changed since `build` (the current generation, its files `listed`, the `damage`d
    ones left out) as a new generation; publish nothing when nothing changed."""
    report = ReindexReport(index=root, verify=verify, generation=storage.current_generation(root),
                           repaired=[str(d) for d in damage])
    new_build: Path | None = None
    try:
        if damage:
            log.error("the current generation %s is damaged: %s", build.name, "; ".join(report.repaired))
            new_build, generation = storage.new_build_dir(root)
            dropped = storage.link_healthy(build, new_build, damage)
            log.warning("left out %d documents of damaged segments: indexed again from the archive", dropped)
            base = whoosh_index.open_dir(str(new_build))
        else:
            base = whoosh_index.open_dir(str(build))
        report.segments_before = report.segments_after = _segment_count(base)
        changes = _changes(base, archive, report, progress, verify)
        if not (changes.added or changes.changed or changes.gone or damage):
            return report
        if new_build is None:
            _check_room(root, listed, changes)
            new_build, generation = storage.new_build_dir(root)
            storage.link_generation(build, new_build)
        ix = whoosh_index.open_dir(str(new_build))
        touched = _write_changes(ix, archive, _indexed_ids(base, changes.indexed), storage.stock_names_of_index(base),
                                 changes, report, progress, max_delete, repairing=bool(damage))
        if not touched:  # e.g. only posts whose ids another post holds: skipped again
            storage.discard(new_build)
            return report
        storage.write_doc_table(new_build)
        storage.write_manifest(new_build, generation, _document_count(new_build),
                               known={name: entry for name, entry in listed.items()
                                      if name not in {d.file for d in damage}})
    except BaseException:
        if new_build is not None:
            storage.discard(new_build)
        raise
    storage.publish(root, new_build)
    report.generation = generation
    report.segments_after = _segment_count(whoosh_index.open_dir(str(new_build)))
    return report


def _check_room(root: Path, listed: dict[str, storage.FileEntry], changes: _Changes) -> None:
    """Refuse a run the disk cannot hold: the new posts, and a merge of up to MERGE_BUDGET_DOCS
    documents, at the current generation's bytes per document."""
    documents = max(len(changes.indexed.paths), 1)
    per_document = sum(entry.size for entry in listed.values()) / documents
    written = len(changes.added) + len(changes.changed) + storage.MERGE_BUDGET_DOCS
    guard.check_free_space(root, int(per_document * min(written, documents)), "this run")


@dataclass
class _Changes:
    indexed: _IndexedFiles
    added: list[Path]
    changed: list[Path]
    gone: list[str]


def _changes(base: whoosh_index.Index, archive: Path, report: ReindexReport, progress: bool,
             verify: bool) -> _Changes:
    """The post files added, changed and gone since `base` was written (a stat each; the bytes of
    those whose stat changed, or of every file with `verify`)."""
    files = scan_posts(archive, report.problems)
    guard.check_has_posts(archive, len(files.paths))
    with base.reader() as reader:
        indexed = _indexed_files(reader)
        row_of = {path: row for row, path in enumerate(indexed.paths)}
        rows = np.fromiter((row_of.get(path, -1) for path in files.paths), np.int64, len(files.paths))
        known = rows >= 0
        stats = np.column_stack((np.frombuffer(files.sizes, np.int64), np.frombuffer(files.mtimes_ns, np.int64)))
        recorded = indexed.stats[np.maximum(rows, 0)] if indexed.paths else np.full_like(stats, -1)
        suspects = known if verify else known & (recorded != stats).any(axis=1)
        checksums = reader.column_reader(CHECKSUM) if indexed.paths else None  # an empty index has no columns
        changed = []
        for number in tqdm(np.flatnonzero(suspects).tolist(), unit="file", desc="checksumming",
                           disable=not (progress and verify), mininterval=0.5):
            rel = files.paths[number]
            assert checksums is not None  # a suspect is a known file: the index has documents
            if checksums[int(indexed.docnums[rows[number]])] != file_checksum(archive / rel, archive):
                changed.append(archive / rel)
    report.checksummed = int(suspects.sum())
    added = [archive / files.paths[number] for number in np.flatnonzero(~known).tolist()]
    on_disk = np.zeros(len(indexed.paths), dtype=bool)
    on_disk[rows[known]] = True
    gone = sorted(indexed.paths[row] for row in np.flatnonzero(~on_disk).tolist())
    report.unchanged = len(files.paths) - len(added) - len(changed)
    return _Changes(indexed, added, changed, gone)


def _write_changes(ix: whoosh_index.Index, archive: Path, indexed: dict[str, str], mentions: storage.Mentions,
                   changes: _Changes, report: ReindexReport, progress: bool, max_delete: float,
                   repairing: bool) -> bool:
    """Apply the changes to the (unpublished) generation `ix` in one commit, if the guard allows;
    whether anything was committed (a repair always is; otherwise only if a document was added
    or deleted)."""
    added, changed, gone = changes.added, changes.changed, changes.gone
    changed_paths = {p.relative_to(archive).as_posix() for p in changed}
    displaced = []  # indexed posts whose id a post earlier in path order now claims
    # Which path holds each id once this run's deletions are done (for duplicate ids).
    gone_paths = set(gone)
    owner = {doc_id: rel for rel, doc_id in indexed.items() if rel not in changed_paths and rel not in gone_paths}
    writer = open_writer(ix, **WRITER_OPTIONS)
    try:
        storage.delete_paths(writer, gone + sorted(changed_paths))
        for rel in gone + sorted(changed_paths):
            mentions.pop(rel, None)
        report.deleted = len(gone)

        def accept(post: Post) -> bool:
            duplicate = claim_id(owner, post.id, post.path)  # the full build's rule
            if duplicate is not None:
                report.problems.append(duplicate)
                if duplicate.path == post.path:
                    return False
                mentions.pop(duplicate.path, None)
                displaced.append(duplicate.path)  # an indexed post later in path order: deleted below
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
                mentions[result.post.path] = stock_names_of(result.post)
        storage.delete_paths(writer, displaced)
        if not owner:
            guard.check_posts(archive, len(todo) + report.unchanged, readable=0)
        before = set(indexed.values())
        guard.check_deletions(len(before - owner.keys()), len(before), max_delete)
        if not (gone or changed_paths or displaced or report.added or repairing):
            writer.cancel()
            return False
        # Before the commit, stamped with the generation it makes: a run killed between the two
        # leaves a stamp the index does not have, and the next run recomputes the file.
        storage.write_stock_names(Path(ix.storage.folder), writer.generation, mentions)
        storage.crash_point("after-segments")
        writer.commit(mergetype=purge_and_merge_small)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    return True


@dataclass
class _IndexedFiles:
    """The live documents of an index: each one's path and the file stat recorded with it."""

    paths: list[str]
    stats: np.ndarray  # (size, mtime_ns) per document, int64
    docnums: np.ndarray  # in the whole reader


def _indexed_files(reader: IndexReader) -> _IndexedFiles:
    """From the columns, one read a segment each, not one per document."""
    live = storage.reader_live_docs(reader)
    return _IndexedFiles(_column_text(reader, PATH, live),
                         file_stats(storage.fixed_bytes_column(reader, FILE_STAT))[live], live)


def _document_count(build: Path) -> int:
    return whoosh_index.open_dir(str(build)).doc_count()


def _indexed_ids(ix: whoosh_index.Index, indexed: _IndexedFiles) -> dict[str, str]:
    """path -> id of every live document (what a run that changes something needs); the paths
    and docnums are those `_indexed_files` read from the same index."""
    with ix.reader() as reader:
        return dict(zip(indexed.paths, _column_text(reader, ID_FIELD, indexed.docnums), strict=True))


def _live_ids(build: Path) -> set[str]:
    """The ids of every live document (what a full rebuild is checked against)."""
    with whoosh_index.open_dir(str(build)).reader() as reader:
        return set(_column_text(reader, ID_FIELD, storage.reader_live_docs(reader)))


def _column_text(reader: IndexReader, field: str, docnums: np.ndarray) -> list[str]:
    """An ID column's values (UTF-8, as Whoosh stores text) of the given documents."""
    return [value.decode() for value in storage.bytes_column(reader, field)[docnums].tolist()]


def _segment_count(ix: whoosh_index.Index) -> int:
    with ix.reader() as reader:
        return len(reader.leaf_readers())
