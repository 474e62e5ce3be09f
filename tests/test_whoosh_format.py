"""The fence around Whoosh's file format: the fast reader and writer against stock Whoosh,
and the fallback to Whoosh's own code when the version gate or the self-check says no.

Real posts of data/posts throughout; every index is a real one on disk.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.fields import DATETIME

from finsearch.analysis.near_duplicates import STORY_KEY_BYTES
from finsearch.indexer import build_index
from finsearch.indexer.document import to_document
from finsearch.search import SearchEngine
from finsearch.search.evaluate import IndexView, evaluate
from finsearch.search.query import WORD_FIELD_OF_GRAM, parse_query
from finsearch.search.types import SearchRequest, Sort
from finsearch.storage import generations as store
from finsearch.storage import whoosh_format
from finsearch.storage.postings import field_lengths, find_term, read_postings
from finsearch.storage.schema import DATE, ID_FIELD, STORY, TITLE_KEY, make_schema
from finsearch.storage.writer import BulkWriter, open_writer
from tests.whoosh_contents import index_contents, positions_at

FENCE_LOG = whoosh_format.__name__
QUERIES = ["银行", "人工智能", "供应链金融", "美联储 OR 央行", "金融 -银行", "A股", "3.5%", "title:美联储", ""]


@pytest.fixture
def fast(monkeypatch):
    """The fast paths on, whatever the environment of the test run says."""
    monkeypatch.setenv(whoosh_format.FAST_ENV, "1")
    whoosh_format.clear_cache()
    yield
    whoosh_format.clear_cache()


@pytest.fixture
def forced_off(monkeypatch):
    monkeypatch.setenv(whoosh_format.FAST_ENV, "0")
    whoosh_format.clear_cache()
    yield
    whoosh_format.clear_cache()


@pytest.fixture(scope="module")
def batches(archive_posts):
    """Real posts, long and short, in four batches of commits."""
    finews = [p for p in archive_posts if p.path.startswith("finews/")]
    wire = [p for p in archive_posts if not p.path.startswith("finews/")]
    posts = finews + wire[::4]  # about 750 posts
    assert len(finews) == 5 and len(posts) > 700
    # A first segment of 300: common terms take several blocks in it
    return [posts[:300], posts[300:500], posts[500:620], posts[620:]]


def _write_in_commits(folder: Path, batches, open_a_writer: Callable,
                      look: Callable) -> tuple[list[int], list]:
    """The same history for any writer: two commits kept apart; deletions; five tiny commits
    and one that merges them (Whoosh's MERGE_SMALL); an optimizing commit, which merges
    segments holding deleted documents. Returns the number of segments after each commit,
    and `look(ix)` after the deletions, the merge and the optimization."""
    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), make_schema())
    segments, seen = [], []

    def commit(posts, deleted=(), observe: bool = False, **how) -> None:
        writer = open_a_writer(ix)
        for post in deleted:
            writer.delete_by_term(ID_FIELD, post.id)
        for post in posts:
            writer.add_document(**to_document(post))
        writer.commit(**how)
        segments.append(_segments(ix))
        if observe:
            seen.append(look(ix))

    commit(batches[0], merge=False)
    commit(batches[1], merge=False)
    commit([], batches[0][::7] + batches[1][::9], observe=True, merge=False)
    for start in range(0, 10, 2):  # five tiny segments: MERGE_SMALL merges five or more small ones
        commit(batches[2][start:start + 2], merge=False)
    commit(batches[2][10:], observe=True)
    commit(batches[3], observe=True, optimize=True)
    assert segments == [1, 2, 2, 3, 4, 5, 6, 7, 3, 1]  # the ninth commit merged the five tiny segments
    return segments, seen


def _segments(ix) -> int:
    with ix.reader() as reader:
        return len(reader.leaf_readers())


def _assert_reads_as_whoosh(ix, block_postings: int = 128) -> int:
    """The fast reader's postings and lengths equal Whoosh's for a spread of terms of every
    field; returns how many of them have more postings in a segment than a W3 block holds."""
    several_blocks = 0
    with ix.reader() as reader:
        assert whoosh_format.verify_reader(reader)
        assert all(whoosh_format.fast_reading(segment) for segment, _ in reader.leaf_readers())
        for fieldname in sorted(reader.indexed_field_names()):
            field = reader.schema[fieldname]
            positional = field.format.supports("positions")
            # A date field's terms start at the least date (an empty prefix is no date).
            start = dt.datetime.min if isinstance(field, DATETIME) else ""
            sample: set[bytes] = set()
            for segment, _ in reader.leaf_readers():  # a segment lists its terms much faster
                terms = [(info.doc_frequency(), tbytes) for tbytes, info in segment.iter_field(fieldname, start)]
                sample.update(tbytes for _, tbytes in terms[::251])
                common = sorted(terms, reverse=True)[:3]
                sample.update(tbytes for _, tbytes in common)
                several_blocks += sum(df > block_postings for df, _ in common)
            for tbytes in sorted(sample):
                postings = read_postings(find_term(reader, fieldname, tbytes), positions=positional)
                live = [row for row, d in enumerate(postings.docs.tolist()) if not reader.is_deleted(d)]
                matcher = reader.postings(fieldname, tbytes)
                expected = []
                while matcher.is_active():
                    value = list(matcher.value_as("positions")) if positional else None
                    expected.append((matcher.id(), matcher.weight(), value))
                    matcher.next()
                found = [(int(postings.docs[row]), float(postings.weights[row]),
                          positions_at(postings, row) if positional else None) for row in live]
                assert found == expected, (fieldname, tbytes)
        for fieldname in ("title", "body", "title_gram", "body_gram"):
            lengths = field_lengths(reader, fieldname)
            assert lengths.tolist() == [reader.doc_field_length(d, fieldname, 0)
                                        for d in range(reader.doc_count_all())]
    return several_blocks


@pytest.mark.slow  # Whoosh's own writer, ten commits of 750 posts
def test_the_fast_reader_reads_indexes_of_stock_whoosh_as_whoosh_does(batches, tmp_path, fast):
    """Whoosh's own writer: compound files, 128-posting compressed blocks, no inlining; read
    after every commit: several segments, deleted documents in them, merged segments."""
    def check(ix) -> tuple[int, int, bool]:
        with ix.reader() as reader:
            shape = (len(reader.leaf_readers()), reader.has_deletions())
        return _assert_reads_as_whoosh(ix), *shape

    _, checked = _write_in_commits(tmp_path / "stock", batches, lambda ix: ix.writer(), check)
    assert all(several_blocks > 3 for several_blocks, _, _ in checked)
    assert [shape for _, *shape in checked] == [[2, True], [3, True], [1, False]]


@pytest.mark.slow  # the same history written twice, every term read back
def test_the_bulk_writer_merges_segments_as_whoosh_does(batches, tmp_path, fast):
    fewer = [batch[::3] for batch in batches]  # the history matters here, not the number of posts
    stock = _write_in_commits(tmp_path / "whoosh", fewer, lambda ix: ix.writer(), index_contents)
    bulk = _write_in_commits(tmp_path / "bulk", fewer, BulkWriter, index_contents)
    assert bulk[0] == stock[0]
    for stage, expected, found in zip(("deletions", "merge", "optimization"), stock[1], bulk[1], strict=True):
        assert found == expected, f"after the {stage}"
    assert stock[1][0][4] and not stock[1][2][4]  # deleted documents, gone once merged
    # The bulk writer's own index, merges included, reads fast as Whoosh reads it, long lists too.
    bulk_ix = whoosh_index.open_dir(str(tmp_path / "bulk"))
    assert _assert_reads_as_whoosh(bulk_ix, block_postings=64) > 3


def _search_everything(index_dir: Path) -> tuple[list, list]:
    """Search results (less the time taken) and the evaluator's exact scores for QUERIES."""
    engine = SearchEngine(index_dir)
    try:
        results = [dataclasses.replace(engine.search(SearchRequest(query=q, sort=sort, page_size=20)), seconds=0.0)
                   for q in QUERIES for sort in (Sort.RELEVANCE, Sort.NEWEST)]
    finally:
        engine.close()
    ix, _ = store.open_current(index_dir)
    with ix.searcher() as searcher:
        live = np.fromiter(searcher.reader().all_doc_ids(), dtype=np.int64)
        view = IndexView(searcher, live, WORD_FIELD_OF_GRAM)
        scores = []
        for q in QUERIES:
            matches = evaluate(view, parse_query(q).query)
            scores.append((matches.docs.tolist(), matches.scores.tolist()))
    return results, scores


def _fence_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == FENCE_LOG and r.levelno >= logging.WARNING]


@pytest.fixture(scope="module")
def fast_answers(index_dir):
    mp = pytest.MonkeyPatch()
    mp.setenv(whoosh_format.FAST_ENV, "1")
    whoosh_format.clear_cache()
    try:
        answers = _search_everything(index_dir)
    finally:
        mp.undo()
        whoosh_format.clear_cache()
    assert any(result.total > 20 for result in answers[0])
    return answers


def test_turned_off_by_the_environment_the_stock_paths_answer_the_same(index_dir, fast_answers, forced_off,
                                                                        caplog):
    caplog.set_level(logging.WARNING, logger=FENCE_LOG)
    assert _search_everything(index_dir) == fast_answers
    assert _search_everything(index_dir) == fast_answers  # a second engine: still one warning
    warnings = _fence_warnings(caplog)
    assert len(warnings) == 1 and f"{whoosh_format.FAST_ENV}=0" in warnings[0]


def test_a_whoosh_version_not_verified_turns_the_fast_paths_off(index_dir, fast_answers, monkeypatch, caplog):
    monkeypatch.setenv(whoosh_format.FAST_ENV, "1")
    monkeypatch.setattr(whoosh_format, "VERIFIED_VERSIONS", ("2.7.4",))
    whoosh_format.clear_cache()
    caplog.set_level(logging.WARNING, logger=FENCE_LOG)
    try:
        assert _search_everything(index_dir) == fast_answers
        with store.open_current(index_dir)[0].reader() as reader:
            assert not whoosh_format.verify_reader(reader)
        warnings = _fence_warnings(caplog)
        assert len(warnings) == 1
        assert whoosh_format.installed_whoosh() in warnings[0] and "2.7.4" in warnings[0]
    finally:
        whoosh_format.clear_cache()


@pytest.fixture(scope="module")
def w3_index(archive, tmp_path_factory):
    """A real index in Whoosh's W3 format (the fallback writer's), of a fifth of data/posts."""
    root = tmp_path_factory.mktemp("w3") / "index"
    mp = pytest.MonkeyPatch()
    mp.setenv(whoosh_format.FAST_ENV, "0")
    whoosh_format.clear_cache()
    try:
        build_index(_small_archive(archive, tmp_path_factory.mktemp("posts"), every=5), root, progress=False)
    finally:
        mp.undo()
        whoosh_format.clear_cache()
    with store.open_current(root)[0].reader() as reader:
        assert all(whoosh_format.fs1_terms(segment) is None for segment, _ in reader.leaf_readers())
    return root


@pytest.mark.slow  # a W3 index of 600 posts, built for it
def test_a_layout_the_fast_reader_misreads_is_caught_on_opening(w3_index, monkeypatch, caplog):
    """As if a Whoosh release changed its posting blocks: the self-check sees the fast reader
    disagree, and the index is read through Whoosh's matchers, with the same results."""
    monkeypatch.setenv(whoosh_format.FAST_ENV, "1")
    whoosh_format.clear_cache()
    answers = _search_everything(w3_index)
    assert any(result.total > 20 for result in answers[0])
    whoosh_format.clear_cache()
    decode = whoosh_format._decode_block

    def misread(*args):
        deltas, weights, values = decode(*args)
        return deltas, [w * 2 for w in weights], values

    monkeypatch.setattr(whoosh_format, "_decode_block", misread)
    caplog.set_level(logging.WARNING, logger=FENCE_LOG)
    try:
        assert _search_everything(w3_index) == answers
    finally:
        whoosh_format.clear_cache()
    warnings = _fence_warnings(caplog)
    assert len(warnings) == 1 and "don't read as the fast reader expects" in warnings[0]


def _small_archive(archive: Path, folder: Path, every: int) -> Path:
    """The 5 finews posts and every `every`-th wire post of data/posts, copied."""
    small = folder / "posts"
    shutil.copytree(archive / "finews", small / "finews")
    for path in sorted(path for path in archive.rglob("*.md") if "finews" not in path.parts)[::every]:
        target = small / path.relative_to(archive)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return small


@pytest.mark.slow  # two builds, one with Whoosh's own writer
def test_turned_off_a_build_writes_with_whooshs_own_writer_the_same_index(archive, tmp_path, monkeypatch):
    small = _small_archive(archive, tmp_path, every=20)
    wire = [path for path in small.rglob("*.md") if "finews" not in path.parts]
    assert len(wire) > 100
    contents = {}
    for setting in ("1", "0"):
        monkeypatch.setenv(whoosh_format.FAST_ENV, setting)
        whoosh_format.clear_cache()
        root = tmp_path / f"index-{setting}"
        report = build_index(small, root, progress=False)
        assert report.indexed == len(wire) + 5
        ix, _ = store.open_current(root)
        writer = open_writer(ix)
        assert isinstance(writer, BulkWriter) == (setting == "1")
        writer.cancel()
        contents[setting] = index_contents(ix)
    whoosh_format.clear_cache()
    assert contents["0"] == contents["1"]


def test_columns_read_a_segment_at_a_time_equal_whooshs_own_reading(index_dir):
    """The search's table of dates, stories and titles is read this way when an index opens."""
    ix, _ = store.open_current(index_dir)
    with ix.reader() as reader:
        assert len(reader.leaf_readers()) > 1
        dates = whoosh_format.numeric_column(reader, DATE)
        assert dates.tolist() == list(reader.column_reader(DATE, translate=False))
        title_keys = whoosh_format.bytes_column(reader, TITLE_KEY).tolist()
        assert title_keys == list(reader.column_reader(TITLE_KEY, translate=False))
        stories = whoosh_format.fixed_bytes_column(reader, STORY)  # raw digests, NUL bytes and all
        story_keys = [stories[at:at + STORY_KEY_BYTES] for at in range(0, len(stories), STORY_KEY_BYTES)]
        assert story_keys == list(reader.column_reader(STORY, translate=False))
        for values in (title_keys, story_keys):
            assert len(set(values)) > 2000  # real, distinct keys of 3,010 posts
