"""Stored fields in compressed blocks of documents (FSD1), and the codecs that write them.

Whoosh's W3 keeps a segment's stored fields in one column (`_stored.col`): a zlib-compressed
pickle of each document's dict, compressed alone, so what documents share (field names, the
pickle's opcodes, the paper's boilerplate, URL prefixes) is paid again in every one of them.
Here a segment's documents are pickled one after another and compressed in blocks of
BLOCK_BYTES or more of pickles, as tantivy's and Lucene's stored fields are, with a preset
dictionary of the segment's first pickles (zlib's `zdict`: small blocks compress about as well
as blocks four times their size): 2.7× smaller on wire posts. Reading one document decompresses
its block only as far as that document; a reader keeps its last CACHE_BLOCKS blocks (a page
reads a post, then its reprints, often written near it; an export reads runs of neighbours)
and its last CACHE_DOCUMENTS documents' pickles (a results page reads again the posts its
re-scoring read). A block holds its documents' titles apart, before their pickles, so that a
title alone (`title()`: re-scoring reads a few hundred to find which mean another country's
institution) decompresses a block's titles only as far as that one, a small part of the block.

A segment's `.fsd` file:

- MAGIC (4 bytes);
- the dictionary: the first DICTIONARY_BYTES of the segment's pickles (all of them, if fewer),
  zlib-compressed (empty for a segment without stored fields);
- the blocks, one after another, each raw deflate (zlib level LEVEL, the dictionary preset,
  no zlib header or Adler-32) of: a u32 document count n, n u32 end offsets of the documents'
  titles, n u32 end offsets of their pickles (both counted from the end of these offsets,
  the pickles' from where the titles end), then the titles, then the pickles (protocol
  PICKLE_PROTOCOL). A title is TITLE_APART and the title's UTF-8, and the pickle then holds
  the title as None (so that the dict keeps its key order), or empty when the document's title
  is not a string kept apart. A document without stored fields has an empty title and an empty
  pickle (read as {}, as Whoosh reads it). A block of VERSION 1 has no titles: a u32 count, n
  ends, the pickles;
- the table (a pickle): the format's VERSION, the document count, the dictionary's offset,
  length and CRC-32, each block's first docnum (and the count after the last), its offset in
  the file (and where the table starts) and the CRC-32 of its compressed bytes, and
  `from_columns` (below);
- the trailer: the table's offset and CRC-32, MAGIC (`_TRAILER`).

A stored value that the segment's integer column of the same field holds exactly
(`from_columns`: the field's and the column's objects) is stored as None and read back from
the column: at write time the value is left out only where the column's value, converted
back as Whoosh's field converts it (`from_column_value`), pickles to the same bytes as the
value; so `stored_fields()` returns the same dict as before, key order included. Of our
schema that is the date (3% of the stored bytes of wire posts).

Damage is never read as an answer: the table's and the dictionary's CRCs are checked when a
segment is opened, and each block's before it is decompressed; any failing raises
IndexDamaged naming the file (the manifest's checksums, checked in the background and by
`finsearch check`, name it too).

A codec is recorded per segment (pickled into the index's table of contents, so the classes'
names and this module's path must not change): `FS4Codec` is FS1's postings with frequencies
flagged and a compact term dictionary (storage/fs1.py) with stored fields in blocks, written by
the fast writer;
`W3BlockStoredCodec` is Whoosh's own W3 postings with stored fields in blocks, written by
Whoosh's own writer, the fallback (storage/whoosh_format.py). Segments written before
(FS3Codec: FS4's without the compact dictionary; FS2Codec: FS1's postings unflagged with stored
fields in blocks; FS1Codec, W3Codec) keep
being read as they were written; a merge writes what its writer writes.

What this relies on of Whoosh: the per-document writer and reader interfaces W3's implement
(`add_field`, `add_column_value`, `start_doc`/`finish_doc`/`cancel_doc`, `close`,
`column_reader`, `stored_fields`), W3's writer leaving out a None value, and
`_create_column` (declared by Whoosh's PerDocWriterWithColumns for codecs to implement), which
W3's writer calls for its `_stored` column: skipped here. Were that name to change, each new
segment would carry an empty `_stored.col` too, nothing worse. And W3's reader's
`_get_column_file`, which opens a column's file: here the file's memory map (`_MappedColumnFile`),
so that a column value (a post's id, its date) is a slice, not a seek and a read of the file, two
system calls each. Were that name to change, columns would be read through Whoosh's file again:
slower, the same values.
"""
from __future__ import annotations

import bisect
import itertools
import mmap
import pickle
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NoReturn

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter
from whoosh.columns import NumericColumn
from whoosh.filedb.structfile import StructFile

from finsearch.storage.fs1 import FS1Codec, FS1FieldWriter, FS1TermsReader, _buffer
from finsearch.storage.manifest import IndexDamaged
from finsearch.storage.schema import TITLE

STORED_FORMAT = "FSD1"
STORED_EXT = ".fsd"
MAGIC = b"FSD1"
VERSION = 2  # 1: blocks without the titles apart (read as written)
READABLE_VERSIONS = frozenset({1, VERSION})
TITLE_APART = b"="  # before a title kept apart from its document's pickle
# Pickled documents a block holds (at least; a document is never split). A post is read by
# inflating its block as far as the post, so smaller blocks read faster and compress less well
# (the preset dictionary makes up for much of it): docs/benchmarks.md weighs the two.
BLOCK_BYTES = 4 << 10
DICTIONARY_BYTES = 32 << 10  # zlib's preset dictionary: the segment's first pickles (zlib's window)
LEVEL = 6  # zlib's: 9 gains under 0.2% on wire posts
CACHE_BLOCKS = 4  # decompressed blocks a reader keeps (BLOCK_BYTES and at most one document more each)
CACHE_DOCUMENTS = 64  # documents' pickles a reader keeps: a page re-reads what its re-scoring read
PICKLE_PROTOCOL = 5
W3_STORED_COLUMN = "_stored"  # W3's column of one compressed pickle a document: not written here
RAW_DEFLATE = -15  # zlib's wbits: deflate without zlib's header and Adler-32 (each block has a CRC-32)
_U32 = struct.Struct("<I")
_TRAILER = struct.Struct("<QI4s")  # the table's offset, its CRC-32, MAGIC
_INTEGER_TYPECODES = frozenset("bBhHiIlLqQ")


def _read_back_cheaply(columnobj: Any, value: Any) -> bool:
    """Whether a column of this kind gives back `value` exactly as it was given, in one read of
    a few bytes: an integer in a fixed-width integer column (a date's). Whoosh's private typecode
    is read; were it renamed, nothing would be read from columns, which costs bytes, not answers.
    (Variable-length bytes columns, an id's or a path's, give theirs back exactly too, but
    reading them back cost a read each, about 7 µs, for 4.7% of the stored bytes: not done.)"""
    return (type(columnobj) is NumericColumn and type(value) is int
            and getattr(columnobj, "_typecode", None) in _INTEGER_TYPECODES)


class _BlockFile:
    """Writes documents' pickles into a `.fsd` file: the dictionary (once the first
    DICTIONARY_BYTES of pickles have come), then a block at a time."""

    def __init__(self, dbfile: Any):
        self._file = dbfile
        self._file.write(MAGIC)
        self._at = len(MAGIC)
        self._pending: list[tuple[bytes, bytes]] = []  # (title, pickle) of each document
        self._pending_bytes = 0
        self._documents = 0  # added
        self._written = 0  # in blocks written
        self._dictionary: bytes | None = None  # None: not yet chosen
        self._dictionary_extent: tuple[int, int, int] = (0, 0, 0)  # offset, length, CRC-32 of it compressed
        self._first_docs: list[int] = []
        self._offsets: list[int] = []
        self._crcs: list[int] = []

    def add(self, title: bytes, pickled: bytes) -> None:
        self._pending.append((title, pickled))
        self._pending_bytes += len(title) + len(pickled)
        self._documents += 1
        if self._dictionary is None:
            if self._pending_bytes >= DICTIONARY_BYTES:
                self._start_blocks()
        elif self._pending_bytes >= BLOCK_BYTES:
            self._flush()

    def _write(self, data: bytes) -> tuple[int, int, int]:
        at = self._at
        self._file.write(data)
        self._at += len(data)
        return at, len(data), zlib.crc32(data)

    def _start_blocks(self) -> None:
        """The dictionary: the segment's first pickles (what the rest most shares with them:
        field names, opcodes, the papers' boilerplate); then the documents held so far, in blocks."""
        self._dictionary = b"".join(title + pickled for title, pickled in self._pending)[:DICTIONARY_BYTES]
        self._dictionary_extent = self._write(zlib.compress(self._dictionary, 9))
        held, self._pending, self._pending_bytes = self._pending, [], 0
        for title, pickled in held:
            self._pending.append((title, pickled))
            self._pending_bytes += len(title) + len(pickled)
            if self._pending_bytes >= BLOCK_BYTES:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        titles = [title for title, _ in self._pending]
        pickles = [pickled for _, pickled in self._pending]
        ends = list(itertools.accumulate(map(len, titles + pickles)))
        raw = b"".join([_U32.pack(len(titles)), struct.pack(f"<{len(ends)}I", *ends), *titles, *pickles])
        compressor = (zlib.compressobj(LEVEL, zlib.DEFLATED, RAW_DEFLATE, zdict=self._dictionary)
                      if self._dictionary else zlib.compressobj(LEVEL, zlib.DEFLATED, RAW_DEFLATE))
        at, _, crc = self._write(compressor.compress(raw) + compressor.flush())
        self._first_docs.append(self._written)
        self._offsets.append(at)
        self._crcs.append(crc)
        self._written += len(self._pending)
        self._pending, self._pending_bytes = [], 0

    def close(self, from_columns: dict[str, tuple[Any, Any]]) -> None:
        if self._dictionary is None:
            self._start_blocks()
        self._flush()
        table = pickle.dumps({
            "version": VERSION, "documents": self._documents, "dictionary": self._dictionary_extent,
            "first_docs": self._first_docs + [self._documents], "offsets": self._offsets + [self._at],
            "crcs": self._crcs, "from_columns": from_columns,
        }, protocol=PICKLE_PROTOCOL)
        self._file.write(table)
        self._file.write(_TRAILER.pack(self._at, zlib.crc32(table), MAGIC))
        self._file.close()


class BlockStoredWriter(W3PerDocWriter):
    """W3's per-document writer (columns, field lengths, vectors) with stored fields in blocks."""

    def __init__(self, codec: Any, storage: Any, segment: Any):
        super().__init__(codec, storage, segment)
        self._blocks = _BlockFile(segment.create_file(storage, STORED_EXT))
        self._in_document = False
        self._values: dict[str, Any] = {}  # this document's stored values, in the order given
        self._fieldobjs: dict[str, Any] = {}
        self._column_values: dict[str, tuple[Any, Any]] = {}  # this document's: (column, value)
        self._from_columns: dict[str, tuple[Any, Any]] = {}  # field -> (field, column) read from a column

    def _create_column(self, fieldname: str, column: Any) -> None:
        if fieldname != W3_STORED_COLUMN:
            super()._create_column(fieldname, column)

    def start_doc(self, docnum: int) -> None:
        super().start_doc(docnum)
        self._in_document = True
        self._values, self._fieldobjs, self._column_values = {}, {}, {}

    def add_field(self, fieldname: str, fieldobj: Any, value: Any, length: int) -> None:
        if value is not None:
            self._values[fieldname] = value
            self._fieldobjs[fieldname] = fieldobj
        super().add_field(fieldname, fieldobj, None, length)  # W3 keeps the length, not the value

    def add_column_value(self, fieldname: str, columnobj: Any, value: Any) -> None:
        super().add_column_value(fieldname, columnobj, value)
        self._column_values[fieldname] = (columnobj, value)

    def finish_doc(self) -> None:
        super().finish_doc()
        if not self._in_document:  # W3's close() calls finish_doc() once more
            return
        self._in_document = False
        values = self._values
        if not values:
            self._blocks.add(b"", b"")
            return
        kept = {name: None if self._in_column(name, value) else value for name, value in values.items()}
        title = kept.get(TITLE)
        apart = TITLE_APART + title.encode("utf-8", "surrogatepass") if isinstance(title, str) else b""
        if apart:
            kept[TITLE] = None
        self._blocks.add(apart, pickle.dumps(kept, protocol=PICKLE_PROTOCOL))

    def cancel_doc(self) -> None:
        super().cancel_doc()
        self._in_document = False

    def _in_column(self, fieldname: str, value: Any) -> bool:
        """Whether this document's column value of the field reads back as exactly `value`."""
        column = self._column_values.get(fieldname)
        if column is None:
            return False
        columnobj, raw = column
        fieldobj = self._fieldobjs[fieldname]
        known = self._from_columns.get(fieldname)
        if known is not None and (known[0] is not fieldobj or known[1] is not columnobj):
            return False
        if not _read_back_cheaply(columnobj, raw):
            return False
        try:
            back = fieldobj.from_column_value(raw)
        except Exception:  # noqa: BLE001  a value its field can't convert back: kept as it is
            return False
        if type(back) is not type(value) or (pickle.dumps(back, protocol=PICKLE_PROTOCOL)
                                             != pickle.dumps(value, protocol=PICKLE_PROTOCOL)):
            return False
        if known is None:
            self._from_columns[fieldname] = (fieldobj, columnobj)
        return True

    def close(self) -> None:
        super().close()
        self._blocks.close(self._from_columns)


class _Inflating:
    """A block decompressed only as far as its documents have been asked for: a document
    halfway into a block costs half a block's decompression. (The block's compressed bytes
    passed their CRC-32 already: its damage can't go unnoticed for want of zlib's own check at
    the end.)"""

    __slots__ = ("_inflate", "_raw", "_ends", "_title_ends", "_base", "_damaged")

    def __init__(self, compressed: bytes, dictionary: bytes, damaged: Callable[[str], NoReturn],
                 titles_apart: bool):
        self._inflate = zlib.decompressobj(RAW_DEFLATE, zdict=dictionary) if dictionary else zlib.decompressobj(
            RAW_DEFLATE)
        self._raw = bytearray()
        self._damaged = damaged
        self._read_to(_U32.size, compressed)
        (count,) = _U32.unpack_from(self._raw)
        ends = 2 * count if titles_apart else count
        self._base = _U32.size * (ends + 1)
        self._read_to(self._base)
        ends_read = struct.unpack_from(f"<{ends}I", self._raw, _U32.size)
        # Version 1: no titles, so each "title" ends where the pickles start.
        self._title_ends = ends_read[:count] if titles_apart else (0,) * count
        self._ends = ends_read[count:] if titles_apart else ends_read

    def _read_to(self, size: int, compressed: bytes | None = None) -> None:
        missing = size - len(self._raw)
        if missing <= 0:
            return
        try:
            self._raw += self._inflate.decompress(self._inflate.unconsumed_tail if compressed is None
                                                  else compressed, missing)
        except zlib.error as error:
            self._damaged(f"has a block that does not decompress ({error})")
        if len(self._raw) < size:
            self._damaged("has a block shorter than its documents")

    def title(self, row: int) -> bytes:
        """The title kept apart of the block's document `row` (empty: none)."""
        start = self._base + (self._title_ends[row - 1] if row else 0)
        end = self._base + self._title_ends[row]
        self._read_to(end)
        return bytes(self._raw[start:end])

    def document(self, row: int) -> tuple[bytes, bytes]:
        """The title kept apart (empty: none) and the pickle of the block's document `row`."""
        start = self._base + (self._ends[row - 1] if row else self._title_ends[-1])
        end = self._base + self._ends[row]
        self._read_to(end)
        return self.title(row), bytes(self._raw[start:end])


def _title_text(kept: bytes) -> str:
    """A title kept apart, as its document's dict holds it."""
    return kept[len(TITLE_APART):].decode("utf-8", "surrogatepass")


class _MappedColumnFile(StructFile):
    """A column's file read from its memory map (Whoosh's StructFile over it: its seeks and reads
    are the map's, no system calls), a value's bytes a slice of it."""

    def __init__(self, data: mmap.mmap, name: str):
        super().__init__(data, name=name)
        self._data = data

    def get(self, position: int, length: int) -> bytes:
        return self._data[position:position + length]


class BlockStoredReader(W3PerDocReader):
    """W3's per-document reader with stored fields read from blocks (`stored_fields`)."""

    def __init__(self, storage: Any, segment: Any):
        super().__init__(storage, segment)
        self._filename = segment.make_filename(STORED_EXT)
        self._data = _buffer(storage, self._filename)
        table = self._read_table()
        if table.get("version") not in READABLE_VERSIONS:
            raise IndexDamaged(f"{self._filename} holds stored fields of version {table.get('version')!r}, "
                               f"not {VERSION}: written by another finsearch", [self._filename])
        self._titles_apart = table["version"] >= 2
        self._count = segment.doc_count_all()
        if table["documents"] != self._count:
            self._damaged(f"holds {table['documents']} documents where its segment has {self._count}")
        self._first_docs: list[int] = table["first_docs"]
        self._offsets: list[int] = table["offsets"]
        self._crcs: list[int] = table["crcs"]
        self._from_columns: dict[str, tuple[Any, Any]] = table["from_columns"]
        at, length, crc = table["dictionary"]
        compressed = self._data[at:at + length]
        if zlib.crc32(compressed) != crc:
            self._damaged("has a compression dictionary that fails its checksum")
        self._dictionary = zlib.decompress(compressed) if length else b""
        self._columns: dict[str, Any] = {}
        self._blocks: OrderedDict[int, _Inflating] = OrderedDict()
        self._documents: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()  # (title, pickle)
        self._lock = threading.Lock()

    def _damaged(self, problem: str) -> NoReturn:
        raise IndexDamaged(f"the stored fields file {self._filename} is damaged: it {problem}", [self._filename])

    def _read_table(self) -> dict[str, Any]:
        data = self._data
        if len(data) < len(MAGIC) + _TRAILER.size or data[:len(MAGIC)] != MAGIC:
            self._damaged("does not start as a stored fields file does")
        at, crc, magic = _TRAILER.unpack(data[len(data) - _TRAILER.size:])
        if magic != MAGIC or not len(MAGIC) <= at <= len(data) - _TRAILER.size:
            self._damaged("does not end as a stored fields file does")
        table_bytes = data[at:len(data) - _TRAILER.size]
        if zlib.crc32(table_bytes) != crc:
            self._damaged("has a table of blocks that fails its checksum")
        table = pickle.loads(table_bytes)
        assert isinstance(table, dict)
        return table

    def _block(self, number: int) -> _Inflating:
        """Block `number`, decompressed as far as it has been read (a reader's last CACHE_BLOCKS)."""
        block = self._blocks.get(number)
        if block is not None:
            self._blocks.move_to_end(number)
            return block
        start, end = self._offsets[number], self._offsets[number + 1]
        compressed = self._data[start:end]
        if zlib.crc32(compressed) != self._crcs[number]:
            self._damaged(f"has a block (documents {self._first_docs[number]} to "
                          f"{self._first_docs[number + 1] - 1}) that fails its checksum")
        block = self._blocks[number] = _Inflating(compressed, self._dictionary, self._damaged, self._titles_apart)
        while len(self._blocks) > CACHE_BLOCKS:
            self._blocks.popitem(last=False)
        return block

    def _pickled(self, docnum: int) -> tuple[bytes, bytes]:
        """The document's title kept apart (empty: none) and its pickle."""
        with self._lock:  # Whoosh's callers hold one too; the caches stay whole without it
            pickled = self._documents.get(docnum)
            if pickled is not None:
                self._documents.move_to_end(docnum)
                return pickled
            number = bisect.bisect_right(self._first_docs, docnum) - 1
            pickled = self._block(number).document(docnum - self._first_docs[number])
            self._documents[docnum] = pickled
            while len(self._documents) > CACHE_DOCUMENTS:
                self._documents.popitem(last=False)
            return pickled

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        """The document's stored fields, a new dict each call (callers may change theirs)."""
        self._check_docnum(docnum)
        title, pickled = self._pickled(docnum)
        if not pickled:
            return {}
        fields: dict[str, Any] = pickle.loads(pickled)
        for name, (fieldobj, columnobj) in self._from_columns.items():
            if name in fields and fields[name] is None:
                fields[name] = fieldobj.from_column_value(self._column(name, columnobj)[docnum])
        if title:
            fields[TITLE] = _title_text(title)
        return fields

    def title(self, docnum: int) -> str | None:
        """The document's title read alone, or None where the block does not keep it apart (a
        segment of version 1, a document without a title): then its stored fields say."""
        self._check_docnum(docnum)
        with self._lock:
            cached = self._documents.get(docnum)
            if cached is not None:
                title = cached[0]
            else:
                number = bisect.bisect_right(self._first_docs, docnum) - 1
                title = self._block(number).title(docnum - self._first_docs[number])
        return _title_text(title) if title else None

    def _check_docnum(self, docnum: int) -> None:
        if not 0 <= docnum < self._count:
            raise IndexError(f"no document {docnum} of {self._count}")

    def _get_column_file(self, fieldname: str) -> tuple[Any, int, int]:
        """A column's file, its offset and length (Whoosh's W3 reader's, which opens the file)."""
        filename = W3Codec.column_filename(self._segment, fieldname)
        data = _buffer(self._storage, filename)
        if not isinstance(data, mmap.mmap):  # in a compound file or in RAM, or empty: Whoosh's own
            return super()._get_column_file(fieldname)
        return _MappedColumnFile(data, filename), 0, len(data)

    def _column(self, fieldname: str, columnobj: Any) -> Any:
        reader = self._columns.get(fieldname)
        if reader is None:
            reader = self._columns[fieldname] = self.column_reader(fieldname, columnobj)
        return reader

    def close(self) -> None:
        super().close()
        self._blocks.clear()
        self._documents.clear()
        if isinstance(self._data, mmap.mmap):
            try:
                self._data.close()
            except BufferError:  # a read still slicing it: unmapped when it is done
                pass


class _BlockStored:
    """A codec's per-document files: W3's, with stored fields in blocks."""

    def per_document_writer(self, storage: Any, segment: Any) -> BlockStoredWriter:
        return BlockStoredWriter(self, storage, segment)

    def per_document_reader(self, storage: Any, segment: Any) -> BlockStoredReader:
        return BlockStoredReader(storage, segment)


class FS2Codec(_BlockStored, FS1Codec):
    """FS1's term dictionary and postings; stored fields in blocks (the fast writer's before FS3)."""


class FS3Codec(_BlockStored, FS1Codec):
    """FS1's term dictionary and postings with frequencies flagged in the doc gaps; stored
    fields in blocks (the fast writer's before FS4)."""

    def field_writer(self, storage: Any, segment: Any) -> FS1FieldWriter:
        return FS1FieldWriter(storage, segment, freq_flags=True)

    def terms_reader(self, storage: Any, segment: Any) -> FS1TermsReader:
        return FS1TermsReader(storage, segment, freq_flags=True)


class FS4Codec(_BlockStored, FS1Codec):
    """FS3's postings and stored fields with a compact term dictionary (storage/fs1.py; the
    fast writer's)."""

    def field_writer(self, storage: Any, segment: Any) -> FS1FieldWriter:
        return FS1FieldWriter(storage, segment, compact=True)

    def terms_reader(self, storage: Any, segment: Any) -> FS1TermsReader:
        return FS1TermsReader(storage, segment, compact=True)


class W3BlockStoredCodec(_BlockStored, W3Codec):
    """Whoosh's W3 postings; stored fields in blocks (Whoosh's own writer's, the fallback)."""
