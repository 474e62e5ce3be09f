"""A Whoosh segment writer that pays less per posting.

Whoosh's own writer costs the most where an index of long Chinese posts has the
most: postings (about 1,200 per long post). Per posting it makes a token object,
a 5-tuple for a sorting pool that it sorts in full at the end, and a lookup of
the document's field length while writing. This writer keeps the postings of a
segment in flat arrays per field as they arrive (a term number, a docnum, a
frequency and the positions of each), takes our tokenizers' token lists and
groups a document's tokens into postings with numpy (no Python step per
posting), sorts each field once with numpy and hands it whole to the FS1
codec (`storage/fs1.py`), which writes it in bulk. Per-document files,
deletes, merges and commits are Whoosh's; `whoosh_format` decides whether this
writer may be used (`open_writer`).
"""
from __future__ import annotations

import itertools
from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

import numpy as np

from finsearch.analysis import fold, native
from finsearch.analysis.tokenizers import GramTokenizer, JiebaTokenizer, Terms
from finsearch.storage import whoosh_format
from finsearch.storage.fs1 import FieldPostings, FS1FieldWriter, spans
from finsearch.storage.schema import PATH
from finsearch.storage.whoosh_format import SegmentWriterBase


def open_writer(ix: Any, locked: bool = True, **options: Any) -> SegmentWriterBase:
    """A BulkWriter, or Whoosh's own writer when the fast paths are off (whoosh_format.fast_paths)."""
    if whoosh_format.fast_paths():
        return BulkWriter(ix, locked, **options)
    return whoosh_format.StockSegmentWriter(ix, locked, **options)


def delete_paths(writer: SegmentWriterBase, paths: Collection[str]) -> int:
    """Delete the live documents of these post files from the segments the writer opened with
    (not the documents it adds); how many. The path is a column, not a term (a term per post cost
    more bytes than anything it would find): the writer's own reader reads the column once, so
    docnums are the writer's."""
    wanted = {path.encode("utf-8") for path in paths}
    if not wanted:
        return 0
    with writer.reader() as reader:
        live = whoosh_format.reader_live_docs(reader)
        values = whoosh_format.bytes_column(reader, PATH)[live]
    doomed = live[np.isin(values, np.array(sorted(wanted), dtype=np.bytes_))]
    for docnum in doomed.tolist():
        writer.delete_document(docnum)
    return int(doomed.size)


GATHER_ROWS = 1 << 19  # postings whose positions are put in (term, docnum) order at once


class _FieldPostings:
    """One field's postings in arrival order, in flat arrays: a term number, a docnum and a
    frequency a posting, and its positions (a positional field) in one array."""

    __slots__ = ("numbers", "terms", "docs", "freqs", "positions")

    def __init__(self) -> None:
        # term bytes -> its number in `terms`: a new term gets the next number
        self.numbers: defaultdict[bytes, int] = defaultdict(itertools.count().__next__)
        self.terms = array("I")
        self.docs = array("I")
        self.freqs = array("I")
        self.positions = array("I")

    def add(self, tbytes: bytes, docnum: int, freq: int, positions: Sequence[int] | None) -> None:
        self.terms.append(self.numbers[tbytes])
        self.docs.append(docnum)
        self.freqs.append(freq)
        if positions is not None:
            self.positions.extend(positions)

    def add_tokens(self, docnum: int, texts: list[str], positions: Sequence[int] | None) -> int:
        """A document's tokens (with their positions, a positional field), any order; returns
        how many postings they make. Grouped with numpy: no Python step per posting."""
        count = len(texts)
        if not count:
            return 0
        compiled = native.compiled()  # a build's, checked against the numpy form below (grouping_disagreement)
        if compiled is not None:
            if positions is not None and not isinstance(positions, list):
                positions = list(positions)  # the compiled loop reads a list
            terms, freqs, ordered, postings = compiled.group(self.numbers, texts, positions)
            self.terms.frombytes(terms)
            self.freqs.frombytes(freqs)
            self.docs.extend(array("I", (docnum,)) * postings)
            if ordered is not None:
                self.positions.frombytes(ordered)
            return postings
        numbers = np.fromiter(map(self.numbers.__getitem__, map(str.encode, texts)), dtype=np.int64, count=count)
        if positions is None:
            numbers.sort()
        else:
            keys = numbers << 32 | np.array(positions, dtype=np.int64)  # a term's positions ascending
            keys.sort()
            numbers = keys >> 32
            self.positions.frombytes(keys.astype(np.uint32).tobytes())  # the low half: the position
        # Where each term's run of tokens starts, and the end: a posting a run.
        bounds = np.flatnonzero(np.concatenate(([True], numbers[1:] != numbers[:-1], [True])))
        self.terms.frombytes(numbers[bounds[:-1]].astype(np.uint32).tobytes())
        self.freqs.frombytes((bounds[1:] - bounds[:-1]).astype(np.uint32).tobytes())
        self.docs.frombytes(np.full(bounds.size - 1, docnum, dtype=np.uint32).tobytes())
        return bounds.size - 1

    def state(self) -> tuple[dict[bytes, int], bytes, bytes, bytes, bytes]:
        """Everything added so far, for comparing two ways of adding it."""
        return (dict(self.numbers), self.terms.tobytes(), self.docs.tobytes(), self.freqs.tobytes(),
                self.positions.tobytes())

    def sorted(self, positional: bool) -> FieldPostings:
        """The postings in (term, docnum) order, as the codec writes them."""
        terms = sorted(self.numbers)
        rank = np.empty(len(terms), dtype=np.int64)
        rank[[self.numbers[t] for t in terms]] = np.arange(len(terms))
        ranks = rank[np.frombuffer(self.terms, dtype=np.uint32)]
        docs = np.frombuffer(self.docs, dtype=np.uint32)
        order = np.lexsort((docs, ranks))  # merged postings may come out of docnum order
        freqs = np.frombuffer(self.freqs, dtype=np.uint32).astype(np.int64)
        positions = None
        if positional:
            firsts = np.cumsum(freqs) - freqs
            counts = freqs[order]
            placed = np.concatenate(([0], np.cumsum(counts)))
            source = np.frombuffer(self.positions, dtype=np.uint32)
            positions = np.empty(int(placed[-1]), dtype=np.uint32)
            # A run of postings at a time: the gather's int64 indexes are 4 times the positions they move.
            for row in range(0, order.size, GATHER_ROWS):
                end = min(row + GATHER_ROWS, order.size)
                positions[placed[row]:placed[end]] = source[spans(firsts[order[row:end]], counts[row:end])]
        return FieldPostings(terms, np.searchsorted(ranks[order], np.arange(len(terms) + 1)),
                             docs[order], freqs[order], positions)


def grouping_disagreement(texts: list[str], candidate: Any) -> str | None:
    """Where the candidate's grouping of the words and bigrams of `texts` into postings (with and
    without positions) differs from add_tokens' numpy form, or None (analysis.native's fence)."""
    analysers = (JiebaTokenizer(), GramTokenizer())
    reference, checked = _FieldPostings(), _FieldPostings()
    for docnum, text in enumerate(texts):
        folded = fold(text)
        for terms in (analyser.analyse(folded) for analyser in analysers):
            for positions in (terms.positions, None):
                with native.using(None):
                    reference.add_tokens(docnum, terms.texts, positions)
                with native.using(candidate):
                    checked.add_tokens(docnum, terms.texts, positions)
    return None if checked.state() == reference.state() else "the postings of the sample texts"


class _FieldPlan(NamedTuple):
    """How a field's values become postings, looked up once, not once a value."""

    field: Any
    analyse: Callable[[str], Terms] | None  # our tokenizers' list form; None: Whoosh's chain
    positional: bool


class TermPool:
    """A segment's postings in memory, per field (a whoosh_format.PostingTable)."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema
        self._fields: defaultdict[str, _FieldPostings] = defaultdict(_FieldPostings)
        self._plans: dict[str, _FieldPlan] = {}
        self.postings = 0

    def add_merged(self, fieldname: str, tbytes: bytes, docnum: int, weight: float, value: bytes) -> None:
        """A posting of a document merged in from another segment, as Whoosh's matchers give it."""
        field, _, positional = self._plan(fieldname)
        fmt = field.format
        if positional:
            positions = list(fmt.decode_positions(value))
            self._fields[fieldname].add(tbytes, docnum, len(positions), positions)
        else:
            self._fields[fieldname].add(tbytes, docnum, fmt.decode_frequency(value) if value else 1, None)
        self.postings += 1

    def add_segment(self, fields: dict[str, FieldPostings], new_docnums: np.ndarray) -> None:
        """Every posting of a segment being merged, by field: its docnum d becomes
        new_docnums[d], and where that is -1 (a deleted document) the posting is dropped."""
        for fieldname, merged in fields.items():
            dfs = np.diff(merged.starts)
            docs = new_docnums[merged.docs]
            keep = docs >= 0
            kept = np.add.reduceat(keep, merged.starts[:-1]) if keep.size else np.zeros(0, dtype=np.int64)
            target = self._fields[fieldname]
            numbers = np.zeros(dfs.size, dtype=np.uint32)  # a term without a kept posting gets none
            for row in np.flatnonzero(kept).tolist():
                numbers[row] = target.numbers[merged.terms[row]]
            target.terms.frombytes(np.repeat(numbers, dfs)[keep].tobytes())
            target.docs.frombytes(docs[keep].astype(np.uint32).tobytes())
            target.freqs.frombytes(merged.freqs[keep].astype(np.uint32).tobytes())
            if merged.positions is not None and self._plan(fieldname).positional:
                target.positions.frombytes(merged.positions[np.repeat(keep, merged.freqs)].astype(np.uint32).tobytes())
            self.postings += int(keep.sum())

    def add_value(self, fieldname: str, docnum: int, value: Any) -> int:
        """Index one document's value of a field; returns the field's length (0 if not scorable).

        Our tokenizers hand over their token lists (`analyse`); everything else goes through
        Whoosh's own chain (`field.index`).
        """
        field, analyse, positional = self._plan(fieldname)
        postings = self._fields[fieldname]
        if analyse is not None and isinstance(value, str):
            texts, positions, _, _ = analyse(fold(value))
            self.postings += postings.add_tokens(docnum, texts, positions if positional else None)
            return len(texts) if field.scorable else 0
        length = 0
        for tbytes, freq, _, vbytes in field.index(value):
            postings.add(tbytes, docnum, freq, list(field.format.decode_positions(vbytes)) if positional else None)
            length += freq
            self.postings += 1
        return length if field.scorable else 0

    def _plan(self, fieldname: str) -> _FieldPlan:
        plan = self._plans.get(fieldname)
        if plan is None:
            field = self._schema[fieldname]
            plan = self._plans[fieldname] = _FieldPlan(field, getattr(field.analyzer, "analyse", None),
                                                       is_positional(field.format))
        return plan

    def field_postings(self, fieldname: str) -> FieldPostings:
        """A field's postings so far, sorted as the codec writes them."""
        return self._fields[fieldname].sorted(self._plan(fieldname).positional)

    def write(self, schema: Any, fieldwriter: FS1FieldWriter) -> None:
        """Write every field's postings."""
        for fieldname in sorted(self._fields):
            fieldwriter.add_field(fieldname, schema[fieldname], self.field_postings(fieldname))

    def clear(self) -> None:
        self._fields.clear()
        self.postings = 0


def is_positional(fmt: Any) -> bool:
    return bool(fmt.supports("positions"))


class BulkWriter(whoosh_format.FastSegmentWriter):
    """Whoosh's SegmentWriter with a TermPool; deletes, merges and commits are Whoosh's."""

    table: TermPool

    def __init__(self, ix: Any, locked: bool = True, **options: Any):
        super().__init__(ix, TermPool(ix.schema), locked, **options)

    def add_document(self, **fields: Any) -> None:
        """Add one document: plain field values (no boosts, no `_stored_` variants)."""
        docnum = self.start_document()
        perdoc = self.perdocwriter
        for fieldname in sorted(fields):
            value = fields[fieldname]
            if value is None:
                continue
            field = self.schema[fieldname]
            length = self.table.add_value(fieldname, docnum, value) if field.indexed else 0
            perdoc.add_field(fieldname, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(fieldname, field.column_type, field.to_column_value(value))
        self.finish_document()
