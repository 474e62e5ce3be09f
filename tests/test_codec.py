"""The FS1 postings format (storage/fs1.py): its varints, its frequencies flagged, and its term
dictionary looked up and walked as Whoosh's readers do, on a real index of data/posts."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.reading import TermNotFound

from finsearch.indexer import build_index
from finsearch.search import SearchEngine, SearchRequest
from finsearch.storage import fs1 as codec
from finsearch.storage import generations as store
from finsearch.storage import postings, whoosh_format, writer
from finsearch.storage.schema import BODY, BODY_GRAM, ID_FIELD, TITLE
from finsearch.storage.stored import FS2Codec, FS3Codec


@given(st.lists(st.integers(min_value=0, max_value=2**40), max_size=300))
def test_varints_give_back_what_they_were_given(values):
    data, counts = codec.encode_varints(np.array(values, dtype=np.int64))
    assert counts.sum() == data.size
    assert codec.decode_varints(data).tolist() == values
    assert codec._small_varints(data.tobytes()) == values


def test_a_varint_takes_a_byte_per_seven_bits():
    values = np.array([0, 127, 128, 16_383, 16_384, 2**32 - 1], dtype=np.int64)
    _, counts = codec.encode_varints(values)
    assert counts.tolist() == [1, 1, 2, 2, 3, 5]


@st.composite
def field_postings(draw) -> codec.FieldPostings:
    """A field's postings: terms of one to a few hundred documents, most of frequency 1."""
    dfs = draw(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    docs = [np.sort(rng.choice(1 << int(rng.integers(9, 31)), size=df, replace=False)) for df in dfs]
    freqs = rng.choice([1, 1, 1, 2, 3, 200], size=sum(dfs))
    positions = [np.sort(rng.choice(1 << int(rng.integers(8, 31)), size=f, replace=False)) for f in freqs]
    return codec.FieldPostings([b"%03d" % i for i in range(len(dfs))], np.concatenate(([0], np.cumsum(dfs))),
                               np.concatenate(docs), freqs, np.concatenate(positions))


@given(field_postings(), st.booleans())
def test_postings_with_frequencies_flagged_read_back_as_written(field, positional):
    field = field if positional else codec.FieldPostings(field.terms, field.starts, field.docs, field.freqs, None)
    data, docs_nbytes, positions_nbytes = codec._flagged_regions(field)
    assert docs_nbytes.sum() + positions_nbytes.sum() == data.size
    values, value_at = codec._decode_regions(data, docs_nbytes + positions_nbytes)
    dfs = np.diff(field.starts)
    gaps, freqs, positions_at = codec._unflag(values, value_at, dfs)
    assert np.array_equal(codec._runs_cumsum(gaps, field.starts), field.docs)
    assert np.array_equal(freqs, field.freqs)
    # A rare term's docs regions, from several segments, decoded in Python
    term_at = np.cumsum(docs_nbytes + positions_nbytes) - docs_nbytes - positions_nbytes
    docs_regions = data[codec.spans(term_at, docs_nbytes)].tobytes()
    small_docs, small_freqs = codec._small_flagged(codec._small_varints(docs_regions), dfs.tolist(), [0] * dfs.size)
    assert np.array_equal(small_docs, field.docs) and np.array_equal(small_freqs, field.freqs)
    if positional:
        positions = codec._runs_cumsum(values[codec.spans(positions_at, np.add.reduceat(freqs, field.starts[:-1]))],
                                       np.concatenate(([0], np.cumsum(freqs))))
        assert np.array_equal(positions, field.positions)


@pytest.fixture(scope="module")
def segments(index_dir):
    ix, _ = store.open_current(index_dir)
    reader = ix.reader()
    leaves = [segment for segment, _ in reader.leaf_readers()]
    assert leaves and all(whoosh_format.fs1_terms(segment) is not None for segment in leaves)
    yield leaves
    reader.close()


@pytest.mark.slow  # tens of thousands of terms listed, a seventh of them looked up and read
def test_every_term_is_found_with_the_statistics_it_was_listed_with(segments):
    looked_up = 0
    for segment in segments:
        terms = whoosh_format.fs1_terms(segment)
        for fieldname in (TITLE, BODY_GRAM, ID_FIELD):
            listed = list(terms.items_from(fieldname, b""))
            listed = [(tbytes, info) for (name, tbytes), info in listed if name == fieldname]
            keys = [tbytes for tbytes, _ in listed]
            assert keys == sorted(keys) and len(set(keys)) == len(keys)
            assert len(keys) > codec.BLOCK_TERMS  # several blocks
            for tbytes, info in listed[::7] + listed[-3:]:
                found = terms.term_info(fieldname, tbytes)
                assert (found.doc_frequency(), found.weight(), found.postings_at) == (
                    info.doc_frequency(), info.weight(), info.postings_at)
                read = terms.postings(found, positions=False)
                assert read.docs.size == found.doc_frequency() and read.freqs.sum() * terms.boost(
                    fieldname) == pytest.approx(found.weight())
                looked_up += 1
    assert looked_up > 1000


def test_terms_it_does_not_hold_are_not_found(segments):
    terms = whoosh_format.fs1_terms(segments[0])
    keys = [tbytes for (name, tbytes) in terms.terms_from(BODY_GRAM, b"") if name == BODY_GRAM]
    absent = [b"", keys[0][:-1], keys[-1] + b"\xff", "不存在的词".encode()]
    held = set(keys)
    absent += [a + b"\x00" for a in keys[::97] if a + b"\x00" not in held]
    for tbytes in absent:
        assert (BODY_GRAM, tbytes) not in terms
        with pytest.raises(TermNotFound):
            terms.term_info(BODY_GRAM, tbytes)
    assert ("no such field", keys[0]) not in terms


def test_walking_from_a_prefix_starts_at_the_first_term_not_before_it(segments):
    reader_terms = whoosh_format.fs1_terms(segments[0])
    keys = [tbytes for (name, tbytes) in reader_terms.terms_from(TITLE, b"") if name == TITLE]
    for start in ("银", "金融", "A", "\u9fff"):
        prefix = start.encode()
        walked = next((t for name, t in reader_terms.terms_from(TITLE, prefix) if name == TITLE), None)
        expected = next((key for key in keys if key >= prefix), None)
        assert walked == expected, start


def test_positions_come_back_per_document_in_order(segments):
    terms = whoosh_format.fs1_terms(segments[0])
    info = terms.term_info(BODY_GRAM, "公司".encode())
    read = terms.postings(info, positions=True)
    assert read.position_starts is not None and read.positions is not None
    counts = np.diff(read.position_starts)
    assert np.array_equal(counts, read.freqs) and counts.max() > 1
    for row in range(read.docs.size):
        mine = read.positions[read.position_starts[row]:read.position_starts[row + 1]]
        assert np.all(np.diff(mine) > 0)


def test_a_term_read_from_all_segments_at_once_is_each_segment_read_alone(index_dir):
    ix, _ = store.open_current(index_dir)
    with ix.reader() as reader:
        leaves = reader.leaf_readers()
        assert len(leaves) > 1
        for word in ("公司", "金融", "债券"):
            pieces = [(whoosh_format.fs1_terms(segment), segment.term_info(BODY_GRAM, word.encode()), base)
                      for segment, base in leaves if (BODY_GRAM, word.encode()) in segment]
            assert len(pieces) > 1
            alone = [(terms.postings(info, positions=True), base) for terms, info, base in pieces]
            together = codec.segments_postings(pieces, positions=True)
            assert together.docs.tolist() == [d + base for read, base in alone for d in read.docs.tolist()]
            assert together.freqs.tolist() == [f for read, _ in alone for f in read.freqs.tolist()]
            assert together.positions.tolist() == [p for read, _ in alone for p in read.positions.tolist()]


def test_document_counts_read_in_bulk_are_whooshs_own(index_dir):
    """The suggestion vocabulary counts a million words this way: one pass per segment."""
    ix, _ = store.open_current(index_dir)
    with ix.reader() as reader:
        words = sorted({tbytes for keys, _ in postings.field_terms(reader, TITLE) for tbytes in keys})
        asked = sorted({*words[::3], "供应链金融".encode(), "没有这个词的词".encode(), b"zzzz"})
        counts = postings.doc_frequencies(reader, BODY, asked)
        assert counts.tolist() == [reader.doc_frequency(BODY, tbytes) for tbytes in asked]
        assert counts[asked.index("没有这个词的词".encode())] == 0 and counts.max() > 100
        titles = {}
        for keys, dfs in postings.field_terms(reader, TITLE):
            for tbytes, df in zip(keys, dfs.tolist()):
                titles[tbytes] = titles.get(tbytes, 0) + df
        assert titles == {tbytes: reader.doc_frequency(TITLE, tbytes) for tbytes in words}


@pytest.mark.slow  # a second build of data/posts
def test_postings_encoded_in_small_runs_are_the_same_bytes(archive, index_dir, tmp_path, monkeypatch):
    """The writer bounds its memory by encoding a field a run of terms at a time; the runs
    must join into exactly the file one run would write."""
    monkeypatch.setattr(codec, "ENCODE_VALUES", 5_000)
    monkeypatch.setattr(writer, "GATHER_ROWS", 3_000)
    build_index(archive, tmp_path / "small-runs", progress=False)

    def contents(root) -> list[str]:
        build = store.current_build(root)
        return sorted(hashlib.sha256(path.read_bytes()).hexdigest()
                      for ext in (codec.TERMS_EXT, codec.POSTINGS_EXT) for path in build.glob(f"*{ext}"))

    assert len(contents(index_dir)) >= 4 and contents(tmp_path / "small-runs") == contents(index_dir)


@pytest.mark.slow  # two more builds of data/posts
def test_indexes_of_the_older_postings_formats_answer_as_todays(archive, index_dir, tmp_path, monkeypatch):
    """The same posts written as FS2 (postings as varints), FS3 (frequencies flagged) and today's
    FS4 (flagged, the term dictionary compact): the same answers, in fewer bytes each time."""
    older = {"unflagged": FS2Codec, "flagged": FS3Codec}
    for kind, older_codec in older.items():
        with monkeypatch.context() as before:
            before.setattr(whoosh_format, "FS4Codec", older_codec)
            build_index(archive, tmp_path / kind, progress=False)
    builds = {"compact": store.current_build(index_dir),
              **{kind: store.current_build(tmp_path / kind) for kind in older}}
    codecs = {"compact": "FS4Codec", "flagged": "FS3Codec", "unflagged": "FS2Codec"}
    for kind, build in builds.items():
        ix = whoosh_index.open_dir(str(build))
        with ix.reader() as reader:
            assert {type(s.segment().codec()).__name__ for s, _ in reader.leaf_readers()} == {codecs[kind]}

    def answers(root) -> list:
        engine = SearchEngine(root)
        pages = []
        for query in ("公司", "央行", "供应链金融", '"上海 银行"', "茅台 NEAR/5 提价", "金融 -银行", "title:银行", "ChatGPT", "Anthropic"):
            for page in (1, 2):
                result = engine.search(SearchRequest(query=query, page=page))
                pages.append((result.total, result.articles, [(hit.id, hit.snippet, hit.reprints) for hit in result.hits]))
        engine.close()
        return pages

    assert answers(index_dir) == answers(tmp_path / "flagged") == answers(tmp_path / "unflagged")

    def file_bytes(build, ext: str) -> int:
        return sum(path.stat().st_size for path in build.glob(f"*{ext}"))

    assert file_bytes(builds["flagged"], codec.POSTINGS_EXT) < 0.9 * file_bytes(builds["unflagged"], codec.POSTINGS_EXT)
    assert file_bytes(builds["compact"], codec.POSTINGS_EXT) == file_bytes(builds["flagged"], codec.POSTINGS_EXT)
    assert file_bytes(builds["compact"], codec.TERMS_EXT) < 0.9 * file_bytes(builds["flagged"], codec.TERMS_EXT)


@pytest.mark.parametrize("compact", [False, True])
def test_a_dictionary_of_awkward_terms_lists_and_finds_each_with_its_count(compact, monkeypatch):
    """Terms sharing long prefixes (beyond what a compact block records, beyond 255 bytes), NUL
    bytes, long terms, over several blocks and several passes of the writer (BLOCKS_AT_ONCE)."""
    from whoosh.codec.whoosh3 import W3Codec, W3Segment
    from whoosh.fields import ID
    from whoosh.filedb.filestore import RamStorage
    monkeypatch.setattr(codec, "BLOCKS_AT_ONCE", 3)
    rng = np.random.default_rng(7)
    long = b"x" * 300
    terms = {b"ab", b"ab\x00", b"ab\x00\x00", b"a\x00b", long, long + b"y", "金融科技".encode() * 20}
    terms |= {bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8)) for _ in range(300)}
    terms |= {long[:int(n)] + bytes(rng.integers(0, 3, 2, dtype=np.uint8)) for n in rng.integers(1, 300, 200)}
    keys = sorted(terms)
    dfs = rng.integers(1, 4, len(keys))
    docs = np.concatenate([np.sort(rng.choice(1000, size=df, replace=False)) for df in dfs])
    storage, segment = RamStorage(), W3Segment(W3Codec(), "awkward")
    written = codec.FS1FieldWriter(storage, segment, compact=compact)
    written.add_field("f", ID(), codec.FieldPostings(keys, np.concatenate(([0], np.cumsum(dfs))), docs,
                                                      np.ones(docs.size, dtype=np.int64), None))
    written.close()
    reader = codec.FS1TermsReader(storage, segment, compact=compact)
    listed = [(tbytes, info.doc_frequency()) for (_, tbytes), info in reader.items_from("f", b"")]
    assert listed == list(zip(keys, dfs.tolist()))
    for key, df in zip(keys[::5], dfs[::5].tolist()):
        assert reader.term_info("f", key).doc_frequency() == df
