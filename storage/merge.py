"""The merge policy of an incremental commit: purge deleted documents, merge small segments, within a budget.

Whoosh drops a deleted document only when its segment is merged, and its default
policy (MERGE_SMALL) never merges the large segments of a full build, so deleted
documents stayed on disk and in the BM25 statistics (+66% size after 22 nightly
runs with deletions). Here a segment whose deleted share reaches PURGE_DELETED_SHARE
is rewritten without them. Merging costs time in proportion to the documents it
copies while the run holds the writer lock, so one commit copies at most
MERGE_BUDGET_DOCS live documents; a full build writes segments of at most
MAX_SEGMENT_DOCS documents (indexer/build.py), so any segment can be purged
within one budget. Whoosh's merge walked every posting of a W3 segment in Python
(about 350 live documents a second on wire posts); an FS1 segment's postings are
copied a field at a time with numpy (FastSegmentWriter.add_postings_to_pool),
leaving Whoosh's copy of each document's stored fields and columns. Smaller segments
would cost every search (each query term is looked up in every segment) and
index size (each segment has its own copy of the vocabulary).
"""
from __future__ import annotations

import logging

from whoosh.reading import SegmentReader
from whoosh.util import fib

log = logging.getLogger(__name__)

PURGE_DELETED_SHARE = 0.10
MAX_SEGMENT_DOCS = 25_000
MERGE_BUDGET_DOCS = MAX_SEGMENT_DOCS  # a full-size segment at the purge share fits
SMALL_MERGE_MIN = 5  # as MERGE_SMALL: at least this many small segments before merging them


def _deleted_share(segment) -> float:
    total = segment.doc_count_all()
    return segment.deleted_count() / total if total else 1.0


def purge_and_merge_small(writer, segments: list) -> list:
    """Whoosh mergetype: merge into the commit's new segment (1) the segments with many deleted
    documents, most deleted first, and (2) the small segments, by MERGE_SMALL's Fibonacci rule;
    all within MERGE_BUDGET_DOCS. Returns the segments kept as they are."""
    budget = MERGE_BUDGET_DOCS
    chosen = []
    for segment in sorted(segments, key=_deleted_share, reverse=True):
        if _deleted_share(segment) < PURGE_DELETED_SHARE:
            break
        if segment.doc_count() <= budget:
            chosen.append(segment)
            budget -= segment.doc_count()
    rest = sorted((s for s in segments if s not in chosen), key=lambda s: s.doc_count_all())
    small, total = [], 0
    for number, segment in enumerate(rest):
        total += segment.doc_count_all()
        small.append(segment)
        if number >= SMALL_MERGE_MIN - 1 and total < fib(number + 5):
            while small and sum(s.doc_count() for s in small) > budget:
                small.pop()  # the largest: merged on a later run
            if len(small) > 1:
                chosen += small
            break
    for segment in chosen:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    if chosen:
        log.info("merged %d segments (%d documents, %d deleted ones purged)", len(chosen),
                 sum(s.doc_count() for s in chosen), sum(s.deleted_count() for s in chosen))
    return [s for s in segments if s not in chosen]
