"""Build an index from scratch: read the archive, analyse, write, publish.

The posts are dealt out to one worker process per core. Each worker reads,
cleans and analyses its posts and writes its own Whoosh segments; the parent
adds all segments to the new index in one commit, as Whoosh's multiprocessing
writer does, and only then makes the build current.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm
from whoosh import index as whoosh_index

from finsearch import storage
from finsearch.analysis.native import compiled_for_build
from finsearch.analysis.segmenter import forget as forget_segmenter
from finsearch.analysis.segmenter import segmenting_for_build, worth_a_stand_in
from finsearch.indexer import guard
from finsearch.indexer.document import stock_names_of, to_document
from finsearch.indexer.ingest import Problem, ProblemCounts, claim_id, find_posts, path_order, read_post
from finsearch.storage import MAX_SEGMENT_DOCS, SegmentWriterBase, make_schema, open_writer

log = logging.getLogger(__name__)

# Segments as separate files, not one compound file: Whoosh reads a compound
# file's parts into memory (BytesIO over the mmap), so each searcher process
# would hold a private copy of the whole index.
WRITER_OPTIONS = {"compound": False}
POSTS_PER_EXTRA_PROC = 1000  # below this, starting worker processes costs more than it saves
# A segment's postings are held in memory until it is written (12 bytes each and
# 4 a position: storage/writer.TermPool); past this many, or past MAX_SEGMENT_DOCS
# documents (so a merge that purges its deleted documents stays bounded), a worker
# starts a new segment.
MAX_SEGMENT_POSTINGS = 16_000_000


class BuildFailed(Exception):
    """A full build failed at a named step (`step`); its unfinished generation was removed and
    nothing was published, so the index serves what it served before."""

    def __init__(self, step: str, seconds: float, cause: str):
        super().__init__(f"the build failed while {step}, after {seconds:.0f} s ({cause}); nothing was published")
        self.step = step


@contextlib.contextmanager
def _step(name: str, started: float, root: Path) -> Iterator[None]:
    """Name the step a failure happened in (a refusal or a busy index says so itself), and log
    how long it took."""
    step_started = time.perf_counter()
    try:
        yield
    except (guard.RunRefused, storage.IndexBusy, BuildFailed):
        raise
    except Exception as error:
        cause = (str(guard.disk_full(error, root)) if isinstance(error, OSError) and guard.is_disk_full(error)
                 else f"{type(error).__name__}: {error}")
        raise BuildFailed(name, time.perf_counter() - started, cause) from error
    log.debug("%s: %.1f s", name, time.perf_counter() - step_started)


@dataclass
class BuildReport(ProblemCounts):
    index: Path
    indexed: int = 0
    files: int = 0  # post files found (each one read)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    generation: int = 0


@dataclass
class _WorkerResult:
    segments: list
    problems: list[Problem]
    # Each post written, a JSON line [id, path, stock mentions], in a file of the build folder:
    # kept in the worker's heap, a million posts' small objects pinned arenas around every
    # segment's garbage (a worker grew by 1.9 KB a post), and the parent held them all twice.
    posts_file: Path


def _spill_name(build: Path) -> Path:
    return build / f"_posts-{os.getpid()}.jsonl"


def _spilled(results: list[_WorkerResult]) -> Iterator[tuple[str, str, list[tuple[str, str]]]]:
    """(id, path, stock mentions) of each post the workers wrote."""
    for result in results:
        with result.posts_file.open(encoding="utf-8") as lines:
            for line in lines:
                doc_id, path, pairs = json.loads(line)
                yield doc_id, path, [tuple(pair) for pair in pairs]


_LIBC = ctypes.CDLL(None)  # the C library this process runs on (prctl, malloc_trim)


def _die_with_parent() -> None:
    """In a forked worker: die when the build process dies (kill -9 included)."""
    pr_set_pdeathsig = 1
    _LIBC.prctl(pr_set_pdeathsig, signal.SIGKILL)


if sys.platform.startswith("linux"):
    os.register_at_fork(after_in_child=_die_with_parent)


def default_procs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def build_index(archive: Path, root: Path, procs: int | None = None, progress: bool = True) -> BuildReport:
    """Index every post of `archive` into a new build and make it current.

    Searches keep using the previous build until the new one is complete.
    Raises storage.IndexBusy if another process is writing this index, and
    guard.RunRefused (changing nothing) if the archive yields no readable post.
    The outcome, either way, is recorded in INDEX/last-run.json.
    """
    try:
        with storage.writer_lock(root):
            report = build_locked(archive, root, procs, progress)
    except (Exception, KeyboardInterrupt) as error:  # an interrupted run is recorded too
        storage.record_outcome(root, guard.failure("index", error))
        raise
    storage.record_outcome(root, {"command": "index", "ok": True, "generation": report.generation,
                                "indexed": report.indexed, "skipped": report.skipped,
                                "recovered": report.recovered, "seconds": round(report.seconds, 2)})
    return report


def build_locked(archive: Path, root: Path, procs: int | None, progress: bool,
                 replacing: set[str] | None = None, max_delete: float = 100.0) -> BuildReport:
    """build_index for a caller that already holds the writer lock.

    `replacing`: the ids of the index this build replaces; the build is refused
    if it would drop more than `max_delete` percent of them.
    """
    started = time.perf_counter()
    guard.check_archive(archive)
    storage.remove_stale_builds(root)  # what a killed run left behind
    passed_over: list[Problem] = []  # links, FIFOs…: reported with the bad posts
    paths = find_posts(archive, passed_over)
    guard.check_has_posts(archive, len(paths))
    _check_room(root)
    build, generation = storage.new_build_dir(root)
    try:
        report = _build_into(build, archive, root, paths, passed_over, procs, progress, replacing, max_delete,
                             started)
        report.generation = generation
        with _step("writing the per-document table", started, root):
            storage.write_doc_table(build)
        with _step("writing the manifest", started, root):
            storage.write_manifest(build, generation, report.indexed)
    except BaseException:
        storage.discard(build)
        raise
    with _step("publishing the new generation", started, root):
        storage.publish(root, build)
    report.seconds = time.perf_counter() - started
    log.info("indexed %d posts in %.1f s (%d recovered, %d skipped)",
             report.indexed, report.seconds, report.recovered, report.skipped)
    return report


# A full build needs room for a whole new generation beside the current one, which it replaces.
ROOM_FOR_GROWTH = 1.2


def _check_room(root: Path) -> None:
    """Refuse to start a build the disk cannot hold, judged by the current generation's size."""
    current = next((info for info in storage.list_generations(root) if info.current), None)
    if current is not None:
        guard.check_free_space(root, int(current.size_bytes * ROOM_FOR_GROWTH), "a full build")


def _build_into(build: Path, archive: Path, root: Path, paths: list[str], passed_over: list[Problem],
                procs: int | None, progress: bool, replacing: set[str] | None, max_delete: float,
                started: float) -> BuildReport:
    if procs is None:
        procs = max(1, min(default_procs(), len(paths) // POSTS_PER_EXTRA_PROC))
    log.info("indexing %d files from %s with %d process(es)", len(paths), archive, procs)
    storage.fast_paths()  # decide (and warn) once which writer the workers use
    whoosh_index.create_in(str(build), make_schema())
    # The segmenter is loaded (and a faster one checked) once, before the workers fork, and the
    # compiled loops are checked (analysis.native).
    sample = _sample_texts(archive, paths)
    with (_step("reading, analysing and writing the posts", started, root),
          segmenting_for_build(sample, len(paths)),
          compiled_for_build(sample, storage.grouping_disagreement),
          tqdm(total=len(paths), unit="post", desc="indexing", disable=not progress, mininterval=0.5) as bar):
        results = _run_workers(build, archive, paths, procs, bar)
    report = BuildReport(index=root, files=len(paths), problems=passed_over + [p for r in results for p in r.problems])
    indexed = [(doc_id, path) for doc_id, path, _ in _spilled(results)]
    duplicates = _duplicates(indexed, report.problems)
    dropped = set(duplicates)
    report.problems.sort(key=lambda problem: problem.path)  # stable: a file's problems stay in order
    report.indexed = len(indexed) - len(duplicates)
    guard.check_posts(archive, len(paths), report.indexed)
    if replacing:
        kept = {doc_id for doc_id, path in indexed if path not in dropped}
        guard.check_deletions(len(replacing - kept), len(replacing), max_delete)
    del indexed
    storage.crash_point("after-segments")
    with _step("committing the segments", started, root):
        ix = whoosh_index.open_dir(str(build))
        writer = open_writer(ix, **WRITER_OPTIONS)
        writer.segments.extend(s for r in results for s in r.segments)
        writer.commit(merge=False)
        if duplicates:
            writer = open_writer(ix, **WRITER_OPTIONS)
            storage.delete_paths(writer, duplicates)
            writer.commit(merge=False)
    with _step("writing the stock names", started, root):
        mentions = {path: pairs for _, path, pairs in _spilled(results) if pairs and path not in dropped}
        storage.write_stock_names(build, ix.latest_generation(), mentions)
    for result in results:
        result.posts_file.unlink()
    return report


STAND_IN_SAMPLE = 100  # posts, spread over the archive, jieba-next and the compiled loops are checked on


def _sample_texts(archive: Path, paths: list[str]) -> list[str]:
    """The title and body of STAND_IN_SAMPLE posts spread evenly over `paths`."""
    posts = (read_post(path, archive).post for path in paths[::max(1, len(paths) // STAND_IN_SAMPLE)])
    return [post.title + "\n" + "\n".join(post.paragraphs) for post in posts if post is not None]


def _run_workers(build: Path, archive: Path, paths: list[str], procs: int, bar: tqdm) -> list[_WorkerResult]:
    if procs == 1:
        return [_index_share(build, archive, paths, bar.update, 1.0, contextlib.nullcontext())]
    # Every other post to each worker, so long and short stretches of the archive are shared out.
    shares = [paths[i::procs] for i in range(procs)]
    fork = multiprocessing.get_context("fork")
    done = fork.Value("q", 0)
    with ProcessPoolExecutor(procs, mp_context=fork,
                             initializer=_set_shared, initargs=(done, fork.Lock())) as pool:
        # A worker's memory peaks while it writes a segment (its postings sorted and encoded): the
        # workers take turns at it (a shared lock), and worker i cuts its first segment at
        # (procs - i) / procs of the limits, so that on equal shares their turns seldom collide.
        futures = [pool.submit(_index_share_in_worker, build, archive, share, (procs - i) / procs)
                   for i, share in enumerate(shares)]
        # A fork context starts every worker with the first task: from here on the parent segments
        # nothing, and in a large build its copy of the dictionary goes.
        if worth_a_stand_in(len(paths)):
            forget_segmenter()
            _return_free_memory()
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
                bar.update(done.value - bar.n)
                for future in finished:
                    future.result()  # a worker's exception stops the build here
        except BaseException:
            # The pool's exit waits for every share still running (at a million posts, many
            # minutes after an interrupt or a failed worker): the workers are stopped first.
            for child in multiprocessing.active_children():
                child.terminate()
            raise
        return [future.result() for future in futures]


_counter: Any = None  # in a worker: a shared multiprocessing Value, how many posts all workers have read
_segment_turn: Any = None  # in a worker: a shared multiprocessing Lock, held while writing a segment


def _set_shared(counter, segment_turn) -> None:
    global _counter, _segment_turn
    _counter, _segment_turn = counter, segment_turn


def _count_one() -> None:
    with _counter.get_lock():
        _counter.value += 1


def _index_share_in_worker(build: Path, archive: Path, paths: list[str], first_segment: float) -> _WorkerResult:
    return _index_share(build, archive, paths, lambda _: _count_one(), first_segment, _segment_turn)


def _index_share(build: Path, archive: Path, paths: list[str], advance: Callable[[int], object],
                 first_segment: float, turn: contextlib.AbstractContextManager) -> _WorkerResult:
    """Read, analyse and write `paths` into new segments of the index in `build` (not committed);
    the first segment is cut at `first_segment` of the segment limits, each written holding `turn`."""
    with _no_cycle_collection():
        return _write_share(build, archive, paths, advance, first_segment, turn)


@contextlib.contextmanager
def _no_cycle_collection():
    """A segment writer holds many long-lived objects until the segment is written,
    which Python's cycle collector would scan again and again; reading and
    analysing a post leaves no cycles behind. What a finished segment writer
    leaves is collected by hand (`_write_share`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_share(build: Path, archive: Path, paths: list[str], advance: Callable[[int], object],
                 first_segment: float, turn: contextlib.AbstractContextManager) -> _WorkerResult:
    ix = whoosh_index.open_dir(str(build))
    result = _WorkerResult([], [], _spill_name(build))
    with result.posts_file.open("w", encoding="utf-8") as spill:
        _write_posts(ix, archive, paths, advance, result, spill, first_segment, turn)
    return result


def _write_posts(ix, archive: Path, paths: list[str], advance: Callable[[int], object], result: _WorkerResult,
                 spill: TextIO, first_segment: float, turn: contextlib.AbstractContextManager) -> None:
    # A segment's writer is opened for its first post, so a share that ends on a segment
    # boundary leaves no empty writer behind.
    writer: SegmentWriterBase | None = None
    share = first_segment  # of the segment limits, for the segment being written
    for path in paths:
        read = read_post(path, archive)
        result.problems.extend(read.problems)
        advance(1)
        if read.post is None:
            continue
        if writer is None:
            writer = _segment_writer(ix)
        writer.add_document(**to_document(read.post))
        spill.write(json.dumps([read.post.id, read.post.path, stock_names_of(read.post)],
                               ensure_ascii=False) + "\n")
        if writer.held_postings > MAX_SEGMENT_POSTINGS * share or writer.doc_count() >= MAX_SEGMENT_DOCS * share:
            with turn:
                result.segments.append(writer.finish_segment())
            share = 1.0
            # A finished Whoosh writer is a web of reference cycles (about 60 objects per
            # document written) that only the cycle collector frees: without this a worker
            # grows by each segment it writes (4 GB at a million posts).
            writer = None
            gc.collect()
            _return_free_memory()
    if writer is not None:
        with turn:
            result.segments.append(writer.finish_segment())


def _return_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's malloc_trim): a segment's
    arrays leave free holes that otherwise stay in the worker's resident memory."""
    trim = getattr(_LIBC, "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


def _segment_writer(ix) -> SegmentWriterBase:
    # Unlocked: the parent holds the index; workers only write segment files.
    return open_writer(ix, locked=False, **WRITER_OPTIONS)


def _duplicates(indexed: list[tuple[str, str]], problems: list[Problem]) -> list[str]:
    """Paths to drop so that each id is kept once (ingest.claim_id's rule); each one reported."""
    owners: dict[str, str] = {}
    dropped = []
    # In path order, so that each report names the path that finally keeps the id.
    for doc_id, path in sorted(indexed, key=lambda pair: path_order(pair[1])):
        duplicate = claim_id(owners, doc_id, path)
        if duplicate is not None:
            problems.append(duplicate)
            dropped.append(duplicate.path)
    return dropped
