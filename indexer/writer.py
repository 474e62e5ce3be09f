"""A Whoosh segment writer that pays less per posting.

Whoosh's own writer costs the most where an index of long Chinese posts has the
most: postings (about 1,200 per long post). Per posting it makes a token object,
a 5-tuple for a sorting pool that it sorts in full at the end, and a lookup of
the document's field length while writing. This writer keeps the postings of a
segment grouped by field and term as they arrive (they arrive in document
order, so only the terms need sorting), takes term positions from our
tokenizers' plain tables, and writes the field lengths it already knows. The
files are in Whoosh's own format (its W3 codec), which any Whoosh 2.7 reads;
what it takes of Whoosh's insides to write them is in `whoosh_format`, which
also decides whether this writer may be used (`open_writer`).
"""
from __future__ import annotations

from array import array
from collections import defaultdict
from typing import Any

import numpy as np

from finsearch.indexer import whoosh_format
from finsearch.indexer.whoosh_format import FieldWriter, SegmentWriterBase


def open_writer(ix: Any, locked: bool = True, **options: Any) -> SegmentWriterBase:
    """A BulkWriter, or Whoosh's own writer when the fast paths are off (whoosh_format.fast_paths)."""
    if whoosh_format.fast_paths():
        return BulkWriter(ix, locked, **options)
    return whoosh_format.StockSegmentWriter(ix, locked, **options)


class _FieldPostings:
    """One field's postings in arrival order, in flat arrays: about 24 bytes a posting
    (a tuple per posting took about 200, which bounded a worker's segments to 10,000 posts)."""

    __slots__ = ("numbers", "terms", "docs", "weights", "lengths", "values")

    def __init__(self) -> None:
        self.numbers: dict[bytes, int] = {}  # term bytes -> its number in `terms`
        self.terms = array("I")
        self.docs = array("I")
        self.weights = array("f")  # Whoosh's blocks keep weights as float32 too
        self.lengths = array("i")  # the field length in the posting; UNKNOWN_LENGTH: look it up
        self.values: list[bytes] = []

    def add(self, tbytes: bytes, docnum: int, weight: float, value: bytes, length: int) -> None:
        self.terms.append(self.numbers.setdefault(tbytes, len(self.numbers)))
        self.docs.append(docnum)
        self.weights.append(weight)
        self.lengths.append(length)
        self.values.append(value)


UNKNOWN_LENGTH = -1
# Postings turned into Python lists at a time when written (bounds the memory the write takes).
WRITE_CHUNK_POSTINGS = 1 << 16


class TermPool:
    """A segment's postings in memory, per field (a whoosh_format.PostingTable)."""

    def __init__(self) -> None:
        self._fields: defaultdict[str, _FieldPostings] = defaultdict(_FieldPostings)
        self.postings = 0
        self.merged = False  # postings from Whoosh's merges: their lengths are looked up when written

    def add_merged(self, fieldname: str, tbytes: bytes, docnum: int, weight: float, value: bytes) -> None:
        """A posting of a document merged in from another segment; its length is looked up later."""
        self._fields[fieldname].add(tbytes, docnum, weight, value, UNKNOWN_LENGTH)
        self.postings += 1
        self.merged = True

    def add_terms(self, fieldname: str, docnum: int, terms: list[tuple[bytes, float, bytes]], length: int) -> None:
        """All postings of one document's field: terms are (term bytes, weight, value)."""
        add = self._fields[fieldname].add
        for tbytes, weight, vbytes in terms:
            add(tbytes, docnum, weight, vbytes, length)
        self.postings += len(terms)

    def write(self, schema: Any, fieldwriter: FieldWriter, lengths: Any) -> None:
        """Write every posting list in (field, term, docnum) order, as Whoosh's codec expects."""
        for fieldname in sorted(self._fields):
            fieldwriter.start_field(fieldname, schema[fieldname])
            self._write_field(fieldname, self._fields[fieldname], fieldwriter, lengths)
            fieldwriter.finish_field()

    @staticmethod
    def _write_field(fieldname: str, field: _FieldPostings, fieldwriter: FieldWriter, lengths: Any) -> None:
        terms = sorted(field.numbers)
        rank = np.empty(len(terms), dtype=np.int64)
        rank[[field.numbers[t] for t in terms]] = np.arange(len(terms))
        ranks = rank[np.frombuffer(field.terms, dtype=np.uint32)]
        docs = np.frombuffer(field.docs, dtype=np.uint32)
        order = np.lexsort((docs, ranks))  # merged postings may come out of docnum order
        starts = np.searchsorted(ranks[order], np.arange(len(terms) + 1))
        weights = np.frombuffer(field.weights, dtype=np.float32)
        field_lengths = np.frombuffer(field.lengths, dtype=np.int32)
        first = 0
        while first < len(terms):
            # The terms of one chunk, as Python lists: at least one term, about WRITE_CHUNK_POSTINGS postings.
            last = max(first + 1, int(np.searchsorted(starts, starts[first] + WRITE_CHUNK_POSTINGS, "right")) - 1)
            rows = order[starts[first]:starts[last]]
            ids = docs[rows].tolist()
            chunk_lengths = field_lengths[rows].tolist()
            if lengths is not None:
                chunk_lengths = [lengths.doc_field_length(d, fieldname) if n == UNKNOWN_LENGTH else n
                                 for d, n in zip(ids, chunk_lengths)]
            chunk = (ids, weights[rows].tolist(), [field.values[row] for row in rows.tolist()], chunk_lengths)
            base = starts[first]
            for number in range(first, last):
                a, b = starts[number] - base, starts[number + 1] - base
                fieldwriter.add_term(terms[number], *(column[a:b] for column in chunk))
            first = last

    def clear(self) -> None:
        self._fields.clear()
        self.postings = 0
        self.merged = False


def index_terms(field: Any, value: Any) -> tuple[list[tuple[bytes, float, bytes]], int]:
    """What Whoosh's `field.index(value)` gives, as (term bytes, weight, value) and the field length.

    Our tokenizers hand over a term -> positions table directly (for the formats
    whoosh_format can encode); everything else goes through Whoosh's own chain.
    """
    term_positions = getattr(field.analyzer, "term_positions", None)
    fmt = field.format
    if term_positions is None or not isinstance(value, str) or not whoosh_format.encodes_fast(fmt):
        items = list(field.index(value))
        length = sum(freq for _, freq, _, _ in items) if field.scorable else 0
        return [(tbytes, weight, vbytes) for tbytes, _, weight, vbytes in items], length
    boost = fmt.field_boost
    encode = whoosh_format.encode_value
    terms = []
    length = 0
    for text, positions in term_positions(value).items():
        freq = len(positions)
        length += freq
        terms.append((text.encode("utf-8"), freq * boost, encode(fmt, positions)))
    return terms, (length if field.scorable else 0)


class BulkWriter(whoosh_format.FastSegmentWriter):
    """Whoosh's SegmentWriter with a TermPool; deletes, merges and commits are Whoosh's."""

    table: TermPool

    def __init__(self, ix: Any, locked: bool = True, **options: Any):
        super().__init__(ix, TermPool(), locked, **options)

    def add_document(self, **fields: Any) -> None:
        """Add one document: plain field values (no boosts, no `_stored_` variants)."""
        docnum = self.start_document()
        perdoc = self.perdocwriter
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = self.schema[fieldname]
            length = 0
            if field.indexed:
                terms, length = index_terms(field, value)
                # Postings carry the length as Whoosh stores it, rounded to one byte.
                self.table.add_terms(fieldname, docnum, terms, whoosh_format.stored_length(length))
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        self.finish_document()
