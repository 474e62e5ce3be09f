"""Stored fields in compressed blocks (storage/stored.py): what an article page, a snippet, an
export and the re-scoring read back is exactly what Whoosh's own W3 stored, whichever writer
wrote it, after merges with segments of the older formats too; a damaged block is an error
naming its file, never a wrong answer; and the index is smaller for it.

Real posts of data/posts throughout; every index is a real one on disk.
"""
from __future__ import annotations

import itertools
import pickle
import random
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from finsearch.indexer import build_index
from finsearch.indexer.document import to_document
from finsearch.storage import Documents, IndexDamaged, postings, whoosh_format
from finsearch.storage import generations as store
from finsearch.storage import stored as stored_format
from finsearch.storage.fs1 import FS1Codec
from finsearch.storage.schema import BODY_GRAM, DATE, ID_FIELD, TITLE, TITLE_GRAM, make_schema
from finsearch.storage.stored import FS2Codec, FS3Codec
from finsearch.storage.writer import BulkWriter, open_writer


@pytest.fixture(scope="module")
def documents(archive_posts) -> list[dict]:
    """About 250 real posts (the long finews ones among them), a post without a date, and a
    document with nothing stored."""
    finews = [p for p in archive_posts if p.path.startswith("finews/")]
    wire = [p for p in archive_posts if not p.path.startswith("finews/")]
    docs = [to_document(post) for post in finews + wire[::12]]
    undated = {name: value for name, value in to_document(wire[1]).items() if name != DATE}
    docs.insert(7, {**undated, ID_FIELD: "undated", "path": "undated.md"})
    docs.insert(50, {TITLE_GRAM: "只有索引，没有存储"})
    return docs


@pytest.fixture(scope="module")
def whoosh_stored(documents, tmp_path_factory) -> tuple[list[list[tuple]], int]:
    """What Whoosh's own writer stores of `documents` (by docnum), and its `_stored.col` bytes."""
    folder = tmp_path_factory.mktemp("w3") / "index"
    reference = _write(folder, documents, _whoosh, merge=False)
    assert _codecs(reference) == ["W3Codec"]
    return _stored(reference), _bytes(folder, "_stored.col")


def _write(folder: Path, docs: list[dict], open_a_writer, **commit) -> whoosh_index.FileIndex:
    folder.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.exists_in(str(folder)) and whoosh_index.open_dir(str(folder)) or whoosh_index.create_in(
        str(folder), make_schema())
    writer = open_a_writer(ix)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit(**commit)
    return whoosh_index.open_dir(str(folder))


def _whoosh(ix):
    """Whoosh's own writer and codec (W3: one compressed pickle a document), separate files."""
    return ix.writer(compound=False)


def _stored(ix, order: list[int] | None = None) -> list[list[tuple]]:
    """Every document's stored fields, items in order, by docnum; read in `order` if given (a
    fresh reader, so its caches start empty)."""
    with ix.reader() as reader:
        docnums = list(range(reader.doc_count_all())) if order is None else order
        read = {docnum: list(reader.stored_fields(docnum).items()) for docnum in docnums}
        return [read[docnum] for docnum in sorted(read)]


def _titles(ix) -> list[str]:
    """Every document's title, read alone where its segment keeps titles apart."""
    with ix.reader() as reader:
        documents = Documents(reader)
        return [documents.title(docnum) for docnum in range(reader.doc_count_all())]


def _codecs(ix) -> list[str]:
    with ix.reader() as reader:
        return [type(segment.segment().codec()).__name__ for segment, _ in reader.leaf_readers()]


def _bytes(folder: Path, suffix: str) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.name.endswith(suffix))


@pytest.mark.parametrize("writer, codec", [
    (BulkWriter, "FS4Codec"),
    pytest.param(whoosh_format.StockSegmentWriter, "W3BlockStoredCodec", marks=pytest.mark.slow)])  # Whoosh's writer
def test_both_writers_store_what_whoosh_stores_in_fewer_bytes(documents, whoosh_stored, tmp_path, writer, codec):
    expected, w3_bytes = whoosh_stored
    written = _write(tmp_path / "blocks", documents, lambda ix: writer(ix, compound=False), merge=False)
    assert _codecs(written) == [codec]
    assert expected[50] == [] and DATE not in dict(expected[7]) and len(expected) == len(documents)
    assert _stored(written) == expected
    order = list(range(len(documents)))
    random.Random(28).shuffle(order)
    assert _stored(written, order) == expected  # any order: the caches give back what the blocks hold
    assert _stored(written, order[::-1] + order) == expected
    # The stored date is read back from the date column, not stored twice.
    fsd = next((tmp_path / "blocks").glob(f"*{stored_format.STORED_EXT}"))
    with written.reader() as reader:
        assert list(reader.leaf_readers()[0][0]._perdoc._from_columns) == [DATE]
    assert not list((tmp_path / "blocks").glob("*_stored.col"))
    assert fsd.stat().st_size < 0.5 * w3_bytes


def test_columns_are_read_from_their_memory_map_as_whoosh_reads_them(documents, tmp_path, monkeypatch):
    """A post's id and date come from columns: read from the file's memory map (a slice each),
    they are what Whoosh's own reads of the file give."""
    written = _write(tmp_path / "blocks", documents, lambda ix: BulkWriter(ix, compound=False), merge=False)

    def columns() -> tuple[dict[str, list], set[type]]:
        with written.reader() as reader:
            values = {field: list(reader.column_reader(field, translate=False)) for field in (ID_FIELD, DATE)}
            kinds = {type(colfile) for colfile, _, _ in reader.leaf_readers()[0][0]._perdoc._colfiles.values()}
            return values, kinds

    mapped, kinds = columns()
    assert kinds == {stored_format._MappedColumnFile}
    monkeypatch.setattr(stored_format.BlockStoredReader, "_get_column_file",
                        stored_format.W3PerDocReader._get_column_file)
    read, kinds = columns()
    assert stored_format._MappedColumnFile not in kinds
    assert mapped == read and b"undated" in mapped[ID_FIELD] and len(set(mapped[DATE])) > 100


def test_the_fallback_writer_writes_stored_fields_in_blocks(documents, whoosh_stored, tmp_path, monkeypatch):
    monkeypatch.setenv(whoosh_format.FAST_ENV, "0")
    whoosh_format.clear_cache()
    try:
        ix = _write(tmp_path / "fallback", documents[:60], lambda ix: open_writer(ix, compound=False), merge=False)
        assert _codecs(ix) == ["W3BlockStoredCodec"]
        assert _stored(ix) == whoosh_stored[0][:60]
    finally:
        whoosh_format.clear_cache()


@pytest.mark.parametrize("writer, codec", [
    (BulkWriter, "FS4Codec"),
    pytest.param(whoosh_format.StockSegmentWriter, "W3BlockStoredCodec", marks=pytest.mark.slow)])  # Whoosh's merge
def test_segments_of_the_older_formats_are_read_and_merged_into_blocks(documents, whoosh_stored, tmp_path,
                                                                        monkeypatch, writer, codec):
    """An index written before: a W3 segment (Whoosh's writer), an FS1 one (the fast writer
    before blocks), an FS2 one (before flagged frequencies) and an FS3 one (before the compact
    dictionary), its stored fields of version 1 (before titles were kept apart). New posts come
    as a segment of today's beside them; then one commit merges all."""
    parts = [documents[:60], documents[60:100], documents[100:140], documents[140:180], documents[180:]]
    folder = tmp_path / "index"
    _write(folder, parts[0], _whoosh, merge=False)
    for older, part in zip((FS1Codec, FS2Codec, FS3Codec), parts[1:4]):
        with monkeypatch.context() as old:
            old.setattr(whoosh_format, "FS4Codec", older)
            before = set(folder.glob(f"*{stored_format.STORED_EXT}"))
            compound = older is not FS3Codec  # the FS3 segment's .fsd a file of its own, rewritten below
            _write(folder, part, lambda ix, compound=compound: BulkWriter(ix, compound=compound), merge=False)
    (fs3_stored,) = set(folder.glob(f"*{stored_format.STORED_EXT}")) - before
    _as_version_1(fs3_stored)
    mixed = _write(folder, parts[4], lambda ix: writer(ix), merge=False)
    assert _codecs(mixed) == ["W3Codec", "FS1Codec", "FS2Codec", "FS3Codec", codec]
    expected = whoosh_stored[0]
    assert _stored(mixed) == expected
    assert _titles(mixed) == [dict(items).get(TITLE, "") for items in expected]
    at_once = _write(tmp_path / "at-once", documents, lambda ix: writer(ix), merge=False)
    assert _postings(mixed) == _postings(at_once)  # the same documents, numbered alike

    deleted = {documents[3][ID_FIELD], documents[100][ID_FIELD], documents[200][ID_FIELD]}
    ix = whoosh_index.open_dir(str(folder))
    merging = writer(ix)
    for doc_id in deleted:
        merging.delete_by_term(ID_FIELD, doc_id)
    merging.commit(optimize=True)
    merged = whoosh_index.open_dir(str(folder))
    assert _codecs(merged) == [codec]
    kept = [items for items in expected if dict(items).get(ID_FIELD) not in deleted]
    # The same dicts; in an order of keys of Whoosh's merge (a set's), with W3 too.
    assert sorted(repr(sorted(items)) for items in _stored(merged)) == sorted(repr(sorted(items)) for items in kept)
    assert len(kept) == len(documents) - 3
    with merged.reader() as reader:  # the merged segment keeps its titles apart
        assert whoosh_format.stored_title(reader.leaf_readers()[0][0], 0) == dict(kept[0])[TITLE]
    assert not list(folder.glob("*_stored.col"))  # the old segments' files went with them


def _as_version_1(fsd: Path) -> None:
    """Rewrite a `.fsd` file as version 1 wrote it: blocks of a count, the pickles' ends and the
    pickles, each title in its pickle."""
    data = fsd.read_bytes()
    at, _, _ = stored_format._TRAILER.unpack(data[-stored_format._TRAILER.size:])
    table = pickle.loads(data[at:-stored_format._TRAILER.size])
    assert table["version"] == 2
    start, length, _ = table["dictionary"]
    dictionary = zlib.decompress(data[start:start + length]) if length else b""
    out = bytearray(data[:table["offsets"][0]])  # the magic and the dictionary
    offsets, crcs = [], []
    for begin, end in itertools.pairwise(table["offsets"]):
        raw = zlib.decompressobj(stored_format.RAW_DEFLATE, zdict=dictionary).decompress(data[begin:end])
        (count,) = struct.unpack_from("<I", raw)
        ends = struct.unpack_from(f"<{2 * count}I", raw, 4)
        base = 4 * (2 * count + 1)
        pieces = [raw[base + a:base + b] for a, b in itertools.pairwise((0, *ends))]
        pickles = []
        for title, pickled in zip(pieces[:count], pieces[count:]):
            fields = pickle.loads(pickled) if pickled else None
            if title:
                fields[TITLE] = title[1:].decode()
            pickles.append(pickle.dumps(fields, protocol=5) if fields is not None else b"")
        block = b"".join([struct.pack(f"<I{count}I", count, *itertools.accumulate(map(len, pickles))), *pickles])
        compressor = zlib.compressobj(6, zlib.DEFLATED, stored_format.RAW_DEFLATE, zdict=dictionary)
        compressed = compressor.compress(block) + compressor.flush()
        offsets.append(len(out))
        crcs.append(zlib.crc32(compressed))
        out += compressed
    table.update(version=1, offsets=[*offsets, len(out)], crcs=crcs)
    table_bytes = pickle.dumps(table, protocol=5)
    fsd.write_bytes(bytes(out) + table_bytes + stored_format._TRAILER.pack(len(out), zlib.crc32(table_bytes),
                                                                         stored_format.MAGIC))


def _postings(ix) -> dict[tuple[str, bytes], tuple[list, list, list]]:
    """Docnums, weights and positions of every term of the text fields, read across segments."""
    read = {}
    with ix.reader() as reader:
        for field in (TITLE_GRAM, BODY_GRAM):
            terms = sorted({tbytes for keys, _ in postings.field_terms(reader, field) for tbytes in keys})
            for tbytes in terms:
                found = postings.read_postings(postings.find_term(reader, field, tbytes), positions=True)
                read[field, tbytes] = (found.docs.tolist(), found.weights.tolist(), found.positions.tolist())
    return read


def _blocks_of(fsd: Path) -> tuple[list[int], int]:
    """A `.fsd` file's block offsets and where its table starts."""
    data = fsd.read_bytes()
    at, _, _ = stored_format._TRAILER.unpack(data[-stored_format._TRAILER.size:])
    table = pickle.loads(data[at:-stored_format._TRAILER.size])
    return table["offsets"], at


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0x08]))


def test_a_damaged_block_is_an_error_naming_its_file_never_a_wrong_answer(documents, tmp_path):
    folder = tmp_path / "index"
    ix = _write(folder, documents, lambda ix: BulkWriter(ix, compound=False), merge=False)
    expected = _stored(ix)
    fsd = next(folder.glob(f"*{stored_format.STORED_EXT}"))
    offsets, table_at = _blocks_of(fsd)
    assert len(offsets) > 10  # many blocks
    _flip(fsd, (offsets[5] + offsets[6]) // 2)
    with ix.reader() as reader:
        read, errors = [], []
        for docnum in range(reader.doc_count_all()):
            try:
                read.append(list(reader.stored_fields(docnum).items()))
            except IndexDamaged as error:
                errors.append(error)
                read.append(None)
    assert errors and all(error.files == (fsd.name,) and "fails its checksum" in str(error) for error in errors)
    assert all(found == wanted for found, wanted in zip(read, expected) if found is not None)  # the rest is right
    _flip(fsd, (offsets[5] + offsets[6]) // 2)  # mended
    _flip(fsd, table_at + 3)
    with pytest.raises(IndexDamaged) as opened:
        whoosh_index.open_dir(str(folder)).reader()
    assert opened.value.files == (fsd.name,) and "table" in str(opened.value)


@pytest.mark.slow  # a build and a reindex
def test_a_damaged_block_file_is_named_by_the_generations_checks(archive, tmp_path):
    small = tmp_path / "posts"
    shutil.copytree(archive / "finews", small / "finews")
    for path in sorted(p for p in archive.rglob("*.md") if "finews" not in p.parts)[::30]:
        target = small / path.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    root = tmp_path / "index"
    build_index(small, root, progress=False)
    build = store.current_build(root)
    fsd = max(build.glob(f"*{stored_format.STORED_EXT}"), key=lambda p: p.stat().st_size)
    assert not list(build.glob("*_stored.col"))
    store.verify_generation(build)
    _flip(fsd, fsd.stat().st_size // 2)
    with pytest.raises(IndexDamaged) as checked:
        store.verify_generation(build)
    assert fsd.name in checked.value.files
