"""The per-document table a generation is written with (storage/doc_table.py): what a reader maps
is exactly what it would compute, a table that does not read as written is computed instead (one
warning), and a reindex writes its own rather than linking the old one."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from finsearch.indexer.update import reindex
from finsearch.storage import doc_table, generations, manifest
from tests.conftest import FIXTURE_POSTS

ARRAYS = ("dates", "exact", "stories", "by_story_rank", "title_ids", "category_masks", "paper_masks")


def _assert_same(found: doc_table.DocColumns, expected: doc_table.DocColumns) -> None:
    for name in ARRAYS:
        assert np.array_equal(getattr(found, name), getattr(expected, name)), name
    assert (found.category_values, found.paper_values) == (expected.category_values, expected.paper_values)
    assert np.array_equal(found.title_keys.data, expected.title_keys.data)
    assert np.array_equal(found.title_keys.offsets, expected.title_keys.offsets)


def _read(build):
    ix = generations.whoosh_index.open_dir(str(build))
    with ix.reader() as reader:
        return doc_table.read(build, reader, ix.latest_generation()), doc_table.compute(reader)


def test_a_build_writes_the_table_a_reader_would_compute(index_dir):
    build = generations.current_build(index_dir)
    written, computed = _read(build)
    assert written is not None
    assert isinstance(written.dates.base, np.memmap)  # mapped, not read into each worker's heap
    _assert_same(written, computed)
    listed = manifest.listed_files(manifest.read_manifest(build))
    assert doc_table.META in listed and "doctable-stories.npy" in listed
    assert manifest.read_manifest(build)["doc_table"] == doc_table.TABLE_VERSION


def test_title_keys_are_found_by_binary_search(index_dir):
    written, _ = _read(generations.current_build(index_dir))
    keys = written.title_keys
    for number in (0, len(keys) // 2, len(keys) - 1):
        assert keys.number(keys.key(number).decode("utf-8")) == number
    assert keys.number("不是任何一篇的标题") == -1


@pytest.mark.parametrize("name", ["dates", "title_ids"])
def test_a_table_that_does_not_read_as_written_is_computed_with_one_warning(index_dir, tmp_path, caplog, name):
    build = tmp_path / "build"
    shutil.copytree(generations.current_build(index_dir), build)
    values = np.load(build / f"doctable-{name}.npy")
    np.save(build / f"doctable-{name}.npy", np.roll(values, 1) if name == "title_ids" else values + 1)
    with caplog.at_level(logging.WARNING, logger="finsearch.storage.doc_table"):
        written, computed = _read(build)
        ix = generations.whoosh_index.open_dir(str(build))
        with ix.reader() as reader:
            loaded = doc_table.load(build, reader, ix.latest_generation())
    assert written is None
    _assert_same(loaded, computed)
    assert any("does not read as written" in r.getMessage() for r in caplog.records)


def test_a_generation_without_a_table_is_computed_at_open(index_dir, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(generations.current_build(index_dir), build)
    (build / doc_table.META).unlink()
    written, _ = _read(build)
    assert written is None


def test_a_reindex_writes_its_own_table(tmp_path):
    *first_posts, last_post = sorted((FIXTURE_POSTS / "near-duplicates").glob("*.md"))
    posts = tmp_path / "posts"
    posts.mkdir()
    for post in first_posts:
        shutil.copy(post, posts / post.name)
    root = tmp_path / "index"
    reindex(posts, root, procs=1, progress=False)
    first = generations.current_build(root)
    shutil.copy(last_post, posts / last_post.name)
    reindex(posts, root, procs=1, progress=False)
    second = generations.current_build(root)
    assert second != first
    assert (second / "doctable-dates.npy").stat().st_ino != (first / "doctable-dates.npy").stat().st_ino
    written, computed = _read(second)
    assert written is not None and written.dates.size == len(first_posts) + 1
    _assert_same(written, computed)


def test_a_facet_of_one_value_a_post_counts_as_its_masks_do(index_dir):
    """The 来源 (paper) facet counts each hit's one paper in one pass; the counts a reader sees are
    those of the masks, and a facet whose posts may carry two values (a post in two categories)
    keeps counting by the masks."""
    from finsearch.search.doctable import single_rows
    from finsearch.search.snapshot import facet_counts

    written, _ = _read(generations.current_build(index_dir))
    docs = np.arange(0, written.dates.size, 3)
    rows = single_rows(written.paper_masks)
    assert rows is not None  # every post of data/posts names one paper
    counted = facet_counts(written.paper_values, written.paper_masks, docs, rows)
    assert counted == facet_counts(written.paper_values, written.paper_masks, docs)
    assert sum(count.count for count in counted) > 0
    two_each = np.array(written.paper_masks)
    two_each[:, 0] = True
    assert single_rows(two_each) is None
