"""Whoosh's posting lists and field lengths, read as numpy arrays.

Whoosh's matchers walk postings one document at a time in Python, which is
where a query's time went. Here a term's postings come out whole, as arrays:
an FS1 segment's (storage/fs1.py) decoded with numpy in one go, positions
as one flat array; a W3 segment's (an index from before FS1, or written by the
fallback writer) block by block, blocks holding none of the documents asked
about not decoded at all.

Reading W3 files directly is the business of `storage/whoosh_format.py` (the
one module that knows Whoosh's file format); a W3 segment it has not verified,
or every W3 segment when its fast paths are off, is read here through
Whoosh's public matchers instead, into the same arrays.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound

from finsearch.storage import whoosh_format
from finsearch.storage.fs1 import segments_postings, spans


@dataclass(frozen=True)
class Postings:
    """One term's postings in the whole index (every segment); deleted documents may be
    included (the fast reader keeps them), so callers keep only the live ones."""

    # int64 and float64 as read; int32 and float32 where they hold the values in a `compact` list
    docs: np.ndarray  # docnums, ascending
    weights: np.ndarray  # term frequency × field boost
    positions: np.ndarray | None = None  # flat, if read with positions: see `position_starts`
    position_starts: np.ndarray | None = None  # len(docs) + 1: row i's are positions[s[i]:s[i + 1]]

    def rows(self, rows: np.ndarray) -> Postings:
        """The postings at these rows (ascending), positions too."""
        if rows.size == self.docs.size:
            return self
        if self.positions is None or self.position_starts is None:
            return Postings(self.docs[rows], self.weights[rows])
        firsts, counts = self.position_starts[rows], np.diff(self.position_starts)[rows]
        return Postings(self.docs[rows], self.weights[rows], self.positions[spans(firsts, counts)],
                        np.concatenate(([0], np.cumsum(counts))))

    def compact(self) -> Postings:
        """The same postings in the narrowest dtypes that hold them exactly (int32 docnums and
        positions, float32 weights): a list kept for later searches in about half the memory."""
        return Postings(_narrowed(self.docs, np.int32), _narrowed(self.weights, np.float32),
                        None if self.positions is None else _narrowed(self.positions, np.int32),
                        None if self.position_starts is None else _narrowed(self.position_starts, np.int32))

    def widened(self, positions: bool) -> Postings:
        """A `compact` list as searches read it: int64 docnums (a copy: their arithmetic needs
        them), the weights as kept (scoring reads them as float64), the positions only if asked
        for, as kept (a phrase's arithmetic on them stays within int32)."""
        if not positions or self.positions is None:
            return Postings(self.docs.astype(np.int64), self.weights)
        return Postings(self.docs.astype(np.int64), self.weights, self.positions, self.position_starts)

    def position_rows(self) -> np.ndarray:
        """The row of each position."""
        assert self.position_starts is not None, "postings read without positions"
        return np.repeat(np.arange(self.docs.size), np.diff(self.position_starts))


def _narrowed(values: np.ndarray, dtype: type) -> np.ndarray:
    """`values` as `dtype` if that holds every one exactly, else as they are."""
    narrow: np.ndarray = values.astype(dtype)
    return narrow if np.array_equal(narrow, values) else values


EMPTY = Postings(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64))


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
    """The postings of a term, with their positions if asked (a positional field).

    With `within` (sorted docnums): at least the postings of these documents; the
    segments holding none of them are not read, and a W3 segment's blocks holding
    none of them are not decoded.
    """
    parts: list[Postings] = []
    fs1_run: list = []  # consecutive FS1 segments of one kind (frequencies flagged or not): decoded together

    def decode_run() -> None:
        if fs1_run:
            read = segments_postings(fs1_run, positions)
            parts.append(Postings(read.docs, read.freqs * fs1_run[0][0].boost(term.field), read.positions,
                                  read.position_starts))
            fs1_run.clear()

    for segment, base, info in term.segments:
        wanted = None
        if within is not None:
            low, high = np.searchsorted(within, (base, base + segment.doc_count_all()))
            if low == high:
                continue
            wanted = within[low:high] - base
        fs1 = whoosh_format.fs1_terms(segment)
        if fs1 is not None:
            if fs1_run and fs1_run[0][0].freq_flags != fs1.freq_flags:
                decode_run()
            fs1_run.append((fs1, info, base))
            continue
        decode_run()
        fmt = segment.schema[term.field].format
        if whoosh_format.fast_reading(segment):
            docs, weights, values = whoosh_format.segment_postings(segment, info, positions, _listed(wanted))
        else:
            docs, weights, values = _stock_read(segment, term, _listed(wanted), positions)
        parts.append(_from_lists(docs, base, weights, values if positions else None, fmt))
    decode_run()
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    joined_positions = joined_starts = None
    if positions:
        joined_positions = np.concatenate([part.positions for part in parts if part.positions is not None])
        counts = np.concatenate([np.diff(part.position_starts) for part in parts if part.position_starts is not None])
        joined_starts = np.concatenate(([0], np.cumsum(counts)))
    return Postings(np.concatenate([part.docs for part in parts]), np.concatenate([part.weights for part in parts]),
                    joined_positions, joined_starts)


def field_terms(reader: Any, field: str) -> Iterator[tuple[list[bytes], np.ndarray]]:
    """Each segment's terms of `field`, in byte order, with their document counts (deleted
    documents included): an FS1 segment's in one pass over its term dictionary."""
    for segment, _ in whoosh_format.leaf_readers(reader):
        fs1 = whoosh_format.fs1_terms(segment)
        if fs1 is not None:
            yield fs1.doc_frequencies(field)
        elif field in segment.indexed_field_names():
            items = [(tbytes, info.doc_frequency()) for tbytes, info in segment.iter_field(field)]
            yield [tbytes for tbytes, _ in items], np.array([df for _, df in items], dtype=np.int64)


def doc_frequencies(reader: Any, field: str, terms: list[bytes]) -> np.ndarray:
    """The document count of each of `terms` (sorted bytes) in `field`, in all segments."""
    counts = np.zeros(len(terms), dtype=np.int64)
    if not terms:
        return counts
    wanted = np.array(terms, dtype=np.bytes_)  # no term holds a NUL, which bytes_ would strip
    for keys, dfs in field_terms(reader, field):
        if not keys:
            continue
        held = np.array(keys, dtype=np.bytes_)
        rows = np.searchsorted(held, wanted).clip(max=len(keys) - 1)
        present = held[rows] == wanted
        counts[present] += dfs[rows[present]]
    return counts


def _listed(docs: np.ndarray | None) -> list[int] | None:
    return None if docs is None else docs.tolist()


def _from_lists(docs: list[int], base: int, weights: list[float], values: list | None, fmt: Any) -> Postings:
    """Postings from a W3 segment's lists (values: each posting's encoded positions)."""
    if values is None:
        return Postings(np.array(docs, dtype=np.int64) + base, np.array(weights, dtype=np.float64))
    decoded = [list(fmt.decode_positions(whoosh_format.encoded_value(value))) for value in values]
    counts = np.array([len(p) for p in decoded], dtype=np.int64)
    return Postings(np.array(docs, dtype=np.int64) + base, np.array(weights, dtype=np.float64),
                    np.array([p for ps in decoded for p in ps], dtype=np.int64),
                    np.concatenate(([0], np.cumsum(counts))))


def _stock_read(segment: Any, term: TermEntry, wanted: list[int] | None,
                positions: bool) -> tuple[list[int], list[float], list]:
    """Whoosh's own matcher over one segment (live documents only): the docnums in the
    segment of the postings of `wanted` (None: all), their weights and values if asked."""
    docs: list[int] = []
    weights: list[float] = []
    values: list = []
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
        if positions:
            values.append(matcher.value())
        matcher.next()
    return docs, weights, values


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
