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

from collections import defaultdict
from operator import itemgetter
from typing import Any

from finsearch.indexer import whoosh_format
from finsearch.indexer.whoosh_format import FieldWriter, Posting, SegmentWriterBase


def open_writer(ix: Any, locked: bool = True, **options: Any) -> SegmentWriterBase:
    """A BulkWriter, or Whoosh's own writer when the fast paths are off (whoosh_format.fast_paths)."""
    if whoosh_format.fast_paths():
        return BulkWriter(ix, locked, **options)
    return whoosh_format.StockSegmentWriter(ix, locked, **options)


class TermPool:
    """A segment's postings in memory, per field and term (a whoosh_format.PostingTable)."""

    def __init__(self) -> None:
        self._fields: defaultdict[str, defaultdict[bytes, list[Posting]]] = defaultdict(lambda: defaultdict(list))
        self.postings = 0
        self.merged = False  # postings from Whoosh's merges: their lengths are looked up when written

    def add_merged(self, fieldname: str, tbytes: bytes, docnum: int, weight: float, value: bytes) -> None:
        """A posting of a document merged in from another segment; its length is looked up later."""
        self._fields[fieldname][tbytes].append((docnum, weight, value, None))
        self.postings += 1
        self.merged = True

    def add_terms(self, fieldname: str, docnum: int, terms: list[tuple[bytes, float, bytes]], length: int) -> None:
        """All postings of one document's field: terms are (term bytes, weight, value)."""
        table = self._fields[fieldname]
        for tbytes, weight, vbytes in terms:
            table[tbytes].append((docnum, weight, vbytes, length))
        self.postings += len(terms)

    def write(self, schema: Any, fieldwriter: FieldWriter, lengths: Any) -> None:
        """Write every posting list in (field, term, docnum) order, as Whoosh's codec expects."""
        field_length = lengths.doc_field_length if lengths is not None else None
        for fieldname in sorted(self._fields):
            table = self._fields[fieldname]
            fieldwriter.start_field(fieldname, schema[fieldname])
            for tbytes in sorted(table):
                postings = table[tbytes]
                if field_length is not None:  # merged postings: in docnum order, lengths looked up
                    postings.sort(key=itemgetter(0))
                    postings = [(d, w, v, field_length(d, fieldname) if n is None else n) for d, w, v, n in postings]
                fieldwriter.start_term(tbytes)
                fieldwriter.add_postings_of_term(postings)
                fieldwriter.finish_term()
            fieldwriter.finish_field()

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
