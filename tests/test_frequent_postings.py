"""A frequent word's decoded postings and BM25 scores are kept for the index version: searching it again,
under other filters, answers exactly as a cold search does, and an update is never
answered from the old version's postings."""
from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from finsearch.indexer import reindex
from finsearch.search import SearchEngine, SearchRequest, Sort, docsets
from finsearch.search import evaluate as evaluation
from finsearch.storage import Postings, read_postings

# Real words of data/posts, frequent and rare, alone, together, excluded, as literals.
REQUESTS = [
    SearchRequest(query="公司"),
    SearchRequest(query="公司", sort=Sort.NEWEST, page=2),
    SearchRequest(query="公司", categories=("cailianshe",)),
    SearchRequest(query="公司", date_from=dt.date(2026, 6, 12), date_to=dt.date(2026, 6, 30)),
    SearchRequest(query="银行 央行"),
    SearchRequest(query="市场 -公司"),
    SearchRequest(query="供应链金融"),
    SearchRequest(query="央行", literal=True),
]


def answer(result) -> tuple:
    return (result.total, result.articles, [(h.id, h.snippet, [r.id for r in h.reprints]) for h in result.hits],
            result.facets)


@pytest.fixture
def every_term_frequent(monkeypatch):
    monkeypatch.setattr(evaluation, "FREQUENT_DOCS", 1)


def test_searches_answered_from_kept_postings_equal_cold_ones(index_dir, every_term_frequent):
    engine = SearchEngine(index_dir, match_cache=0)
    cold = [answer(engine.search(request)) for request in REQUESTS]
    assert cold[0][0] > 500 and cold[6][0] > 0  # 公司 is frequent in data/posts; 供应链金融 is there
    warm = [answer(engine.search(request)) for request in REQUESTS]
    assert warm == cold
    with engine.snapshot() as snap:
        view = snap.view
    assert view.frequent.get(evaluation.find_term(view.searcher.reader(), "body", "公司".encode()), False) is not None


def test_kept_postings_stay_within_their_budget(index_dir, every_term_frequent):
    engine = SearchEngine(index_dir, match_cache=0)
    with engine.snapshot() as snap:
        view = snap.view
    view.frequent = evaluation.FrequentPostings(budget=64 * 1024)
    answers = [answer(engine.search(request)) for request in REQUESTS]
    assert view.frequent._bytes <= 64 * 1024
    assert answers == [answer(SearchEngine(index_dir, match_cache=0).search(request)) for request in REQUESTS]


@pytest.mark.slow  # the nightly job over a copy of the sample archive
def test_an_update_is_searched_in_its_own_postings(archive, index_dir, tmp_path, every_term_frequent):
    posts = tmp_path / "posts"
    shutil.copytree(archive, posts)  # copy2: the sizes and mtimes the index recorded, so only the deletions change
    index = tmp_path / "index"
    shutil.copytree(index_dir, index, symlinks=True)
    engine = SearchEngine(index, match_cache=0)
    before = engine.search(SearchRequest(query="公司")).articles
    victims = [path for path in sorted(posts.rglob("*.md")) if "公司" in path.read_text(encoding="utf-8")][:40]
    for path in victims:
        path.unlink()
    reindex(posts, index, progress=False)
    after = answer(engine.search(SearchRequest(query="公司")))
    assert after == answer(SearchEngine(index, match_cache=0).search(SearchRequest(query="公司")))
    assert before - len(victims) <= after[1] < before


@pytest.fixture(scope="module")
def default_answers(index_dir) -> list[tuple]:
    return [answer(SearchEngine(index_dir, match_cache=0).search(request)) for request in REQUESTS]


@pytest.mark.parametrize("by_mask", [True, False])
def test_or_unites_the_same_documents_either_way(index_dir, default_answers, monkeypatch, by_mask):
    for module in (evaluation, docsets):  # the OR of many parts, and the union of two sets
        monkeypatch.setattr(module, "unite_by_merging", lambda count, bound: not by_mask)
    assert [answer(SearchEngine(index_dir, match_cache=0).search(request)) for request in REQUESTS] == default_answers


def test_kept_lists_are_compact_and_read_back_exactly(index_dir, every_term_frequent):
    """Kept in int32/float32 (half the memory, twice the words within the budget), read back with
    int64 docnums and the values of a fresh read of the term; positions only when asked for."""
    engine = SearchEngine(index_dir, match_cache=0)
    engine.search(SearchRequest(query="人工智能"))  # a phrase of bigrams: read with their positions
    with engine.snapshot() as snap:
        view = snap.view
        term = evaluation.find_term(view.searcher.reader(), "body_gram", "人工".encode())
        kept = view.frequent._lists[(term.field, term.tbytes)][0]
        assert kept.docs.dtype == np.int32 and kept.weights.dtype == np.float32
        assert kept.positions is not None and kept.positions.dtype == np.int32
        back = view.frequent.get(term, positions=True)
        without = view.frequent.get(term, positions=False)
        fresh = read_postings(term, positions=True)
    assert back is not None and back.docs.dtype == np.int64
    for name in ("docs", "weights", "positions", "position_starts"):
        assert np.array_equal(getattr(back, name), getattr(fresh, name)), name
    assert without is not None and without.positions is None and np.array_equal(without.docs, fresh.docs)


def test_values_a_narrow_type_cannot_hold_are_kept_as_they_are():
    postings = Postings(np.array([1, 2**31 + 5]), np.array([1.0, 0.1]), np.array([3, 70_000]), np.array([0, 1, 2]))
    kept = postings.compact()
    assert kept.docs.dtype == np.int64 and kept.weights.dtype == np.float64  # 2**31 + 5, 0.1: not exact narrower
    assert kept.positions is not None and kept.positions.dtype == np.int32
    back = kept.widened(positions=True)
    assert back.docs.tolist() == [1, 2**31 + 5] and back.weights.tolist() == [1.0, 0.1]
    assert back.positions is not None and back.positions.tolist() == [3, 70_000]


def test_what_searches_share_of_a_kept_list_cannot_be_changed(index_dir, every_term_frequent):
    engine = SearchEngine(index_dir, match_cache=0)
    engine.search(SearchRequest(query="人工智能"))
    with engine.snapshot() as snap:
        term = evaluation.find_term(snap.view.searcher.reader(), "body_gram", "人工".encode())
        shared = snap.view.frequent.get(term, positions=True)
    assert shared is not None and shared.positions is not None
    with pytest.raises(ValueError):
        shared.weights[0] = 99.0
    with pytest.raises(ValueError):
        shared.positions[0] = 99
