"""A Whoosh segment writer that pays less per posting.

Whoosh's own writer costs the most where an index of long Chinese posts has the
most: postings (about 1,200 per long post). Per posting it makes a token object,
a 5-tuple for a sorting pool that it sorts in full at the end, and a lookup of
the document's field length while writing. This writer keeps the postings of a
segment grouped by field and term as they arrive (they arrive in document
order, so only the terms need sorting), takes term positions from our
tokenizers' plain tables, and writes the field lengths it already knows. The
files are in Whoosh's own format (its W3 codec), which any Whoosh 2.7 reads.
"""
from __future__ import annotations

from array import array
from collections import defaultdict
from operator import itemgetter

from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PostingsWriter
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

# Whoosh zlib-compresses every block of postings, even a one-posting block of a
# rare term (most terms are rare), though zlib costs about 8 µs a call and saves
# nothing on a few bytes. Blocks this short are written plain; the reader reads
# each block's compression flag, so the files stay Whoosh's.
COMPRESS_MIN_POSTINGS = 8
# A term found in one document only (most terms) keeps its posting in the term
# table itself (Whoosh's inlining), not as a block of its own in the postings file.
INLINE_BELOW = 2
# Postings per block (Whoosh: 128). A search reads only the blocks that hold the
# documents it still considers (search/postings.py): smaller blocks, less to decode.
BLOCK_POSTINGS = 64

# Postings are (docnum, weight, encoded value, field length or None).
Posting = tuple[int, float, bytes, "int | None"]


class TermPool:
    """A segment's postings in memory, per field and term.

    Stands in for Whoosh's PostingPool (the `pool` of a SegmentWriter), so
    Whoosh's merges (add_reader) fill it too.
    """

    def __init__(self):
        self._fields: defaultdict[str, defaultdict[bytes, list[Posting]]] = defaultdict(lambda: defaultdict(list))
        self.postings = 0
        self.merged = False  # postings from Whoosh's add_reader: their lengths are looked up when written

    @property
    def fieldnames(self) -> set[str]:
        return set(self._fields)

    def add(self, item) -> None:
        """Whoosh's pool interface: (fieldname, term bytes, docnum, weight, value); length looked up later."""
        fieldname, tbytes, docnum, weight, vbytes = item
        if docnum == -1:  # Whoosh's marker for spelling words: we keep no spelling graph
            return
        self._fields[fieldname][tbytes].append((docnum, weight, vbytes, None))
        self.postings += 1
        self.merged = True

    def add_terms(self, fieldname: str, docnum: int, terms, length: int) -> None:
        """All postings of one document's field: terms are (term bytes, weight, value)."""
        table = self._fields[fieldname]
        for tbytes, weight, vbytes in terms:
            table[tbytes].append((docnum, weight, vbytes, length))
        self.postings += len(terms)

    def write(self, schema, fieldwriter, lengths) -> None:
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

    def cleanup(self) -> None:
        self._fields.clear()
        self.postings = 0
        self.merged = False


def index_terms(field, value) -> tuple[list[tuple[bytes, float, bytes]], int]:
    """What Whoosh's `field.index(value)` gives, as (term bytes, weight, value) and the field length.

    Our tokenizers hand over a term -> positions table directly (for Whoosh's
    Frequency and Positions formats); everything else goes through Whoosh's own chain.
    """
    term_positions = getattr(field.analyzer, "term_positions", None)
    fmt = field.format
    if term_positions is None or not isinstance(value, str) or type(fmt) not in (Frequency, Positions):
        items = list(field.index(value))
        length = sum(freq for _, freq, _, _ in items) if field.scorable else 0
        return [(tbytes, weight, vbytes) for tbytes, _, weight, vbytes in items], length
    boost = fmt.field_boost
    with_positions = type(fmt) is Positions
    terms = []
    length = 0
    for text, positions in term_positions(value).items():
        freq = len(positions)
        length += freq
        if not with_positions:
            vbytes = pack_uint(freq)
        elif freq == 1:
            vbytes = _one_position(positions[0])
        else:
            vbytes = fmt.encode(positions)
        terms.append((text.encode("utf-8"), freq * boost, vbytes))
    return terms, (length if field.scorable else 0)


_ONE_POSITION: dict[int, bytes] = {}


def _one_position(position: int) -> bytes:
    """Positions.encode([position]), remembered: most terms occur once in a document."""
    encoded = _ONE_POSITION.get(position)
    if encoded is None:
        encoded = _ONE_POSITION[position] = Positions().encode([position])
    return encoded


class _PostingsWriter(W3PostingsWriter):
    def add_all(self, postings: list[Posting]) -> None:
        """Whoosh's add_posting for a whole posting list: fills each block in one go."""
        limit = self._blocklimit
        for start in range(0, len(postings), limit):
            if self._ids:
                self._write_block()
            ids, weights, values, lengths = zip(*postings[start:start + limit])
            self._ids = array("I", ids)
            self._weights = array("f", weights)
            self._values = [value for value in values if value]  # as add_posting: empty values are not kept
            self._maxweight = max(weights)
            known = [length for length in lengths if length]
            self._minlength = min(known) if known else None
            self._maxlength = max(known) if known else 0

    def finish_postings(self):
        # Whoosh's inlining of short posting lists calls a misspelt method (set_inline).
        if not self.written() and len(self._ids) < self._inlinelimit:
            terminfo, self._terminfo = self._terminfo, None
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            return terminfo
        return super().finish_postings()

    def _write_block(self, last=False):
        if len(self._ids) >= COMPRESS_MIN_POSTINGS:
            return super()._write_block(last)
        compression, self._compression = self._compression, 0
        try:
            return super()._write_block(last)
        finally:
            self._compression = compression


class _FieldWriter(W3FieldWriter):
    def add_postings_of_term(self, postings: list[Posting]) -> None:
        self._postwriter.add_all(postings)


class _Codec(W3Codec):
    def field_writer(self, storage, segment):
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)

    def __reduce__(self):
        # The table of contents stores each segment's codec: store Whoosh's, so
        # reading an index never needs this module.
        return W3Codec, (self._blocklimit, self._compression, self._inlinelimit)


class BulkWriter(SegmentWriter):
    """Whoosh's SegmentWriter with a TermPool; deletes, merges and commits are Whoosh's."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, codec=_Codec(blocklimit=BLOCK_POSTINGS, inlinelimit=INLINE_BELOW), **kwargs)
        self.pool = TermPool()

    def add_document(self, **fields) -> None:
        """Add one document: plain field values (no boosts, no `_stored_` variants)."""
        self._check_state()
        docnum = self.docnum
        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = self.schema[fieldname]
            length = 0
            if field.indexed:
                terms, length = index_terms(field, value)
                # Whoosh stores a length as one byte; postings carry the rounded length back.
                self.pool.add_terms(fieldname, docnum, terms, byte_to_length(length_to_byte(length)))
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        # Whoosh's version writes through fieldwriter.add_postings, which looks
        # up every posting's field length in the per-document files.
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.pool.merged else None
        self.pool.write(self.schema, self.fieldwriter, lengths)
        self.fieldwriter.close()
        if lengths is not None:
            lengths.close()

    def finish_segment(self):
        """For a worker process: write this writer's segment and return it, without committing.

        The parent adds the segments of all workers to the index in one commit,
        as Whoosh's own multiprocessing writer does.
        """
        return self._finalize_segment()
