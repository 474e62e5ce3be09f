"""Whoosh's posting lists and field lengths, read as numpy arrays.

Whoosh's matchers walk postings one document at a time in Python, which is
where a query's time went. Here a term's postings come out whole, as arrays:
each block of ~100 postings is unpickled once, and blocks holding none of the
documents asked about are not decoded at all.

Reading Whoosh's files directly is the business of `indexer/whoosh_format.py`
(the one module that knows Whoosh's file format); a segment it has not
verified, or every segment when its fast paths are off, is read here through
Whoosh's public matchers instead, into the same arrays.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound

from finsearch.indexer import whoosh_format


@dataclass(frozen=True)
class Postings:
    """One term's postings in the whole index (every segment); deleted documents may be
    included (the fast reader keeps them), so callers keep only the live ones."""

    docs: np.ndarray  # int64 docnums, ascending
    weights: np.ndarray  # float64: term frequency × field boost
    values: list | None  # each posting's encoded positions, if asked for: see `encoded`

    def encoded(self, row: int) -> bytes:
        """The encoded positions of a posting (for the field format's decode_positions)."""
        assert self.values is not None, "postings read without positions"
        return whoosh_format.encoded_value(self.values[row])


EMPTY = Postings(np.empty(0, dtype=np.int64), np.empty(0), [])


@dataclass(frozen=True)
class TermEntry:
    """A term of a field, and the segments that hold it."""

    field: str
    tbytes: bytes
    segments: tuple[tuple[Any, int, Any], ...]  # (segment reader, its first docnum, TermInfo)
    doc_frequency: int  # in all segments, deleted documents included (as Whoosh's idf counts)


def find_term(reader: Any, field: str, tbytes: bytes) -> TermEntry | None:
    """The term's entry, or None if no segment has it."""
    segments, frequency = [], 0
    for segment, base in reader.leaf_readers():
        try:
            info = segment.term_info(field, tbytes)
        except TermNotFound:
            continue
        segments.append((segment, base, info))
        frequency += info.doc_frequency()
    return TermEntry(field, tbytes, tuple(segments), frequency) if segments else None


def read_postings(term: TermEntry, within: np.ndarray | None = None, positions: bool = False) -> Postings:
    """The postings of a term, with their encoded positions if asked (a positional field).

    With `within` (sorted docnums): at least the postings of these documents;
    blocks holding none of them are skipped without being decoded.
    """
    # Gathered as Python lists and converted once: a block is only ~100 postings.
    deltas: list[int] = []
    weights: list[float] = []
    values: list = []
    last = 0  # the last docnum gathered: deltas add up from 0
    for segment, base, info in term.segments:
        wanted = None
        if within is not None:
            low, high = np.searchsorted(within, (base, base + segment.doc_count_all()))
            wanted = (within[low:high] - base).tolist()
            if not wanted:
                continue
        if not whoosh_format.fast_reading(segment):
            docs = _stock_read(segment, term, wanted, weights, values if positions else None)
            if docs:
                deltas.append(base + docs[0] - last)
                deltas.extend(b - a for a, b in pairwise(docs))
                last = base + docs[-1]
            continue
        previous_max = -1
        for max_id, decode in whoosh_format.segment_blocks(segment, info):
            if wanted is None or _any_between(wanted, previous_max, max_id):
                block_deltas, block_weights, block_values = decode()
                # A block's deltas start from 0: make its first relative to `last`.
                deltas.append(base + block_deltas[0] - last)
                deltas.extend(block_deltas[1:])
                weights.extend(block_weights)
                if positions:
                    values.extend(block_values)
                last = base + max_id
            previous_max = max_id
    if not deltas:
        return EMPTY
    return Postings(np.cumsum(np.array(deltas, dtype=np.int64)), np.array(weights, dtype=np.float64),
                    values if positions else None)


def _stock_read(segment: Any, term: TermEntry, wanted: list[int] | None, weights: list[float],
                values: list | None) -> list[int]:
    """Whoosh's own matcher over one segment (live documents only): appends the weights (and
    values) of the postings of `wanted` (None: all) and returns their docnums in the segment."""
    docs: list[int] = []
    matcher = segment.postings(term.field, term.tbytes)
    targets = iter(wanted) if wanted is not None else None
    while matcher.is_active():
        if targets is not None:
            target = next(targets, None)
            if target is None:
                break
            if matcher.id() < target:
                matcher.skip_to(target)
                if not matcher.is_active():
                    break
            if matcher.id() != target:
                continue
        docs.append(matcher.id())
        weights.append(matcher.weight())
        if values is not None:
            values.append(matcher.value())
        matcher.next()
    return docs


def field_lengths(reader: Any, field: str) -> np.ndarray:
    """float64 length of `field` in each document (by docnum), as BM25F scores it."""
    parts = []
    for segment, _ in reader.leaf_readers():
        if whoosh_format.fast_reading(segment):
            lengths = np.zeros(segment.doc_count_all(), dtype=np.uint8)
            raw = whoosh_format.length_bytes(segment, field)
            lengths[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
            parts.append(whoosh_format.LENGTH_OF_BYTE[lengths])
        else:
            parts.append(np.array([segment.doc_field_length(d, field, 0) or 0
                                   for d in range(segment.doc_count_all())], dtype=np.float64))
    return np.concatenate(parts) if parts else np.empty(0)


def _any_between(sorted_docs: list[int], low: int, high: int) -> bool:
    """Whether any of `sorted_docs` is in (low, high]."""
    i = bisect.bisect_right(sorted_docs, low)
    return i < len(sorted_docs) and sorted_docs[i] <= high
