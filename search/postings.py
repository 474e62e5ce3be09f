"""Whoosh's posting lists and field lengths, read as numpy arrays.

Whoosh's matchers walk postings one document at a time in Python, which is
where a query's time went. Here a term's postings come out whole, as arrays:
each block of ~100 postings is unpickled once, and blocks holding none of the
documents asked about are not decoded at all.

This is the only module that knows Whoosh's codec internals (whoosh-reloaded is
pinned >=2.7.5,<2.8): the postings format and the private attributes are read
in `_segment_blocks` and `_length_bytes`, nowhere else.
"""
from __future__ import annotations

import bisect
import functools
import io
import pickle
import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

# Pickle protocol 2 rebuilds each bytes value (a posting's encoded positions) by
# calling _codecs.encode(text, "latin1"): half of a block's unpickling time. The
# call is replaced by operator.add(text, "latin1"), which keeps the text (plus
# that suffix) as a plain str, one the garbage collector doesn't track, and only
# the few values a phrase check reads are encoded (Postings.encoded). The GLOBAL
# opcode comes before any value, so its first occurrence is the opcode.
_BYTES_FROM_TEXT = b"c_codecs\nencode\n"
_KEEP_TEXT = b"c_operator\nadd\n"
_KEPT_SUFFIX = len("latin1")
_BLOCK_SIZE = struct.Struct("!i")
# Decoded field length of each length byte, as Whoosh's scorers see it.
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


@dataclass(frozen=True)
class Postings:
    """One term's postings in the whole index (every segment), deleted documents included."""

    docs: np.ndarray  # int64 docnums, ascending
    weights: np.ndarray  # float64: term frequency × field boost
    values: list | None  # each posting's encoded positions, if asked for: see `encoded`

    def encoded(self, row: int) -> bytes:
        """The encoded positions of a posting (for the field format's decode_positions)."""
        value = self.values[row]
        return value[:-_KEPT_SUFFIX].encode("latin-1") if isinstance(value, str) else value


EMPTY = Postings(np.empty(0, dtype=np.int64), np.empty(0), [])


@dataclass(frozen=True)
class TermEntry:
    """A term of a field, and the segments that hold it."""

    field: str
    tbytes: bytes
    segments: tuple[tuple[object, int, object], ...]  # (segment reader, its first docnum, TermInfo)
    doc_frequency: int  # in all segments, deleted documents included (as Whoosh's idf counts)


def find_term(reader, field: str, tbytes: bytes) -> TermEntry | None:
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
    deltas, weights, values = [], [], []
    last = 0  # the last docnum gathered: deltas add up from 0
    for segment, base, info in term.segments:
        wanted = None
        if within is not None:
            low, high = np.searchsorted(within, (base, base + segment.doc_count_all()))
            wanted = (within[low:high] - base).tolist()
            if not wanted:
                continue
        previous_max = -1
        for max_id, decode in _segment_blocks(segment, info):
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


def field_lengths(reader, field: str) -> np.ndarray:
    """float64 length of `field` in each document (by docnum), as BM25F scores it."""
    parts = []
    for segment, _ in reader.leaf_readers():
        lengths = np.zeros(segment.doc_count_all(), dtype=np.uint8)
        raw = _length_bytes(segment, field)
        lengths[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        parts.append(lengths)
    return _LENGTH_OF_BYTE[np.concatenate(parts)] if parts else np.empty(0)


def _any_between(sorted_docs: list[int], low: int, high: int) -> bool:
    """Whether any of `sorted_docs` is in (low, high]."""
    i = bisect.bisect_right(sorted_docs, low)
    return i < len(sorted_docs) and sorted_docs[i] <= high


def _segment_blocks(segment, info) -> Iterator[tuple[int, Callable]]:
    """(last docnum, decode) for each block of a term's postings in one segment;
    decode() gives the block's (docnum deltas from 0, weights, values) as sequences.

    Whoosh's W3 postings format, as W3LeafMatcher reads it: a magic number, then
    blocks of (int length, negative for the last block; pickled block info;
    pickled, maybe compressed, data: docnum deltas, weights minified to None/one
    float/a tuple, values). Private Whoosh: the segment's postings file
    (`_terms._postfile`). A posting list short enough to be inlined (our writer
    inlines one-document terms) sits in the term info as (docnums, weights, values).
    """
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        deltas = [ids[0]] + [b - a for a, b in zip(ids, ids[1:])]
        yield ids[-1], lambda: (deltas, list(weights), list(values))
        return
    offset, length = info.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves the length a 1-tuple
        (length,) = length
    data = segment._terms._postfile.get(offset, length)
    if data[:len(WHOOSH3_HEADER_MAGIC)] != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"not a Whoosh 3 posting list at {offset}")
    stream = io.BytesIO(data)
    start = len(WHOOSH3_HEADER_MAGIC)
    while True:
        (size,) = _BLOCK_SIZE.unpack_from(data, start)
        stream.seek(start + _BLOCK_SIZE.size)
        _, max_id, _, compression, _, _ = pickle.load(stream)
        end = start + _BLOCK_SIZE.size + abs(size)
        yield max_id, functools.partial(_decode_block, data, stream.tell(), end, compression)
        if size < 0:
            return
        start = end


def _decode_block(data: bytes, start: int, end: int, compression: int):
    block = data[start:end]
    if compression:
        block = zlib.decompress(block)
    deltas, weights, values = pickle.loads(block.replace(_BYTES_FROM_TEXT, _KEEP_TEXT, 1))
    if weights is None or isinstance(weights, float):
        weights = [1.0 if weights is None else weights] * len(deltas)
    return deltas, weights, values


def _length_bytes(segment, field: str) -> bytes:
    """The length byte of `field` for each document of a segment (shorter when its last
    documents lack the field). Private Whoosh: the per-document reader (`_perdoc`) and
    the fixed-width column's file and offsets."""
    column = f"_{field}_len"
    if not segment._perdoc.has_column(column):
        return b""
    lengths = segment._perdoc.column_reader(column, LENGTHS_COLUMN)
    return bytes(lengths._dbfile.get(lengths._basepos, lengths._count))
