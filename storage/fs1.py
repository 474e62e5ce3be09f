"""finsearch's own postings format (FS1): a Whoosh codec whose term dictionary and
postings are written and read in bulk with numpy.

Whoosh's W3 format pickles a block per term and a term info per term, and keeps a
hash table per segment: about 40 µs of Python per term to write, and at 100k posts
an index 8× tantivy's. FS1 keeps W3 for everything per document (stored fields,
columns, field lengths) and replaces the inverted index (`.trm` + `.pst`):

- `.fpo`, postings: for each term, its doc gaps then its frequencies minus one, then
  (a positional field) its position gaps within each document, all LEB128 varints;
- `.ftd`, the term dictionary: per field, the terms in byte order in blocks of
  BLOCK_TERMS, front-coded, each with its document count, total frequency and the
  byte sizes of its two postings regions; after the blocks, a directory of each
  field's block offsets and first keys (read once when a segment is opened).

With frequencies flagged (`freq_flags`, FLAGS_MAGIC; the fast writer's since FS3Codec,
storage/stored.py), a term's docs region is instead each document's doc gap × 2, plus 1
if its frequency is above 1, then the frequencies minus 2 of the documents flagged: most
postings of a field have frequency 1, and this saves their frequency byte. The term
dictionary and the positions are the same.

With a compact dictionary (COMPACT_MAGIC, frequencies flagged too; FS4Codec's), a block gives
each term's shared-prefix and suffix lengths in one byte (4 bits each: the prefix capped at
COMPACT_PREFIX, a suffix of LONG_SUFFIX bytes or more has its length in a varint after the codes),
where FS1's blocks take two. And a field's blocks leave out the columns that say nothing: the
total frequencies where each equals the document count (an id, a path, a keyword) and the
positions' byte counts of a field without positions; its directory entry says which it holds.

A codec is chosen per segment and recorded in the index's table of contents, so an
index may mix W3 and FS1 segments, flagged or not (a build from before FS1 or before
the flags, or one written by the fallback writer). Reading FS1 needs only Whoosh's
public codec interfaces and this module; Whoosh's own searcher, merges and deletes read
it through `FS1TermsReader`.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import mmap
import os
import pickle
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from whoosh.codec.base import FieldWriter, TermsReader
from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Format, Frequency, Positions
from whoosh.matching import ListMatcher
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import pack_uint

POSTINGS_FORMAT = "FS1"  # in each build's manifest: an older index is rebuilt in full once
TERMS_EXT = ".ftd"
POSTINGS_EXT = ".fpo"
MAGIC = b"FS1t"
FLAGS_MAGIC = b"FS1f"  # a term dictionary whose postings flag each frequency above 1 in its doc gap
COMPACT_MAGIC = b"FS1c"  # frequencies flagged, and the dictionary compact
COMPACT_PREFIX = 15  # a compact block's prefix lengths fit 4 bits: a longer shared prefix is cut to this
LONG_SUFFIX = 15  # a compact block's suffix lengths from this on are varints (the code's 4 bits say this)
BLOCK_TERMS = 32
SMALL_POSTINGS_BYTES = 64  # a term's docs regions up to this size are decoded in Python: fewer calls
ENCODE_VALUES = 1 << 21  # postings values (doc gaps, frequencies, positions) a writer encodes at once
_U32 = struct.Struct("<I")
_TRAILER = struct.Struct("<Q4s")  # the directory's offset, MAGIC


# -- varints ---------------------------------------------------------------------

_VARINT_LIMITS = [1 << (7 * k) for k in range(1, 10)]


def encode_varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers as LEB128 (7 bits a byte, low first, high bit: more follows):
    the bytes (uint8) and each value's byte count (int64)."""
    v = np.asarray(values, dtype=np.uint64)
    counts = np.ones(v.size, dtype=np.int64)
    for limit in _VARINT_LIMITS:
        wider = v >= limit
        if not wider.any():
            break
        counts += wider
    starts = np.cumsum(counts) - counts
    out = np.empty(int(counts.sum()), dtype=np.uint8)
    rows = np.arange(v.size)
    for k in range(int(counts.max(initial=0))):
        if k:
            rows = rows[counts[rows] > k]
        more = (counts[rows] > k + 1).astype(np.uint8) << 7
        out[starts[rows] + k] = ((v[rows] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8) | more
    return out, counts


def decode_varints(data: np.ndarray) -> np.ndarray:
    """The int64 values of a run of LEB128 varints (uint8), all of them."""
    return _varints_with_starts(data)[0]


def _varints_with_starts(data: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """decode_varints, and the byte each value starts at (None: every value is one byte)."""
    if not data.size:
        return np.empty(0, dtype=np.int64), None
    last = data < 0x80
    if last.all():
        return data.astype(np.int64), None
    firsts = np.flatnonzero(np.concatenate(([True], last[:-1])))
    byte_rank = np.arange(data.size) - np.repeat(firsts, np.diff(np.append(firsts, data.size)))
    parts = (data & 0x7F).astype(np.int64) << (7 * byte_rank)
    return np.add.reduceat(parts, firsts), firsts


def _decode_regions(data: np.ndarray, nbytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of consecutive regions of varints (nbytes[i] bytes each, none empty), and
    where each region's first value is among them."""
    values, firsts = _varints_with_starts(data)
    byte_at = np.cumsum(nbytes) - nbytes
    return values, byte_at if firsts is None else np.searchsorted(firsts, byte_at)


def _small_varints(data: bytes) -> list[int]:
    """decode_varints for a few dozen bytes, in Python (numpy's call overhead is more)."""
    if not data or max(data) < 0x80:
        return list(data)
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            values.append(value)
            value, shift = 0, 0
        else:
            shift += 7
    return values


# -- what the writer is given --------------------------------------------------


@dataclass(frozen=True)
class FieldPostings:
    """One field's postings, sorted: plain arrays, as a TermPool or a merge hands them over."""

    terms: Sequence[bytes]  # in byte order
    starts: np.ndarray  # int64, len(terms) + 1: term i's postings are rows starts[i]:starts[i + 1]
    docs: np.ndarray  # docnums, ascending within each term
    freqs: np.ndarray  # ≥ 1
    positions: np.ndarray | None  # a positional field: freqs[row] positions per row, ascending, flat


def spans(firsts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indexes firsts[i], firsts[i] + 1, …, firsts[i] + counts[i] - 1 of every i, in order."""
    ends = np.cumsum(counts)
    return np.repeat(firsts - (ends - counts), counts) + np.arange(int(ends[-1]) if ends.size else 0)


def _runs_cumsum(gaps: np.ndarray, run_starts: np.ndarray) -> np.ndarray:
    """The running sums of `gaps`, each run (rows run_starts[i]:run_starts[i + 1]) from 0:
    what _within_runs undoes."""
    if not gaps.size:
        return gaps
    sums = np.cumsum(gaps)
    firsts = run_starts[:-1]
    return sums - np.repeat(sums[firsts] - gaps[firsts], np.diff(run_starts))


def _within_runs(values: np.ndarray, run_starts: np.ndarray) -> np.ndarray:
    """Gaps between neighbours, each run (rows run_starts[i]:run_starts[i + 1]) starting from 0."""
    gaps = np.diff(values.astype(np.int64), prepend=0)
    firsts = run_starts[:-1][run_starts[:-1] < values.size]
    gaps[firsts] = values[firsts]
    return gaps


def _regions(field: FieldPostings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The field's postings file bytes (terms one after another: doc gaps, frequencies, position
    gaps) and each term's byte count of its docs region and of its positions region."""
    starts = field.starts.astype(np.int64)
    dfs = np.diff(starts)
    rows = field.docs.size
    within = np.arange(rows) - np.repeat(starts[:-1], dfs)
    term_of_row = np.repeat(np.arange(dfs.size), dfs)
    # Each term's docs region: its df gaps, then its df frequencies - 1.
    values = np.empty(2 * rows, dtype=np.int64)
    values[2 * starts[:-1][term_of_row] + within] = _within_runs(field.docs, starts)
    values[2 * starts[:-1][term_of_row] + dfs[term_of_row] + within] = field.freqs.astype(np.int64) - 1
    doc_bytes, doc_counts = encode_varints(values)
    docs_nbytes = np.add.reduceat(doc_counts, 2 * starts[:-1]) if rows else np.zeros(0, dtype=np.int64)
    if field.positions is None:
        return doc_bytes, docs_nbytes, np.zeros(dfs.size, dtype=np.int64)
    freqs = field.freqs.astype(np.int64)
    posting_starts = np.concatenate(([0], np.cumsum(freqs)))
    pos_bytes, pos_counts = encode_varints(_within_runs(field.positions, posting_starts))
    pos_nbytes = np.add.reduceat(pos_counts, posting_starts[starts[:-1]]) if rows else np.zeros(0, dtype=np.int64)
    # Interleave: term i's docs bytes, then its positions bytes.
    out = np.empty(doc_bytes.size + pos_bytes.size, dtype=np.uint8)
    term_at = np.concatenate(([0], np.cumsum(docs_nbytes + pos_nbytes)))
    doc_firsts = np.concatenate(([0], np.cumsum(docs_nbytes)))
    pos_firsts = np.concatenate(([0], np.cumsum(pos_nbytes)))
    term_of_doc_byte = np.repeat(np.arange(dfs.size), docs_nbytes)
    term_of_pos_byte = np.repeat(np.arange(dfs.size), pos_nbytes)
    out[term_at[:-1][term_of_doc_byte] + np.arange(doc_bytes.size) - doc_firsts[:-1][term_of_doc_byte]] = doc_bytes
    out[term_at[:-1][term_of_pos_byte] + docs_nbytes[term_of_pos_byte]
        + np.arange(pos_bytes.size) - pos_firsts[:-1][term_of_pos_byte]] = pos_bytes
    return out, docs_nbytes, pos_nbytes


def _run_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The sum of each run of `values` (run i: the next counts[i] of them), 0 for an empty run."""
    sums = np.concatenate(([0], np.cumsum(values)))
    ends = np.cumsum(counts)
    return sums[ends] - sums[ends - counts]


def _varints_by_run(values: np.ndarray, run_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values in runs (run i: the next run_lengths[i] of them) as varints: the bytes, and each
    run's byte count."""
    data, counts = encode_varints(values)
    return data, _run_sums(counts, run_lengths)


def _interleave(parts: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Parts' bytes (each: its bytes, and each run's byte count) run by run: run 0's bytes of
    every part in order, then run 1's, and so on."""
    counts = np.stack([run_counts for _, run_counts in parts])
    run_totals = counts.sum(axis=0)
    part_at = np.cumsum(run_totals) - run_totals + np.cumsum(counts, axis=0) - counts
    out = np.empty(int(run_totals.sum()), dtype=np.uint8)
    for (data, run_counts), at in zip(parts, part_at):
        out[spans(at, run_counts)] = data
    return out


def _flagged_regions(field: FieldPostings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_regions with frequencies flagged: a term's docs region is, per document, its doc gap
    times 2 plus 1 if its frequency is above 1, then the frequencies - 2 of the documents
    flagged; its positions region is as in _regions. Most postings of a field are of
    frequency 1, whose byte in _regions this saves."""
    starts = field.starts.astype(np.int64)
    dfs = np.diff(starts)
    freqs = field.freqs.astype(np.int64)
    repeated = freqs > 1
    parts = [_varints_by_run(2 * _within_runs(field.docs, starts) + repeated, dfs),
             _varints_by_run(freqs[repeated] - 2, _run_sums(repeated, dfs))]
    docs_nbytes = parts[0][1] + parts[1][1]
    if field.positions is None:
        return _interleave(parts), docs_nbytes, np.zeros(dfs.size, dtype=np.int64)
    posting_starts = np.concatenate(([0], np.cumsum(freqs)))
    parts.append(_varints_by_run(_within_runs(field.positions, posting_starts), _run_sums(freqs, dfs)))
    return _interleave(parts), docs_nbytes, parts[2][1]


def _small_flagged(values: list[int], dfs: list[int], bases: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """_unflag for a few values in Python: docnums (each run's from its base) and frequencies."""
    docs: list[int] = []
    freqs: list[int] = []
    read = iter(values)
    for df, doc in zip(dfs, bases):
        flagged_rows: list[int] = []
        for value in itertools.islice(read, df):
            doc += value >> 1
            docs.append(doc)
            if value & 1:
                flagged_rows.append(len(freqs))
            freqs.append(1)
        for row, extra in zip(flagged_rows, read):
            freqs[row] = extra + 2
    return np.array(docs, dtype=np.int64), np.array(freqs, dtype=np.int64)


def _flagged_freqs(flagged: np.ndarray, extras: np.ndarray) -> np.ndarray:
    """The frequencies of postings from their flagged gaps and the frequencies - 2 of those
    flagged, in order."""
    freqs = np.ones(flagged.size, dtype=np.int64)
    if extras.size:
        freqs[np.flatnonzero(flagged & 1)] = extras + 2
    return freqs


def _unflag(values: np.ndarray, value_at: np.ndarray, dfs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs' doc gaps and frequencies from their flagged values (run i's from value_at[i]: dfs[i]
    flagged gaps, then the frequencies - 2 of those flagged), and where each run's values end."""
    flagged = values[spans(value_at, dfs)]
    extra = _run_sums(flagged & 1, dfs)
    ends = value_at + dfs + extra
    return flagged >> 1, _flagged_freqs(flagged, values[spans(value_at + dfs, extra)]), ends


def _term_ranges(field: FieldPostings, values: np.ndarray) -> Iterator[FieldPostings]:
    """The field in runs of consecutive terms of at most ENCODE_VALUES postings values each (a
    term with more is a run of its own; `values`: each term's count), as views: _regions'
    temporary arrays are several times the values it encodes, so a run bounds them."""
    ends = np.cumsum(values)
    position_starts = np.concatenate(([0], np.cumsum(field.freqs)))
    first = 0
    while first < values.size:
        done = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, done + ENCODE_VALUES, side="right")), first + 1)
        row, end_row = int(field.starts[first]), int(field.starts[last])
        positions = None if field.positions is None else field.positions[
            int(position_starts[row]):int(position_starts[end_row])]
        yield FieldPostings(field.terms[first:last], field.starts[first:last + 1] - row, field.docs[row:end_row],
                            field.freqs[row:end_row], positions)
        first = last


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b), 0xFF)
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _compact_prefixes(keys: Sequence[bytes]) -> np.ndarray:
    """The shared prefix of each key after the first with the key before it, cut to COMPACT_PREFIX:
    compared as fixed-width rows of their first COMPACT_PREFIX + 1 bytes (numpy pads with NULs, so
    a match is cut to the shorter key's length too)."""
    width = COMPACT_PREFIX + 1
    heads = np.array(keys, dtype=f"S{width}").view(np.uint8).reshape(-1, width)
    differ = np.concatenate((heads[1:] != heads[:-1], np.ones((len(keys) - 1, 1), dtype=bool)), axis=1)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    return np.minimum.reduce([differ.argmax(axis=1), lengths[1:], lengths[:-1], np.full(len(keys) - 1, COMPACT_PREFIX)])


def _term_blocks(terms: Sequence[bytes], columns: np.ndarray, compact: bool) -> Iterator[tuple[bytes, bytes]]:
    """(first key, block bytes) of each block of BLOCK_TERMS terms.

    A block: u32 byte count of its header; the header; then the keys' suffixes. FS1's header:
    varints n, n prefix lengths (shared with the term before), n suffix lengths, then each of
    `columns` for the n terms (dfs, total frequencies, docs-region and positions-region byte
    counts). A compact header: a byte n, n bytes of codes (prefix length + 16 × suffix length,
    that capped at LONG_SUFFIX), then varints: the suffix lengths the codes cap, then `columns`
    (those the field's blocks hold).
    """
    chunk = BLOCK_TERMS * BLOCKS_AT_ONCE
    for first in range(0, len(terms), chunk):
        yield from _blocks_of(terms[first:first + chunk], columns[:, first:first + chunk], compact)


BLOCKS_AT_ONCE = 2048  # blocks whose headers are encoded in one pass (bounds the arrays a field needs)


def _blocks_of(keys: Sequence[bytes], columns: np.ndarray, compact: bool) -> Iterator[tuple[bytes, bytes]]:
    """_term_blocks of keys that start a block: the numbers of all their headers laid out a block
    to a row, padded to BLOCK_TERMS terms, and encoded as varints at once."""
    count = len(keys)
    blocks = -(-count // BLOCK_TERMS)
    padded = blocks * BLOCK_TERMS
    prefixes = np.zeros(padded, dtype=np.int64)  # shared with the key before; a block's first: 0
    prefixes[1:count] = _compact_prefixes(keys) if compact else np.fromiter(
        map(_common_prefix, keys[:-1], keys[1:]), dtype=np.int64, count=count - 1)
    prefixes[::BLOCK_TERMS] = 0
    suffixes = [key[p:] for key, p in zip(keys, prefixes[:count].tolist())]
    lengths = np.zeros(padded, dtype=np.int64)
    lengths[:count] = np.fromiter(map(len, suffixes), dtype=np.int64, count=count)
    real = np.arange(padded) < count
    padded_columns = np.zeros((columns.shape[0], padded), dtype=np.int64)
    padded_columns[:, :count] = columns

    def rows(values: np.ndarray) -> np.ndarray:
        return values.reshape(blocks, BLOCK_TERMS)

    sizes = np.minimum(BLOCK_TERMS, count - BLOCK_TERMS * np.arange(blocks))
    if compact:
        codes = (prefixes | np.minimum(lengths, LONG_SUFFIX) << 4)[:count].astype(np.uint8).tobytes()
        sections = [rows(lengths)] + [rows(column) for column in padded_columns]
        kept = [rows(real & (lengths >= LONG_SUFFIX))] + [rows(real)] * len(padded_columns)
    else:
        sections = [sizes[:, None], rows(prefixes), rows(lengths)] + [rows(column) for column in padded_columns]
        kept = [np.ones((blocks, 1), dtype=bool)] + [rows(real)] * (2 + len(padded_columns))
    keep = np.hstack(kept)
    data, value_bytes = encode_varints(np.hstack(sections)[keep])  # row by row: a block's numbers in order
    values_before = np.concatenate(([0], np.cumsum(keep.sum(axis=1))[:-1]))  # every block has numbers
    bounds = np.concatenate(([0], np.cumsum(np.add.reduceat(value_bytes, values_before)))).tolist()
    encoded = data.tobytes()
    for block, n in enumerate(sizes.tolist()):
        first = block * BLOCK_TERMS
        varints = encoded[bounds[block]:bounds[block + 1]]
        header = bytes((n,)) + codes[first:first + n] + varints if compact else varints
        yield keys[first], _U32.pack(len(header)) + header + b"".join(suffixes[first:first + n])


@dataclass
class _FieldDirectory:
    boost: float
    positional: bool
    first_keys: list[bytes]  # of each block
    block_offsets: np.ndarray  # int64, len + 1: where each block is in the terms file
    postings_bases: np.ndarray  # int64: where each block's first term's postings start
    terms: int
    # Which columns its blocks hold besides the dfs and the docs regions' sizes (FS1's: all).
    totals_stored: bool = True  # else each term's total frequency is its df
    position_sizes_stored: bool = True  # else no term has positions


def _compact_columns(dfs: np.ndarray, totals: np.ndarray, docs_nbytes: np.ndarray,
                     pos_nbytes: np.ndarray) -> tuple[np.ndarray, bool, bool]:
    """The columns a compact dictionary's blocks hold of a field, and whether the totals and
    the positions' sizes are among them."""
    totals_stored = not np.array_equal(totals, dfs)
    position_sizes_stored = bool(pos_nbytes.any())
    columns = [dfs] + [totals] * totals_stored + [docs_nbytes] + [pos_nbytes] * position_sizes_stored
    return np.stack(columns).astype(np.int64), totals_stored, position_sizes_stored


class FS1FieldWriter(FieldWriter):
    """Writes a segment's inverted index, a field at a time (`add_field`), in FS1 (`freq_flags`:
    with frequencies flagged, _flagged_regions; `compact`: with those and a compact dictionary)."""

    def __init__(self, storage: Any, segment: Any, freq_flags: bool = False, compact: bool = False):
        self._termfile = segment.create_file(storage, TERMS_EXT)
        self._postfile = segment.create_file(storage, POSTINGS_EXT)
        self._magic = COMPACT_MAGIC if compact else FLAGS_MAGIC if freq_flags else MAGIC
        self._compact = compact
        self._encode = _flagged_regions if freq_flags or compact else _regions
        self._termfile.write(self._magic)
        self._terms_at = len(self._magic)
        self._postings_at = 0
        self._directory: dict[str, _FieldDirectory] = {}
        self.is_closed = False

    def add_field(self, fieldname: str, fieldobj: Any, field: FieldPostings) -> None:
        """All postings of one field (each field once, any order)."""
        fmt = fieldobj.format
        if not field.terms:
            return
        starts = field.starts.astype(np.int64)
        totals = np.add.reduceat(field.freqs.astype(np.int64), starts[:-1])
        values = 2 * np.diff(starts) + (totals if field.positions is not None else 0)
        docs_parts, pos_parts = [], []
        for part in _term_ranges(field, values):
            data, docs_nbytes, pos_nbytes = self._encode(part)
            self._postfile.write(data.data)
            docs_parts.append(docs_nbytes)
            pos_parts.append(pos_nbytes)
        docs_nbytes, pos_nbytes = np.concatenate(docs_parts), np.concatenate(pos_parts)
        term_bytes = docs_nbytes + pos_nbytes
        term_at = self._postings_at + np.concatenate(([0], np.cumsum(term_bytes)))
        first_keys, offsets = [], [self._terms_at]
        dfs = np.diff(starts)
        if self._compact:
            columns, totals_stored, position_sizes_stored = _compact_columns(dfs, totals, docs_nbytes, pos_nbytes)
        else:
            columns, totals_stored, position_sizes_stored = np.stack(
                [dfs, totals, docs_nbytes, pos_nbytes]).astype(np.int64), True, True
        for key, block in _term_blocks(field.terms, columns, self._compact):
            self._termfile.write(block)
            self._terms_at += len(block)
            first_keys.append(key)
            offsets.append(self._terms_at)
        self._directory[fieldname] = _FieldDirectory(
            float(fmt.field_boost), isinstance(fmt, Positions) and field.positions is not None, first_keys,
            np.array(offsets, dtype=np.int64), term_at[:-1][::BLOCK_TERMS].copy(), len(field.terms),
            totals_stored, position_sizes_stored)
        self._postings_at += int(term_bytes.sum())

    # Whoosh's per-term interface is not used: a FastSegmentWriter hands over whole fields.
    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        raise NotImplementedError("FS1 is written a field at a time: add_field")

    def close(self) -> None:
        directory = {name: (d.boost, d.positional, d.first_keys, d.block_offsets.tobytes(),
                            d.postings_bases.tobytes(), d.terms)
                           + ((d.totals_stored, d.position_sizes_stored) if self._compact else ())
                     for name, d in self._directory.items()}
        at = self._terms_at
        self._termfile.write(pickle.dumps(directory, protocol=4))
        self._termfile.write(_TRAILER.pack(at, self._magic))
        self._termfile.close()
        self._postfile.close()
        self.is_closed = True


# -- reading ---------------------------------------------------------------------


class FS1TermInfo(TermInfo):
    """A term's statistics and where its postings are. The bounds Whoosh's own searcher
    asks for (lengths, ids, the largest weight) are safe bounds, not exact."""

    __slots__ = ("postings_at", "docs_nbytes", "pos_nbytes")

    def __init__(self, df: int, weight: float, postings_at: int, docs_nbytes: int, pos_nbytes: int):
        super().__init__(weight=weight, df=df, minlength=1, maxlength=0xFFFFFFFF, maxweight=weight,
                         minid=0, maxid=0xFFFFFFFF)
        self.postings_at = postings_at
        self.docs_nbytes = docs_nbytes
        self.pos_nbytes = pos_nbytes


@dataclass(frozen=True)
class TermPostings:
    """A term's postings in one segment, deleted documents included."""

    docs: np.ndarray  # int64 docnums in the segment, ascending
    freqs: np.ndarray  # int64
    positions: np.ndarray | None  # int64, flat: freqs[row] per row
    position_starts: np.ndarray | None  # int64, len(docs) + 1


def _buffer(storage: Any, name: str) -> Any:
    """The whole file: memory-mapped from a folder (shared by processes, read-only), else
    (a compound file, RAM) its bytes."""
    if not isinstance(storage, FileStorage):
        f = storage.open_file(name)
        try:
            return f.read()
        finally:
            f.close()
    with open(os.path.join(storage.folder, name), "rb") as f:
        if not os.fstat(f.fileno()).st_size:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class FS1TermsReader(TermsReader):
    """Whoosh's TermsReader over an FS1 segment (`freq_flags`: with frequencies flagged;
    `compact`: with those and a compact dictionary)."""

    def __init__(self, storage: Any, segment: Any, freq_flags: bool = False, compact: bool = False):
        self.freq_flags = freq_flags or compact
        self._compact = compact
        self._terms = _buffer(storage, segment.make_filename(TERMS_EXT))
        self._postings = _buffer(storage, segment.make_filename(POSTINGS_EXT))
        self._post_bytes = np.frombuffer(self._postings, dtype=np.uint8) if len(self._postings) else np.empty(
            0, dtype=np.uint8)
        at, magic = _TRAILER.unpack_from(self._terms, len(self._terms) - _TRAILER.size)
        expected = COMPACT_MAGIC if compact else FLAGS_MAGIC if freq_flags else MAGIC
        if magic != expected or self._terms[:len(expected)] != expected:
            kind = " compact" if compact else " with frequencies flagged" if freq_flags else ""
            raise ValueError(f"{segment.make_filename(TERMS_EXT)} is not an FS1{kind} term dictionary")
        directory = pickle.loads(self._terms[at:len(self._terms) - _TRAILER.size])
        self._fields = {name: _FieldDirectory(boost, positional, first_keys, np.frombuffer(offsets, dtype=np.int64),
                                              np.frombuffer(bases, dtype=np.int64), terms, *stored)
                        for name, (boost, positional, first_keys, offsets, bases, terms, *stored)
                        in directory.items()}

    # -- blocks

    def _block(self, field: _FieldDirectory, number: int) -> tuple[list[bytes], list[int], int]:
        """A block's keys, its columns (the varints after the key lengths) and where its first
        term's postings start."""
        start, end = int(field.block_offsets[number]), int(field.block_offsets[number + 1])
        data = self._terms[start:end]
        (size,) = _U32.unpack_from(data, 0)
        if self._compact:
            n = data[4]
            codes = data[5:5 + n]
            values = _small_varints(data[5 + n:4 + size])
            long = iter(values)
            lengths = [(code & 0xF, code >> 4 if code < LONG_SUFFIX << 4 else next(long)) for code in codes]
            columns = values[sum(code >= LONG_SUFFIX << 4 for code in codes):]
        else:
            values = _small_varints(data[4:4 + size])
            n = values[0]
            lengths = list(zip(values[1:1 + n], values[1 + n:1 + 2 * n]))
            columns = values[1 + 2 * n:]
        keys, key, at = [], b"", 4 + size
        for prefix, length in lengths:
            key = key[:prefix] + data[at:at + length]
            at += length
            keys.append(key)
        return keys, columns, int(field.postings_bases[number])

    @staticmethod
    def _split(field: _FieldDirectory, columns: list[int], n: int) -> tuple[list[int], list[int], list[int],
                                                                           list[int]]:
        """A block's dfs, total frequencies, docs-region and positions-region byte counts, of
        its `n` terms, from the columns its field's blocks hold."""
        dfs, at = columns[:n], n
        totals = dfs
        if field.totals_stored:
            totals, at = columns[at:at + n], at + n
        docs_nbytes = columns[at:at + n]
        pos_nbytes = columns[at + n:at + 2 * n] if field.position_sizes_stored else [0] * n
        return dfs, totals, docs_nbytes, pos_nbytes

    def _info(self, field: _FieldDirectory, columns: list[int], n: int, base: int, row: int) -> FS1TermInfo:
        """The term at `row` of a block of `n` terms, from the block's columns."""
        dfs, totals, docs_nbytes, pos_nbytes = self._split(field, columns, n)
        at = base + sum(docs_nbytes[:row]) + sum(pos_nbytes[:row])
        return FS1TermInfo(dfs[row], totals[row] * field.boost, at, docs_nbytes[row], pos_nbytes[row])

    def _find(self, fieldname: str, tbytes: bytes) -> FS1TermInfo | None:
        field = self._fields.get(fieldname)
        if field is None:
            return None
        number = bisect.bisect_right(field.first_keys, tbytes) - 1
        if number < 0:
            return None
        start, end = int(field.block_offsets[number]), int(field.block_offsets[number + 1])
        data = self._terms[start:end]
        (size,) = _U32.unpack_from(data, 0)
        n = data[4]
        # The key lengths: FS1's prefix lengths then suffix lengths, or compact's one code a term.
        lengths = data[5:5 + n] if self._compact else data[5:5 + 2 * n]
        limit = LONG_SUFFIX << 4 if self._compact else 0x80
        if n >= 0x80 or (lengths and max(lengths) >= limit):  # a length elsewhere: the whole block
            keys, columns, base = self._block(field, number)
            row = bisect.bisect_left(keys, tbytes)
            if row == len(keys) or keys[row] != tbytes:
                return None
            return self._info(field, columns, n, base, row)
        # Most blocks: every length is one byte, so the keys are rebuilt straight from the bytes up
        # to the one looked for, and the columns decoded only when it is there (a term is looked up
        # in every segment, and most do not hold a rare one).
        key, at = b"", 4 + size
        for row in range(n):
            if self._compact:
                prefix, length = lengths[row] & 0xF, lengths[row] >> 4
            else:
                prefix, length = lengths[row], lengths[n + row]
            key = key[:prefix] + data[at:at + length]
            if key >= tbytes:
                break
            at += length
        else:
            return None
        if key != tbytes:
            return None
        return self._info(field, _small_varints(data[5 + len(lengths):4 + size]), n,
                          int(field.postings_bases[number]), row)

    def _items_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[tuple[str, bytes], FS1TermInfo]]:
        """Every term of the segment from (fieldname, prefix) on, fields in name order."""
        for name in sorted(self._fields):
            if name < fieldname:
                continue
            field = self._fields[name]
            start = prefix if name == fieldname else b""
            first = max(0, bisect.bisect_right(field.first_keys, start) - 1)
            for number in range(first, len(field.first_keys)):
                keys, columns, base = self._block(field, number)
                for row in range(bisect.bisect_left(keys, start), len(keys)):
                    yield (name, keys[row]), self._info(field, columns, len(keys), base, row)

    # -- Whoosh's TermsReader

    def __contains__(self, term: tuple[str, bytes]) -> bool:
        return self._find(*term) is not None

    def indexed_field_names(self) -> list[str]:
        return list(self._fields)

    def terms(self) -> Iterator[tuple[str, bytes]]:
        return (term for term, _ in self._items_from("", b""))

    def terms_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[str, bytes]]:
        return (term for term, _ in self._items_from(fieldname, prefix))

    def items(self) -> Iterator[tuple[tuple[str, bytes], FS1TermInfo]]:
        return self._items_from("", b"")

    def items_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[tuple[str, bytes], FS1TermInfo]]:
        return self._items_from(fieldname, prefix)

    def term_info(self, fieldname: str, tbytes: bytes) -> FS1TermInfo:
        info = self._find(fieldname, tbytes)
        if info is None:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return info

    # As W3's: a missing term is a KeyError here (Whoosh's SegmentReader turns it into 0).
    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        info = self._find(fieldname, tbytes)
        if info is None:
            raise KeyError((fieldname, tbytes))
        return info.weight()

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        info = self._find(fieldname, tbytes)
        if info is None:
            raise KeyError((fieldname, tbytes))
        return info.doc_frequency()

    def boost(self, fieldname: str) -> float:
        return self._fields[fieldname].boost

    def postings(self, info: FS1TermInfo, positions: bool) -> TermPostings:
        """A term's postings, positions too if asked and the field has them."""
        return segments_postings([(self, info, 0)], positions)

    def _columns(self, field: _FieldDirectory) -> tuple[list[bytes], np.ndarray]:
        """A field's keys, and its terms' dfs, total frequencies, docs-region and positions-region
        byte counts (a 4 × terms array)."""
        keys: list[bytes] = []
        columns = []
        for number in range(len(field.first_keys)):
            block_keys, block_columns, _ = self._block(field, number)
            keys += block_keys
            columns.append(np.array(self._split(field, block_columns, len(block_keys)), dtype=np.int64))
        return keys, np.concatenate(columns, axis=1)

    def doc_frequencies(self, fieldname: str) -> tuple[list[bytes], np.ndarray]:
        """A field's terms in byte order and each one's document count: one pass over its
        blocks, not a lookup per term."""
        field = self._fields.get(fieldname)
        if field is None:
            return [], np.empty(0, dtype=np.int64)
        keys, columns = self._columns(field)
        return keys, columns[0]

    def field_sizes(self, fieldname: str) -> dict[str, int]:
        """Where a field's bytes are (for benchmarks/index_bytes.py): terms and postings counted,
        bytes of its term dictionary, of its docnums and frequencies, of its positions."""
        field = self._fields[fieldname]
        _, (dfs, _, docs_nbytes, pos_nbytes) = self._columns(field)
        return {"terms": field.terms, "postings": int(dfs.sum()),
                "dictionary_bytes": int(field.block_offsets[-1] - field.block_offsets[0]),
                "docs_bytes": int(docs_nbytes.sum()), "positions_bytes": int(pos_nbytes.sum())}

    def field_postings(self, fieldname: str) -> FieldPostings:
        """Every posting of a field, positions too if it has them, docnums as in this segment:
        a merge copies a segment's postings with this, a field at a time, not a call per posting."""
        field = self._fields[fieldname]
        keys, (dfs, totals, docs_nbytes, pos_nbytes) = self._columns(field)
        first = int(field.postings_bases[0])
        data = self._post_bytes[first:first + int(docs_nbytes.sum() + pos_nbytes.sum())]
        if self.freq_flags:
            values, value_at = _decode_regions(data, docs_nbytes + pos_nbytes)
            gaps, freqs, positions_at = _unflag(values, value_at, dfs)
        else:
            values = decode_varints(data)
            # Term i's values: its df doc gaps, its df frequencies - 1, then its positions' gaps.
            term_values = 2 * dfs + (totals if field.positional else 0)
            value_starts = np.cumsum(term_values) - term_values
            gaps = values[spans(value_starts, dfs)]
            freqs = values[spans(value_starts + dfs, dfs)] + 1
            positions_at = value_starts + 2 * dfs
        starts = np.concatenate(([0], np.cumsum(dfs)))
        docs = _runs_cumsum(gaps, starts)
        positions = None
        if field.positional:
            positions = _runs_cumsum(values[spans(positions_at, totals)], np.concatenate(([0], np.cumsum(freqs))))
        return FieldPostings(keys, starts, docs, freqs, positions)

    def matcher(self, fieldname: str, tbytes: bytes, format_: Format, scorer: Any = None) -> ListMatcher:
        info = self.term_info(fieldname, tbytes)
        read = self.postings(info, positions=format_.supports("positions"))
        boost = self._fields[fieldname].boost
        return ListMatcher(read.docs.tolist(), (read.freqs * boost).tolist(), whoosh_values(format_, read),
                           format_, scorer=scorer, term=(fieldname, tbytes), terminfo=info)

    def close(self) -> None:
        self._post_bytes = np.empty(0, dtype=np.uint8)
        for buffer in (self._terms, self._postings):
            if isinstance(buffer, mmap.mmap):
                try:
                    buffer.close()
                except BufferError:  # a search still decoding from it: unmapped when it is done
                    pass


def segments_postings(pieces: Sequence[tuple[FS1TermsReader, FS1TermInfo, int]], positions: bool) -> TermPostings:
    """One term's postings in several FS1 segments of one kind (frequencies flagged or not),
    each piece (the segment's terms reader, the term's info there, the docnum the segment
    starts at) in docnum order: docnums offset by their segment's start. The pieces' bytes
    are decoded together, in one pass for the docs and one for the positions: numpy's cost
    per call is most of what a rare term costs."""
    dfs = np.array([info.doc_frequency() for _, info, _ in pieces], dtype=np.int64)
    data = _joined([reader._post_bytes[info.postings_at:info.postings_at + info.docs_nbytes]
                    for reader, info, _ in pieces])
    bases = np.array([base for _, _, base in pieces], dtype=np.int64)
    if pieces[0][0].freq_flags and data.size <= SMALL_POSTINGS_BYTES:
        docs, freqs = _small_flagged(_small_varints(data.tobytes()), dfs.tolist(), bases.tolist())
    elif pieces[0][0].freq_flags and len(pieces) == 1:
        df = int(dfs[0])
        values = decode_varints(data)
        flagged, extras = values[:df], values[df:]
        docs = np.cumsum(flagged >> 1) + bases[0]
        freqs = _flagged_freqs(flagged, extras)
    elif pieces[0][0].freq_flags:
        # Piece k's values: its df flagged gaps, then its frequencies - 2 of those flagged.
        values, firsts = _varints_with_starts(data)
        if values.size == dfs.sum():  # no frequency above 1: the values are the gaps
            flagged, extras = values, values[:0]
        else:
            nbytes = np.array([info.docs_nbytes for _, info, _ in pieces], dtype=np.int64)
            byte_at = nbytes.cumsum() - nbytes
            gaps_at = spans(byte_at if firsts is None else firsts.searchsorted(byte_at), dfs)
            flagged = values[gaps_at]
            others = np.ones(values.size, dtype=bool)
            others[gaps_at] = False
            extras = values[others]
        docs = _runs_cumsum(flagged >> 1, np.concatenate(([0], np.cumsum(dfs)))) + np.repeat(bases, dfs)
        freqs = _flagged_freqs(flagged, extras)
    elif len(pieces) == 1:
        df, base = int(dfs[0]), int(bases[0])
        values = decode_varints(data)
        docs = np.cumsum(values[:df]) + base
        freqs = values[df:2 * df] + 1
    else:
        # Piece k's values: its df doc gaps, then its df frequencies - 1.
        values = decode_varints(data)
        gaps_at = spans(2 * (np.cumsum(dfs) - dfs), dfs)
        docs = _runs_cumsum(values[gaps_at], np.concatenate(([0], np.cumsum(dfs)))) + np.repeat(bases, dfs)
        freqs = values[gaps_at + np.repeat(dfs, dfs)] + 1
    if not positions or not all(info.pos_nbytes for _, info, _ in pieces):
        return TermPostings(docs, freqs, None, None)
    starts = np.concatenate(([0], np.cumsum(freqs)))
    gaps = decode_varints(_joined([reader._post_bytes[info.postings_at + info.docs_nbytes:
                                                      info.postings_at + info.docs_nbytes + info.pos_nbytes]
                                   for reader, info, _ in pieces]))
    return TermPostings(docs, freqs, _runs_cumsum(gaps, starts), starts)


def _joined(regions: list[np.ndarray]) -> np.ndarray:
    return regions[0] if len(regions) == 1 else np.concatenate(regions)


# -- Whoosh's values: what its matchers give for a posting -------------------------


def whoosh_values(fmt: Format, read: TermPostings) -> list[bytes | None]:
    """The encoded values Whoosh's W3 matchers give for these postings (for Whoosh's own
    searcher and for merges): positions for a positional field, else the frequency."""
    if not encodes_fast(fmt):  # Existence (an ID field): W3 keeps no values
        return [None] * read.docs.size
    if read.positions is None or read.position_starts is None:
        return [encode_value(fmt, [0] * int(f)) for f in read.freqs.tolist()]
    flat = read.positions.tolist()
    bounds = read.position_starts.tolist()
    return [encode_value(fmt, flat[a:b]) for a, b in zip(bounds, bounds[1:])]


def encodes_fast(fmt: Format) -> bool:
    """Whether `encode_value` knows this posting format's value encoding."""
    return type(fmt) in (Frequency, Positions)


def encode_value(fmt: Format, positions: list[int]) -> bytes:
    """The value Whoosh's Frequency or Positions format stores for a term at these positions.

    Positions are Whoosh's (a count, then a pickled list of gaps that
    `Positions.decode_positions` unpickles), pickled by hand: without the
    protocol header and memo opcodes that `pickle.dumps` writes, a value is 9
    bytes instead of 13 for one position, and 2 bytes a gap instead of 2 plus 6.
    """
    if type(fmt) is Frequency:
        return _frequency(len(positions))
    if len(positions) == 1:
        return _one_position(positions[0])
    gaps = [b - a for a, b in pairwise(positions)]
    return pack_uint(len(positions)) + b"](" + b"".join(map(_pickled_int, [positions[0], *gaps])) + b"e."


@functools.cache
def _frequency(count: int) -> bytes:
    """The value of a Frequency posting, remembered: a segment holds millions, of a few counts."""
    return pack_uint(count)


@functools.cache
def _one_position(position: int) -> bytes:
    """The value of a term found once in a document (most terms), remembered."""
    return pack_uint(1) + b"]" + _pickled_int(position) + b"a."


@functools.cache
def _pickled_int(value: int) -> bytes:
    """A non-negative int as pickle's BININT1, BININT2 or BININT opcode."""
    if value < 0x100:
        return b"K" + bytes((value,))
    if value < 0x10000:
        return b"M" + value.to_bytes(2, "little")
    return b"J" + value.to_bytes(4, "little", signed=True)


class FS1Codec(W3Codec):
    """W3 for the per-document files; FS1 for the term dictionary and postings."""

    def field_writer(self, storage: Any, segment: Any) -> FS1FieldWriter:
        return FS1FieldWriter(storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> FS1TermsReader:
        return FS1TermsReader(storage, segment)
