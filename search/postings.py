"""Whoosh's posting lists and field lengths, read as numpy arrays.

Whoosh's matchers walk postings one document at a time in Python, which is
where a query's time went. Here a term's postings come out whole: a block of
postings is unpickled as Whoosh does it, then its docnums are decoded with numpy.

This is the only module that knows Whoosh's codec internals (whoosh-reloaded is
pinned >=2.7.5,<2.8): the private attributes are read in `_segment_blocks` and
`_length_bytes`, nowhere else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

# Decoded field length of each length byte, as Whoosh's scorers see it.
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


@dataclass(frozen=True)
class Postings:
    """One term's postings in the whole index (every segment), deleted documents included."""

    docs: np.ndarray  # int64 docnums, ascending
    weights: np.ndarray  # float64: term frequency × field boost
    values: list[bytes] | None  # each posting's encoded positions, if asked for (Format.decode_positions)


EMPTY = Postings(np.empty(0, dtype=np.int64), np.empty(0), [])


def read_postings(reader, field: str, tbytes: bytes, within: np.ndarray | None = None,
                  positions: bool = False) -> Postings:
    """The postings of a term, with their encoded positions if asked (a positional field).

    With `within` (sorted docnums): at least the postings of these documents;
    blocks holding none of them are skipped without being decoded.
    """
    docs, weights, values = [], [], []
    for segment, base in reader.leaf_readers():
        local = None if within is None else within[(within >= base) & (within < base + segment.doc_count_all())] - base
        if local is not None and not local.size:
            continue
        previous_max = -1
        for max_id, decode in _segment_blocks(segment, field, tbytes):
            if local is None or _any_between(local, previous_max, max_id):
                ids, block_weights, block_values = decode()
                docs.append(ids + base)
                weights.append(block_weights)
                if positions:
                    values.extend(block_values)
            previous_max = max_id
    if not docs:
        return EMPTY
    return Postings(np.concatenate(docs), np.concatenate(weights), values if positions else None)


def field_lengths(reader, field: str) -> np.ndarray:
    """float64 length of `field` in each document (by docnum), as BM25F scores it."""
    parts = []
    for segment, _ in reader.leaf_readers():
        lengths = np.zeros(segment.doc_count_all(), dtype=np.uint8)
        raw = _length_bytes(segment, field)
        lengths[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        parts.append(lengths)
    return _LENGTH_OF_BYTE[np.concatenate(parts)] if parts else np.empty(0)


def _any_between(sorted_docs: np.ndarray, low: int, high: int) -> bool:
    """Whether any of `sorted_docs` is in (low, high]."""
    i = np.searchsorted(sorted_docs, low, side="right")
    return i < sorted_docs.size and sorted_docs[i] <= high


def _segment_blocks(segment, field: str, tbytes: bytes) -> Iterator[tuple[int, Callable]]:
    """(last docnum, decode) for each block of a term's postings in one segment;
    decode() gives the block's (int64 docnums, float64 weights, values).

    Private Whoosh: the terms reader (`_terms`), W3LeafMatcher's block walk
    (`_lastblock`, `_maxid`, `_next_block`, `_read_data`, `_data`) and its block
    data: (docnum deltas, weights minified to None/one float/a tuple, values).
    """
    try:
        matcher = segment._terms.matcher(field, tbytes, segment.schema[field].format)
    except TermNotFound:
        return
    if not isinstance(matcher, W3LeafMatcher):  # a few postings inlined in the term info
        ids = np.fromiter(matcher.all_ids(), dtype=np.int64)
        matcher.reset()
        weights, values = [], []
        while matcher.is_active():
            weights.append(matcher.weight())
            values.append(matcher.value())
            matcher.next()
        yield int(ids[-1]), lambda: (ids, np.array(weights, dtype=np.float64), values)
        return

    def decode():
        matcher._read_data()
        deltas, weights, values = matcher._data
        ids = np.cumsum(np.array(deltas, dtype=np.int64))
        if weights is None or isinstance(weights, float):
            weights = np.full(ids.size, 1.0 if weights is None else weights)
        else:
            weights = np.array(weights, dtype=np.float64)
        return ids, weights, values

    while True:
        yield matcher._maxid, decode
        if matcher._lastblock:
            return
        matcher._next_block()


def _length_bytes(segment, field: str) -> bytes:
    """The length byte of `field` for each document of a segment (shorter when its last
    documents lack the field). Private Whoosh: the per-document reader (`_perdoc`) and
    the fixed-width column's file and offsets."""
    column = f"_{field}_len"
    if not segment._perdoc.has_column(column):
        return b""
    lengths = segment._perdoc.column_reader(column, LENGTHS_COLUMN)
    return bytes(lengths._dbfile.get(lengths._basepos, lengths._count))
