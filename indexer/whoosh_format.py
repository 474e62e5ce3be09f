"""Everything finsearch knows about Whoosh's insides, in one place: the fence.

The fast writer (`indexer/writer.py`) and the fast postings reader
(`search/postings.py`) go past Whoosh's public API: they write and read the
W3 codec's files directly (posting blocks, term infos, the one-byte field
lengths, a fixed-width column in one read for the nightly reindex:
`fixed_column_bytes`, checked against Whoosh's reader on its first and last
value) and use private names of Whoosh's writer and codec classes. This
module holds all of that, and nothing else in the project may:

- the **version gate**: the fast paths were verified against exactly the
  whoosh-reloaded versions in `VERIFIED_VERSIONS`; with any other version, or
  with `FINSEARCH_WHOOSH_FAST=0` in the environment, they are off;
- a **self-check when an index is opened** (`verify_reader`): for each segment,
  the fast reader must give exactly what Whoosh's own `reader.postings()`
  gives (docnums, weights, encoded and decoded positions) for the first terms
  of every field and one term of several blocks, and the field lengths Whoosh
  gives; cached per segment, so a new index generation checks only its new
  segments;
- the **fallback**: when the gate or the check fails, `fast_paths()` /
  `fast_reading()` say no, the reader takes Whoosh's public matchers and the
  build takes Whoosh's own `SegmentWriter` (`StockSegmentWriter`); slower,
  never wrong. One warning is logged per process.

Everything here was read off whoosh-reloaded 2.7.5 (`whoosh/codec/whoosh3.py`,
`whoosh/writing.py`): check those files again before adding a version.
"""
from __future__ import annotations

import functools
import importlib.metadata
import io
import logging
import os
import pickle
import struct
import threading
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise
from typing import Any, Protocol

import numpy as np
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3PostingsWriter,
    W3TermInfo,
)
from whoosh.columns import FixedBytesColumn
from whoosh.formats import Format, Frequency, Positions
from whoosh.system import pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

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

    The column file holds the values of the documents up to the last that has one; the
    rest have the column's default. Checked against Whoosh's reader on the first and last
    document; through Whoosh's reader (a call per document) when that or the gate fails.
    """
    reader = segment.column_reader(field, translate=False)
    count = segment.doc_count_all()
    if fast_paths() and isinstance(reader, FixedBytesColumn.Reader) and count:
        width = reader._fixedlen
        written = min(reader._count, count)
        raw = bytes(reader._dbfile.get(reader._basepos, written * width)) + reader._defaultbytes * (count - written)
        if raw[:width] == reader[0] and raw[-width:] == reader[count - 1]:
            return raw
        log.warning("column %s does not read as expected: reading it through Whoosh, which is slower", field)
    return b"".join(reader)


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
    """How the fast reader differs from Whoosh on a few terms and lengths of a segment, or None."""
    schema = segment.schema
    for fieldname in sorted(segment.indexed_field_names()):
        if fieldname not in schema:
            continue
        for tbytes, info in _sample_terms(segment, fieldname):
            fmt = schema[fieldname].format
            fast = segment_postings(segment, info, fmt.supports("positions"), CHECK_POSTINGS)
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


def segment_postings(segment: Any, info: Any, positional: bool,
                     enough: int) -> tuple[list[int], list[float], list[Any]]:
    """A term's postings in one segment as the fast reader reads them, deleted documents
    included, block by block until at least `enough`; values (encoded positions) only for
    a positional field."""
    docs: list[int] = []
    weights: list[float] = []
    values: list[Any] = []
    for _, decode in segment_blocks(segment, info):
        deltas, block_weights, block_values = decode()
        last = 0  # each block's deltas add up from 0
        for delta in deltas:
            last += delta
            docs.append(last)
        weights.extend(block_weights)
        if positional:
            values.extend(block_values)
        if len(docs) >= enough:
            break
    return docs, weights, values


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


# -- writing: the W3 codec with grouped postings ------------------------------

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


def stored_length(length: int) -> int:
    """A field length as Whoosh stores it (one byte) and gives it back."""
    return byte_to_length(length_to_byte(length))


class _PostingsWriter(W3PostingsWriter):
    # W3PostingsWriter's block buffer and settings
    _blocklimit: int
    _compression: int
    _inlinelimit: int
    _ids: array
    _weights: array
    _values: list[bytes]
    _maxweight: float
    _minlength: int | None
    _maxlength: int
    _terminfo: Any

    def add_all(self, ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes],
                lengths: Sequence[int]) -> None:
        """Whoosh's add_posting for a whole posting list (field lengths as Whoosh stores
        them, 0 where the field has none): fills each block in one go."""
        limit = self._blocklimit
        for start in range(0, len(ids), limit):
            if self._ids:
                self._write_block()
            end = start + limit
            block_weights = weights[start:end]
            self._ids = array("I", ids[start:end])
            self._weights = array("f", block_weights)
            self._values = [value for value in values[start:end] if value]  # as add_posting: empty values are not kept
            self._maxweight = max(block_weights)
            known = [length for length in lengths[start:end] if length]
            self._minlength = min(known) if known else None
            self._maxlength = max(known) if known else 0

    def finish_postings(self) -> Any:
        # Whoosh's inlining of short posting lists calls a misspelt method (set_inline).
        if not self.written() and len(self._ids) < self._inlinelimit:
            terminfo, self._terminfo = self._terminfo, None
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            terminfo.__class__ = _InlinedTermInfo
            return terminfo
        return super().finish_postings()

    def _write_block(self, last: bool = False) -> None:
        """W3PostingsWriter._write_block with two changes: the pickles are protocol 3
        (bytes values as bytes, not protocol 2's `_codecs.encode` calls of about 35
        bytes each), and short blocks are not compressed."""
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        data = pickle.dumps((self._mini_ids(), self._mini_weights(), self._mini_values()), 3)
        compression = self._compression if len(ids) >= COMPRESS_MIN_POSTINGS else 0
        if compression:
            data = zlib.compress(data, compression)
        info = pickle.dumps((len(ids), ids[-1], self._maxweight, compression,
                             length_to_byte(self._minlength), length_to_byte(self._maxlength)), 3)
        size = len(info) + len(data)
        self._postfile.write_int(-size if last else size)  # negative: the term's last block
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class _InlinedTermInfo(W3TermInfo):
    """A term info with inlined postings, pickled with protocol 3 where Whoosh uses 2.

    Protocol 2 spells each bytes value as a call of `_codecs.encode` on a str
    (about 35 bytes more a posting); most terms of a segment are inlined, so that
    was a third of the term tables. `W3TermInfo.from_bytes` unpickles any protocol.
    """

    _inlined: Any  # W3TermInfo's (ids, weights, values)

    def to_bytes(self) -> bytes:
        inlined = self._inlined
        self._inlined, self._offset, self._length = None, 0, 0  # Whoosh packs the fixed part
        try:
            head = super().to_bytes()[:self._struct.size]
        finally:
            self._inlined = inlined
        return _INLINED_FLAG + head[1:] + _pickled_postings(*inlined)


def _pickled_postings(ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes]) -> bytes:
    """(ids, weights, values) as pickle.dumps(..., 3) gives them back, by hand for the one
    posting of a term found in one document: 20 bytes where pickle.dumps writes 40."""
    if len(ids) != 1 or len(values) != 1 or len(values[0]) > 0xFF:
        return pickle.dumps((tuple(ids), tuple(weights), tuple(values)), 3)
    (weight,) = weights
    (value,) = values
    small = weight.is_integer() and 0 <= weight < 0x100
    pickled_weight = _pickled_int(int(weight)) if small else b"G" + struct.pack(">d", weight)
    return (_pickled_int(ids[0]) + _TUPLE1 + pickled_weight + _TUPLE1
            + b"C" + bytes((len(value),)) + value + _TUPLE1 + b"\x87.")


_TUPLE1 = b"\x85"


_INLINED_FLAG = b"\x01"  # the first byte of a packed W3TermInfo


class FieldWriter(W3FieldWriter):
    """Whoosh's W3 field writer (start_field, finish_field), taking each term with all its postings."""

    _fieldid: int
    _tindex: Any

    def add_term(self, tbytes: bytes, ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes],
                 lengths: Sequence[int]) -> None:
        """A term and its postings (field lengths as Whoosh stores them, 0 where the field has none)."""
        if len(ids) >= INLINE_BELOW:
            self.start_term(tbytes)
            self._postwriter.add_all(ids, weights, values, lengths)
            self.finish_term()
            return
        # A one-document term (most terms of a segment), inlined: the bytes Whoosh's postings
        # writer and W3TermInfo.to_bytes give, without their objects (a fifth of a build's time).
        (docnum,), (length,), (value,) = ids, lengths, values
        (weight,) = _FLOAT32.unpack(_FLOAT32.pack(weights[0]))  # as Whoosh's array("f") holds it
        length_byte = length_to_byte(length) if length else 0
        head = _TERM_INFO.pack(1, weight, 1, length_byte, length_byte, weight, docnum, docnum)
        postings = _pickled_postings((docnum,), (weight,), (value,) if value else ())
        self._tindex.add(pack_ushort(self._fieldid) + tbytes, head + postings)


_TERM_INFO = W3TermInfo._struct
_FLOAT32 = struct.Struct("f")


class _Codec(W3Codec):
    def field_writer(self, storage: Any, segment: Any) -> FieldWriter:
        return FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> _PostingsWriter:
        return _PostingsWriter(dbfile, blocklimit=self._blocklimit, byteids=byteids,
                               compression=self._compression, inlinelimit=self._inlinelimit)

    def __reduce__(self) -> tuple[type, tuple[int, int, int]]:
        # The table of contents stores each segment's codec: store Whoosh's, so
        # reading an index never needs this module.
        return W3Codec, (self._blocklimit, self._compression, self._inlinelimit)


class SegmentWriterBase(SegmentWriter):
    """Whoosh's SegmentWriter plus what a build asks of it: write the segment
    without committing, and say how many postings it holds in memory."""

    def __init__(self, ix: Any, locked: bool = True, **options: Any):
        """`locked=False`: don't take Whoosh's write lock (a build's worker; its parent holds the index)."""
        super().__init__(ix, _lk=locked, **options)

    @property
    def held_postings(self) -> int:
        raise NotImplementedError

    def finish_segment(self) -> Any:
        """Write this writer's segment and return it, without committing.

        The parent adds the segments of all workers to the index in one commit,
        as Whoosh's own multiprocessing writer does.
        """
        return self._finalize_segment()


class StockSegmentWriter(SegmentWriterBase):
    """Whoosh's own writer (the fallback): its posting pool, its codec, its files."""

    @property
    def held_postings(self) -> int:
        return len(self.pool.current)  # Whoosh's pool spills to disk by itself past its memory limit


class PostingTable(Protocol):
    """Where a FastSegmentWriter keeps its segment's postings until they are written."""

    postings: int  # how many it holds
    merged: bool  # whether some came from Whoosh's merges (their field lengths are to be looked up)

    def add_merged(self, fieldname: str, tbytes: bytes, docnum: int, weight: float, value: bytes) -> None: ...

    def write(self, schema: Any, fieldwriter: FieldWriter, lengths: Any) -> None:
        """Every posting list in (field, term, docnum) order through fieldwriter; `lengths`
        (a per-document reader) when postings were merged, else None."""

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
    """A SegmentWriter whose postings go to a PostingTable and out through the fast codec;
    deletes, merges, per-document files and commits are Whoosh's."""

    def __init__(self, ix: Any, table: PostingTable, locked: bool = True, **options: Any):
        super().__init__(ix, locked, codec=_Codec(blocklimit=BLOCK_POSTINGS, inlinelimit=INLINE_BELOW), **options)
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

    def _flush_segment(self) -> None:
        # Whoosh's version writes through fieldwriter.add_postings, which looks
        # up every posting's field length in the per-document files.
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.table.merged else None
        self.table.write(self.schema, self.fieldwriter, lengths)
        self.fieldwriter.close()
        if lengths is not None:
            lengths.close()
