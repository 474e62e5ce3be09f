"""A hit's reprints name their posts by id, paper and date without reading the posts' stored fields
(the id from its column, paper and date from the generation's table): on every story of data/posts
with more than one post, what they say is what the stored fields say; an index whose segments have
no id column reads the ids from the stored fields instead."""
from __future__ import annotations

import numpy as np
import pytest

from finsearch import storage
from finsearch.search import SearchEngine, SearchRequest, present


def stored_reprint(searcher, docnum: int) -> tuple:
    fields = searcher.stored_fields(docnum)
    return fields[storage.ID_FIELD], fields.get(storage.PAPER, ""), storage.from_local_naive(fields[storage.DATE])


def multi_post_stories(snap) -> list[int]:
    """The earliest live post of every story of more than one live post."""
    live = snap.view.live
    counts = np.bincount(snap.table.stories[live])
    leaders = snap.table.story_leaders[live]
    return sorted({int(leader) for leader, doc in zip(leaders, live)
                   if counts[snap.table.stories[doc]] > 1 and leader >= 0})


def test_every_reprint_says_what_its_stored_fields_say(index_dir):
    engine = SearchEngine(index_dir)
    with engine.snapshot() as snap, snap.lock:
        leaders = multi_post_stories(snap)
        assert len(leaders) >= 50  # data/posts has the wires' copies of many flashes
        papers = set()
        for leader in leaders:
            found = present.reprints(snap.documents, snap.table, leader, snap.view.live)
            assert found  # the story's other posts
            for reprint in found:
                docnum = snap.searcher.document_number(**{storage.ID_FIELD: reprint.id})
                assert (reprint.id, reprint.paper, reprint.date) == stored_reprint(snap.searcher, docnum)
                papers.add(reprint.paper)
        assert {"财联社", "东财滚动", "同花顺"} <= papers


def test_a_later_posts_first_report_is_its_storys_earliest_post(index_dir):
    engine = SearchEngine(index_dir)
    with engine.snapshot() as snap, snap.lock:
        table, live = snap.table, snap.view.live
        later = live[(table.story_leaders[live] != live) & (table.story_leaders[live] >= 0)][:100].tolist()
        assert len(later) >= 50
        for docnum in later:
            hit = present.hit(snap.documents, table, docnum, live, ())
            leader = int(table.story_leaders[docnum])
            assert not hit.first and hit.first_report.first
            assert (hit.first_report.id, hit.first_report.paper, hit.first_report.date) == stored_reprint(
                snap.searcher, leader)
            assert hit.first_report.date <= hit.date


def test_where_a_segment_has_no_id_column_ids_come_from_the_stored_fields(index_dir, monkeypatch):
    """An index whose older segments were written before id was a column: Whoosh would read "" for
    their documents, so every id is read from the stored fields."""
    engine = SearchEngine(index_dir)
    with engine.snapshot() as snap, snap.lock:
        reader = snap.searcher.reader()
        from_column = storage.Documents(reader)
        docnums = snap.view.live[::37].tolist()
        from_column.id(docnums[0])  # its column opened now, before the older segment loses it below
        segments = [segment for segment, _ in reader.leaf_readers()]
        assert len(segments) >= 2  # data/posts is written by two workers
        older = segments[0]
        has_column = type(older).has_column
        monkeypatch.setattr(type(older), "has_column", lambda self, name: self is not older and has_column(self, name))

        def no_column(*args, **kwargs):
            raise AssertionError("the id column read, where a segment has none")
        monkeypatch.setattr(type(reader), "column_reader", no_column)
        from_stored = storage.Documents(reader)
        stored = [reader.stored_fields(d)[storage.ID_FIELD] for d in docnums]
        assert [from_stored.id(d) for d in docnums] == stored == [from_column.id(d) for d in docnums]


@pytest.mark.parametrize("query", ["公司", "SpaceX日内涨幅扩大至10%", "央行 降准"])
def test_results_list_the_same_reprints_as_their_stored_fields(index_dir, query):
    engine = SearchEngine(index_dir)
    result = engine.search(SearchRequest(query=query, page_size=50))
    with engine.snapshot() as snap, snap.lock:
        for hit in result.hits:
            for reprint in hit.reprints:
                docnum = snap.searcher.document_number(**{storage.ID_FIELD: reprint.id})
                assert (reprint.id, reprint.paper, reprint.date) == stored_reprint(snap.searcher, docnum)


def test_every_title_read_alone_is_its_stored_title_and_costs_a_small_part_of_a_read(index_dir):
    """Re-scoring reads a few hundred titles for a word of many meanings (央行): each read alone is
    the title the post's stored fields hold, and decompresses its block only through the titles."""
    engine = SearchEngine(index_dir)
    with engine.snapshot() as snap, snap.lock:
        reader = snap.searcher.reader()
        documents = storage.Documents(reader)
        live = snap.view.live.tolist()
        titles = [documents.title(docnum) for docnum in live]
        assert len(set(titles)) > 0.8 * len(live) and all(titles)
        for segment, _ in reader.leaf_readers():
            perdoc = segment._perdoc
            for block in perdoc._blocks.values():  # the blocks the titles were read from, as far as read
                assert len(block._raw) <= block._base + block._title_ends[-1]
            assert not perdoc._documents  # no post's pickle read for a title
        assert titles == [reader.stored_fields(docnum).get(storage.TITLE, "") for docnum in live]
