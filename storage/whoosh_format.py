"""Everything finsearch knows about Whoosh's insides, in one place: the fence.

The fast writer (`storage/writer.py`) and the fast postings reader
(`storage/postings.py`) go past Whoosh's public API: the writer drives private
names of Whoosh's SegmentWriter to hand whole fields to our FS1 codec
(`storage/fs1.py`, our own file format, read through Whoosh's public codec
interfaces); the reader reaches a segment reader's FS1 terms (`fs1_terms`), and
reads W3 files directly (posting blocks and term infos of indexes written
before FS1 or by the fallback writer, the one-byte field lengths), and reads
columns in one read a segment (`fixed_column_bytes` and `bytes_column` for the
nightly reindex, `numeric_column` and `bytes_column` for the search's
per-document table), each checked against Whoosh's reader on a few values.
This module holds all of that, and nothing else in the project may:

- the **version gate**: the fast paths were verified against exactly the
  whoosh-reloaded versions in `VERIFIED_VERSIONS`; with any other version, or
  with `FINSEARCH_WHOOSH_FAST=0` in the environment, they are off;
- a **self-check when an index is opened** (`verify_reader`): for each W3
  segment, the fast reader must give exactly what Whoosh's own
  `reader.postings()` gives (docnums, weights, encoded and decoded positions)
  for the first terms of every field and one term of several blocks; for every
  segment, the field lengths Whoosh gives; cached per segment, so a new index
  generation checks only its new segments;
- the **fallback**: when the gate or the check fails, `fast_paths()` /
  `fast_reading()` say no, the reader takes Whoosh's public matchers and the
  build takes Whoosh's own `SegmentWriter` (`StockSegmentWriter`); slower,
  never wrong. One warning is logged per process.

Everything here was read off whoosh-reloaded 2.7.5 (`whoosh/codec/whoosh3.py`,
`whoosh/writing.py`): check those files again before adding a version.
"""
from __future__ import annotations

import bisect
import functools
import importlib.metadata
import io
import itertools
import logging
import os
import pickle
import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3TermInfo,
)
from whoosh.columns import FixedBytesColumn, NumericColumn, VarBytesColumn
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Format
from whoosh.index import TOC, FileIndex
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from finsearch.storage.fs1 import FieldPostings, FS1FieldWriter, FS1TermsReader, spans
from finsearch.storage.stored import FS4Codec, W3BlockStoredCodec

log = logging.getLogger(__name__)

# -- the gate -----------------------------------------------------------------

# The whoosh-reloaded versions whose W3 files and private names this module was checked against.
VERIFIED_VERSIONS: tuple[str, ...] = ("2.7.5",)
# FINSEARCH_WHOOSH_FAST=0 turns the fast paths off (e.g. to run the tests on Whoosh's own code).
FAST_ENV = "FINSEARCH_WHOOSH_FAST"
WHOOSH_DISTRIBUTION = "whoosh-reloaded"


def installed_whoosh() -> str | None:
    try:
        return importlib.metadata.version(WHOOSH_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def fast_paths() -> bool:
    """Whether the fast writer and reader may be used at all (the gate); warns once if not."""
    if os.environ.get(FAST_ENV, "1").strip() == "0":
        reason = f"{FAST_ENV}=0"
    else:
        version = installed_whoosh()
        if version in VERIFIED_VERSIONS:
            return True
        reason = f"{WHOOSH_DISTRIBUTION} {version} is not one of the verified versions {', '.join(VERIFIED_VERSIONS)}"
    log.warning("Whoosh fast paths off (%s): indexing and reading postings through Whoosh's own code, "
                "which is slower", reason)
    return False


def clear_cache() -> None:
    """Forget the gate's answer and every segment's self-check (after the environment changed)."""
    fast_paths.cache_clear()
    with _verdicts_lock:
        _verdicts.clear()
    global _check_failure_logged
    _check_failure_logged = False


# -- reading: the W3 posting blocks -------------------------------------------

# Pickle protocol 2 rebuilds each bytes value (a posting's encoded positions) by
# calling _codecs.encode(text, "latin1"): half of a block's unpickling time. The
# call is replaced by operator.add(text, "latin1"), which keeps the text (plus
# that suffix) as a plain str, one the garbage collector doesn't track, and only
# the few values a phrase check reads are encoded (`encoded_value`). The GLOBAL
# opcode comes before any value, so its first occurrence is the opcode.
_BYTES_FROM_TEXT = b"c_codecs\nencode\n"
_KEEP_TEXT = b"c_operator\nadd\n"
_KEPT_SUFFIX = len("latin1")
_BLOCK_SIZE = struct.Struct("!i")
# Decoded field length of each length byte, as Whoosh's scorers see it.
LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)

# A block, decoded: docnum deltas from 0, weights, values (each value bytes, or a kept str).
Block = tuple[Sequence[int], Sequence[float], Sequence[Any]]


def encoded_value(value: bytes | str) -> bytes:
    """A posting's encoded value as Whoosh stores it (for the format's decode_positions)."""
    return value[:-_KEPT_SUFFIX].encode("latin-1") if isinstance(value, str) else value


def segment_blocks(segment: Any, info: Any) -> Iterator[tuple[int, Callable[[], Block]]]:
    """(last docnum, decode) for each block of a term's postings in one segment reader.

    Whoosh's W3 postings format, as W3LeafMatcher reads it: a magic number, then
    blocks of (int length, negative for the last block; pickled block info;
    pickled, maybe compressed, data: docnum deltas, weights minified to None/one
    float/a tuple, values). A posting list short enough to be inlined (our writer
    inlines one-document terms) sits in the term info as (docnums, weights, values).
    """
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        deltas = [ids[0]] + [b - a for a, b in pairwise(ids)]
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


def _decode_block(data: bytes, start: int, end: int, compression: int) -> Block:
    block = data[start:end]
    if compression:
        block = zlib.decompress(block)
    deltas, weights, values = pickle.loads(block.replace(_BYTES_FROM_TEXT, _KEEP_TEXT, 1))
    if weights is None or isinstance(weights, float):
        weights = [1.0 if weights is None else weights] * len(deltas)
    return deltas, weights, values


# A stored term info's fixed part (statistics); then a pointer into .pst, or the inlined postings' pickle.
TERM_INFO_FIXED_BYTES: int = W3TermInfo._struct.size


def fs1_terms(segment: Any) -> FS1TermsReader | None:
    """A segment reader's FS1 term dictionary and postings, or None (a W3 segment)."""
    terms = getattr(segment, "_terms", None)
    return terms if isinstance(terms, FS1TermsReader) else None


def term_table(segment: Any) -> Iterator[tuple[str, bytes, bytes]]:
    """(field, term bytes, the term info's bytes as stored) of every term of a segment reader,
    in the order of its term file (.trm); for benchmarks/index_bytes.py, which weighs them."""
    terms = segment._terms
    for keybytes, valbytes in terms._tindex.items():
        fieldname, tbytes = terms._keydecoder(keybytes)
        yield fieldname, tbytes, valbytes


def length_bytes(segment: Any, field: str) -> bytes:
    """The length byte of `field` for each document of a segment reader (shorter when its
    last documents lack the field): the per-document reader's fixed-width column."""
    column = f"_{field}_len"
    if not segment._perdoc.has_column(column):
        return b""
    lengths = segment._perdoc.column_reader(column, LENGTHS_COLUMN)
    return bytes(lengths._dbfile.get(lengths._basepos, lengths._count))


def fixed_column_bytes(segment: Any, field: str) -> bytes:
    """Every document's value of a fixed-width column (whoosh.columns.FixedBytesColumn) in one
    segment reader, deleted documents included, concatenated: one read, not one per document.
    Checked against Whoosh's reader on the first and last document; through Whoosh's reader (a
    call per document) when that or the gate fails.
    """
    reader = segment.column_reader(field, translate=False)
    count = segment.doc_count_all()
    if fast_paths() and isinstance(reader, FixedBytesColumn.Reader) and count:
        width = reader._fixedlen
        raw = _fixed_width_bytes(reader, count)
        if raw[:width] == reader[0] and raw[-width:] == reader[count - 1]:
            return raw
        log.warning("column %s does not read as expected: reading it through Whoosh, which is slower", field)
    return b"".join(reader)


def _fixed_width_bytes(creader: Any, count: int) -> bytes:
    """A fixed-width column's stored bytes for `count` documents in one read: the file holds the
    values of the documents up to the last that has one; the rest have the column's default."""
    written = min(creader._count, count)
    return bytes(creader._dbfile.get(creader._basepos, written * creader._fixedlen)) + creader._defaultbytes * (
        count - written)


def numeric_column(reader: Any, field: str) -> np.ndarray:
    """Every document's raw value (translate=False) of a numeric column in all segments of an
    index reader, deleted documents included, as int64: one read a segment (`_checked_columns`)."""
    parts = _checked_columns(reader, field, _numeric_values, lambda creader, count: np.fromiter(
        creader, dtype=np.int64, count=count))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def bytes_column(reader: Any, field: str) -> np.ndarray:
    """Every document's raw value of a variable-length bytes column (an ID field's) in all
    segments of an index reader, deleted documents included, as a numpy bytes array (values
    hold no NUL, which numpy would strip): one read a segment (`_checked_columns`)."""
    parts = _checked_columns(reader, field, _var_bytes_values, lambda creader, _: np.array(
        list(creader), dtype=np.bytes_))
    return np.concatenate(parts) if parts else np.empty(0, dtype="S1")


def _checked_columns(reader: Any, field: str, fast: Callable[[Any, int], np.ndarray | None],
                     stock: Callable[[Any, int], np.ndarray]) -> list[np.ndarray]:
    """Each segment's values of a column: `fast(column reader, documents)` (None: not a column
    it reads), checked against Whoosh's reader on a few documents; else `stock`, through
    Whoosh's reader, a call per document."""
    parts = []
    for segment, _ in leaf_readers(reader):
        creader = segment.column_reader(field, translate=False)
        count = segment.doc_count_all()
        values = fast(creader, count) if fast_paths() else None
        if values is not None and not all(values[row] == creader[row] for row in probes(count)):
            log.warning("column %s does not read as expected: reading it through Whoosh, which is slower", field)
            values = None
        parts.append(stock(creader, count) if values is None else values)
    return parts


def _numeric_values(creader: Any, count: int) -> np.ndarray | None:
    if not isinstance(creader, NumericColumn.Reader) or creader._typecode not in "qQiIhHbB":
        return None
    big_endian = np.dtype(creader._typecode).newbyteorder(">")  # Whoosh packs with "!"
    return np.frombuffer(_fixed_width_bytes(creader, count), dtype=big_endian).astype(np.int64)


def _var_bytes_values(creader: Any, count: int) -> np.ndarray | None:
    if not isinstance(creader, VarBytesColumn.Reader) or len(creader._lengths) != count:
        return None
    lengths = np.asarray(creader._lengths, dtype=np.int64)
    offsets = np.asarray(creader._offsets, dtype=np.int64)
    total = int(offsets[-1] + lengths[-1]) if count else 0
    data = np.frombuffer(bytes(creader._dbfile.get(creader._basepos, total)), dtype=np.uint8)
    width = max(int(lengths.max(initial=0)), 1)
    table = np.zeros(count * width, dtype=np.uint8)
    table[spans(np.arange(count) * width, lengths)] = data[spans(offsets, lengths)]
    return table.view(f"S{width}")


def fixed_bytes_column(reader: Any, field: str) -> bytes:
    """`fixed_column_bytes` of every segment of an index reader, in docnum order."""
    return b"".join(fixed_column_bytes(segment, field) for segment, _ in leaf_readers(reader))


def leaf_readers(reader: Any) -> list[tuple[Any, int]]:
    """An index reader's (segment reader, first docnum) in docnum order; none for an empty index,
    whose reader would list itself."""
    return reader.leaf_readers() if reader.doc_count_all() else []


def stored_title(segment: Any, docnum: int) -> str | None:
    """A segment reader's document's title read alone, where its stored fields keep titles apart
    (storage.stored's `title`); None where they do not (Whoosh's W3 stored fields, version 1
    blocks, a document without a title)."""
    title = getattr(getattr(segment, "_perdoc", None), "title", None)
    return title(docnum) if title is not None else None


def live_docs(segment: Any) -> np.ndarray:
    """A segment reader's docnums that are not deleted, ascending: from its set of deleted ones,
    not a call per document."""
    alive = np.ones(segment.doc_count_all(), dtype=bool)
    alive[np.fromiter(segment.segment().deleted_docs(), dtype=np.int64)] = False
    return np.flatnonzero(alive)


def reader_live_docs(reader: Any) -> np.ndarray:
    """`live_docs` of every segment of an index reader, as docnums of the whole reader."""
    parts = [live_docs(segment) + base for segment, base in leaf_readers(reader)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def probes(count: int, spread: int = 8) -> list[int]:
    """The documents of `count` a read is checked on: the first, the last and about `spread` between."""
    return sorted({0, count - 1, *range(0, count, max(1, count // spread))}) if count else []


# -- the self-check -----------------------------------------------------------

CHECK_TERMS = 4  # the first terms of each field compared with Whoosh's matchers
CHECK_SCAN = 48  # how far into a field to look for a term of several blocks
CHECK_DOCS = 64  # documents whose field lengths are compared
# More postings than fit in one block of any W3 writer we know (Whoosh's default is 128).
SEVERAL_BLOCKS = 129
CHECK_POSTINGS = 2 * SEVERAL_BLOCKS  # of a term: at least two blocks, not a thousand

_verdicts: dict[str, bool] = {}  # segment id -> whether the fast reader reads it as Whoosh does
_verdicts_lock = threading.Lock()
_check_failure_logged = False


def verify_reader(reader: Any) -> bool:
    """Self-check every segment of an index reader not checked before; whether all may be read fast."""
    verdicts = [fast_reading(segment) for segment, _ in reader.leaf_readers()]  # every segment, checked now
    return all(verdicts)


def fast_reading(segment: Any) -> bool:
    """Whether this segment reader's postings and lengths may be read by the fast reader."""
    if not fast_paths():
        return False
    segid = _segment_id(segment)
    if segid is None:
        return False
    verdict = _verdicts.get(segid)
    if verdict is None:
        with _verdicts_lock:
            verdict = _verdicts.get(segid)
            if verdict is None:
                verdict = _verdicts[segid] = _passes_self_check(segment, segid)
    return verdict


def _segment_id(segment: Any) -> str | None:
    """A segment's id: random, written once, the same in every generation that keeps it."""
    try:
        return str(segment.segment().segment_id())
    except AttributeError:  # an empty index's reader has no segment: read through Whoosh
        return None


def _passes_self_check(segment: Any, segid: str) -> bool:
    global _check_failure_logged
    try:
        disagreement = _first_disagreement(segment)
    except Exception as error:  # noqa: BLE001  a private name gone, a layout changed: what the check is for
        disagreement = f"{type(error).__name__}: {error}"
    if disagreement is None:
        return True
    if not _check_failure_logged:
        _check_failure_logged = True
        log.warning("Whoosh's postings in segment %s don't read as the fast reader expects (%s): reading "
                    "through Whoosh's own matchers, which is slower", segid, disagreement)
    else:
        log.info("segment %s: fast reader disagrees with Whoosh (%s)", segid, disagreement)
    return False


def _first_disagreement(segment: Any) -> str | None:
    """How the fast reader differs from Whoosh on a few terms and lengths of a segment, or None
    (an FS1 segment's postings are ours, read the same way by both: only its lengths)."""
    schema = segment.schema
    w3 = fs1_terms(segment) is None
    for fieldname in sorted(segment.indexed_field_names()):
        if fieldname not in schema:
            continue
        for tbytes, info in _sample_terms(segment, fieldname) if w3 else ():
            fmt = schema[fieldname].format
            fast = segment_postings(segment, info, fmt.supports("positions"), enough=CHECK_POSTINGS)
            # Compared as far as the fast reader read: all, or the blocks up to CHECK_POSTINGS.
            upto = fast[0][-1] + 1 if len(fast[0]) >= CHECK_POSTINGS else segment.doc_count_all()
            if _without_deleted(segment, fast, fmt) != _stock_postings(segment, fieldname, tbytes, fmt, upto):
                return f"postings of {fieldname}:{tbytes!r}"
        if schema[fieldname].scorable:
            raw = length_bytes(segment, fieldname)
            count = segment.doc_count_all()
            for docnum in sorted({*range(min(CHECK_DOCS, count)), count - 1} - {-1}):
                fast_length = LENGTH_OF_BYTE[raw[docnum]] if docnum < len(raw) else 0
                if fast_length != segment.doc_field_length(docnum, fieldname, 0):
                    return f"length of {fieldname} in document {docnum}"
    return None


def _sample_terms(segment: Any, fieldname: str) -> list[tuple[bytes, Any]]:
    """The first CHECK_TERMS terms of a field, and the first term of several blocks near them."""
    sample, several_blocks = [], False
    # The terms reader itself: iter_field would parse its empty prefix as a value (a date fails).
    for seen, ((name, tbytes), info) in enumerate(segment._terms.items_from(fieldname, b"")):
        if name != fieldname:
            break
        if seen >= CHECK_SCAN or (seen >= CHECK_TERMS and several_blocks):
            break
        if seen < CHECK_TERMS or info.doc_frequency() >= SEVERAL_BLOCKS:
            sample.append((tbytes, info))
            several_blocks = several_blocks or info.doc_frequency() >= SEVERAL_BLOCKS
    return sample


# (docnums in the segment, weights, for a positional field each posting's (encoded value, positions))
SegmentPostings = tuple[list[int], list[float], "list[tuple[bytes, list[int]]] | None"]


def segment_postings(segment: Any, info: Any, positional: bool, wanted: list[int] | None = None,
                     enough: int | None = None) -> tuple[list[int], list[float], list[Any]]:
    """A W3 term's postings in one segment as the fast reader reads them, deleted documents
    included, block by block: only the blocks holding some of `wanted` (sorted docnums; None:
    every block), until at least `enough` postings (None: all); values (encoded positions) only
    for a positional field."""
    docs: list[int] = []
    weights: list[float] = []
    values: list[Any] = []
    previous_max = -1
    for max_id, decode in segment_blocks(segment, info):
        if wanted is None or _any_between(wanted, previous_max, max_id):
            deltas, block_weights, block_values = decode()
            last = 0  # each block's deltas add up from 0
            for delta in deltas:
                last += delta
                docs.append(last)
            weights.extend(block_weights)
            if positional:
                values.extend(block_values)
            if enough is not None and len(docs) >= enough:
                break
        previous_max = max_id
    return docs, weights, values


def _any_between(sorted_docs: list[int], low: int, high: int) -> bool:
    """Whether any of `sorted_docs` is in (low, high]."""
    i = bisect.bisect_right(sorted_docs, low)
    return i < len(sorted_docs) and sorted_docs[i] <= high


def _without_deleted(segment: Any, fast: tuple[list[int], list[float], list[Any]], fmt: Format) -> SegmentPostings:
    """The fast reader's postings as Whoosh's matcher gives them: live documents only, and
    for a positional field each value with its decoded positions."""
    docs, weights, values = fast
    keep: Sequence[int] = range(len(docs))
    if segment.has_deletions():
        keep = [row for row, docnum in enumerate(docs) if not segment.is_deleted(docnum)]
    decoded = None
    if fmt.supports("positions"):
        decoded = [(encoded_value(values[row]), list(fmt.decode_positions(encoded_value(values[row]))))
                   for row in keep]
    return [docs[row] for row in keep], [weights[row] for row in keep], decoded


def _stock_postings(segment: Any, fieldname: str, tbytes: bytes, fmt: Format, upto: int) -> SegmentPostings:
    """What Whoosh's own matcher gives for a term in one segment (deleted documents left out),
    up to the document `upto` (exclusive)."""
    positional = fmt.supports("positions")
    docs, weights, values = [], [], []
    matcher = segment.postings(fieldname, tbytes)
    while matcher.is_active() and matcher.id() < upto:
        docs.append(matcher.id())
        weights.append(matcher.weight())
        if positional:
            values.append((matcher.value(), list(matcher.value_as("positions"))))
        matcher.next()
    return docs, weights, values if positional else None


class _OwnTempStorage(FileStorage):
    """An index folder whose temporary storage belongs to one writer.

    Whoosh gives every writer of an index, and each writer's per-document writer,
    the same temporary folder (`<indexname>.tmp`), and a writer's commit or cancel
    destroys that folder whole: with several writers at work (a build's workers,
    each writing its own segments) one finishing deleted the others' column files
    under them. Here the name carries the writer's own mark, so a writer only ever
    destroys what it made itself.
    """

    def __init__(self, folder: str, supports_mmap: bool):
        super().__init__(folder, supports_mmap=supports_mmap)
        self.owner = f"{os.getpid()}-{next(_writer_marks)}"

    def temp_storage(self, name: str | None = None) -> Any:
        return super().temp_storage(f"{name or 'writer'}-{self.owner}")


_writer_marks = itertools.count()


def _with_own_temp_storage(ix: Any) -> Any:
    storage = ix.storage
    if isinstance(storage, _OwnTempStorage) or not isinstance(storage, FileStorage):
        return ix
    return FileIndex(_OwnTempStorage(storage.folder, storage.supports_mmap), ix.schema, ix.indexname)


class SegmentWriterBase(SegmentWriter):
    """Whoosh's SegmentWriter plus what a build asks of it: write the segment
    without committing, and say how many postings it holds in memory. Its
    temporary files are its own (`_OwnTempStorage`), so writers of one index
    can work side by side and finish or cancel in any order."""

    def __init__(self, ix: Any, locked: bool = True, **options: Any):
        """`locked=False`: don't take Whoosh's write lock (a build's worker; its parent holds the index)."""
        super().__init__(_with_own_temp_storage(ix), _lk=locked, **options)

    @property
    def held_postings(self) -> int:
        raise NotImplementedError

    def finish_segment(self) -> Any:
        """Write this writer's segment and return it, without committing; the writer is done.

        The parent adds the segments of all workers to the index in one commit,
        as Whoosh's own multiprocessing writer does.
        """
        segment = self._finalize_segment()
        self._finish()  # its own temporary folder, nobody else's
        return segment


class StockSegmentWriter(SegmentWriterBase):
    """Whoosh's own writer (the fallback): its posting pool, its W3 postings, its files; stored
    fields in blocks (storage/stored.py, through Whoosh's per-document writer interface)."""

    def __init__(self, ix: Any, locked: bool = True, **options: Any):
        super().__init__(ix, locked, codec=W3BlockStoredCodec(), **options)

    @property
    def held_postings(self) -> int:
        return len(self.pool.current)  # Whoosh's pool spills to disk by itself past its memory limit


class PostingTable(Protocol):
    """Where a FastSegmentWriter keeps its segment's postings until they are written."""

    postings: int  # how many it holds

    def add_merged(self, fieldname: str, tbytes: bytes, docnum: int, weight: float, value: bytes) -> None: ...

    def add_segment(self, fields: dict[str, FieldPostings], new_docnums: np.ndarray) -> None:
        """A merged FS1 segment's postings, whole fields at a time (new_docnums: -1 to drop)."""

    def write(self, schema: Any, fieldwriter: FS1FieldWriter) -> None:
        """Every field's postings, through the FS1 field writer."""

    def clear(self) -> None: ...


class _MergeIntake:
    """Whoosh's posting pool interface (what SegmentWriter.add_reader, i.e. a merge, feeds),
    in front of a PostingTable."""

    def __init__(self, table: PostingTable):
        self.table = table
        self.fieldnames: set[str] = set()

    def add(self, item: tuple[str, bytes, int, float, bytes]) -> None:
        fieldname, tbytes, docnum, weight, value = item
        if docnum == -1:  # Whoosh's marker for spelling words: we keep no spelling graph
            return
        self.fieldnames.add(fieldname)
        self.table.add_merged(fieldname, tbytes, docnum, weight, value)

    def cleanup(self) -> None:
        self.table.clear()
        self.fieldnames.clear()


class FastSegmentWriter(SegmentWriterBase):
    """A SegmentWriter whose postings go to a PostingTable and out through the FS1 codec
    (storage/fs1.py, frequencies flagged, the dictionary compact), stored fields in blocks (FS4Codec,
    storage/stored.py); deletes, merges, the other per-document files and commits are
    Whoosh's."""

    def __init__(self, ix: Any, table: PostingTable, locked: bool = True, **options: Any):
        super().__init__(ix, locked, codec=FS4Codec(), **options)
        self.table = table
        self.pool = _MergeIntake(table)

    @property
    def held_postings(self) -> int:
        return self.table.postings

    def start_document(self) -> int:
        """The docnum of the document about to be added (its fields go to `perdocwriter`)."""
        self._check_state()
        self.perdocwriter.start_doc(self.docnum)
        return int(self.docnum)

    def finish_document(self) -> None:
        self.perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: dict[int, int] | None) -> None:
        """A merge's postings (Whoosh's SegmentWriter.add_reader calls this after copying the
        documents): an FS1 segment's whole fields at a time; any other through Whoosh's
        walk of every posting."""
        terms = fs1_terms(reader)
        if terms is None:
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        count = reader.doc_count_all()
        if docmap is None:  # no deleted documents
            new_docnums = np.arange(startdoc, startdoc + count, dtype=np.int64)
        else:
            new_docnums = np.full(count, -1, dtype=np.int64)
            new_docnums[np.fromiter(docmap.keys(), dtype=np.int64, count=len(docmap))] = np.fromiter(
                docmap.values(), dtype=np.int64, count=len(docmap))
        self.table.add_segment({name: terms.field_postings(name) for name in terms.indexed_field_names()
                                if name in self.schema}, new_docnums)

    def _flush_segment(self) -> None:
        # Whoosh's version writes through fieldwriter.add_postings, a call per posting.
        self.perdocwriter.close()
        self.table.write(self.schema, self.fieldwriter)
        self.fieldwriter.close()


# -- dropping damaged segments ------------------------------------------------------

INDEX_NAME = "MAIN"  # Whoosh's default index name, which every generation uses
_SEGMENT_FILE = TOC._segment_pattern(INDEX_NAME)


def segment_of(filename: str) -> str | None:
    """The id of the segment a file belongs to (None: not a segment's file, e.g. the TOC)."""
    match = _SEGMENT_FILE.fullmatch(filename)
    return match.group(1) if match else None


def write_toc_without(source: Path, target: Path, dropped: set[str]) -> int:
    """Write into `target` the table of contents of `source` less the segments `dropped` (their
    documents are then simply absent); returns how many documents they held."""
    toc = TOC.read(FileStorage(str(source)), INDEX_NAME)
    kept = [segment for segment in toc.segments if segment.segment_id() not in dropped]
    TOC(toc.schema, kept, toc.generation + 1).write(FileStorage(str(target)), INDEX_NAME)
    return sum(segment.doc_count() for segment in toc.segments if segment.segment_id() in dropped)
