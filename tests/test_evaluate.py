"""The numpy evaluator against Whoosh's own matchers, on the real posts of the fixtures.

Whoosh's `searcher.search(q, limit=None)` is the reference: the same documents for
every query, and the same scores (but for NOT, where Whoosh drops the ranking words'
score of some documents, see below).
"""
from __future__ import annotations

import numpy as np
import pytest
from whoosh import query as wq

from finsearch.search.docsets import Lookups, members, merged, sorted_distinct
from finsearch.search.evaluate import IndexView, evaluate
from finsearch.search.query import WORD_FIELD_OF_GRAM, parse_query
from finsearch.storage import generations as store
from finsearch.storage.postings import field_lengths, find_term, read_postings
from finsearch.storage.schema import BODY, BODY_GRAM, ID_FIELD, TITLE
from tests.whoosh_contents import positions_at

QUERIES = [
    # words, phrases of two to six bigrams, a character twice, one character
    "银行", "金融", "公司", "人工智能", "新能源汽车", "供应链金融", "中国人民银行", "上海证券交易所", "国家统计局",
    "上海银行", "美联储", "央行", "同比增长", "人民币汇率", "五五", "纷纷", "金",
    # Latin and digits, alone and next to CJK
    "ETF", "etf", "A股", "5G", "AI", "17亿元", "3.5%", "2026年", "亿元", "上行e链",
    # syntax: quotes, OR, NOT, groups, fields
    '"供应链金融"', "美联储 OR 央行", "title:美联储", "标题：人工智能",
    "body:ETF", "正文:新能源", "",
    # a pasted headline, and several words typed apart: many terms, ordered by their frequencies
    "北京亦庄：将加快实现10万台套级具身智能机器人规模量产", "欧洲央行行长称6月加息并非“预防性加息”",
    "美参议院 推进 法案 限制 伊朗", "特朗普 伊朗 制裁 措施",
]
NEGATIVE_QUERIES = {"美联储 -央行": "美联储", '"美联储" NOT 央行': "美联储", "-银行": None,
                    "半导体 OR -芯片": None, "(银行 -利率) OR 券商": None}


@pytest.fixture(scope="module")
def searcher(index_dir):
    ix, _ = store.open_current(index_dir)
    with ix.searcher() as searcher:
        yield searcher


@pytest.fixture(scope="module")
def view(searcher):
    return _view(searcher)


def _view(searcher) -> IndexView:
    live = np.fromiter(searcher.reader().all_doc_ids(), dtype=np.int64)
    return IndexView(searcher, live, WORD_FIELD_OF_GRAM)


def whoosh_matches(searcher, q) -> dict[int, float]:
    return {docnum: score for score, docnum in searcher.search(q, limit=None).top_n}


def test_the_fixture_index_has_several_segments(searcher):
    # docnums of later segments are offset: the evaluator must add each segment's base
    assert len(list(searcher.reader().leaf_readers())) > 1


@pytest.mark.parametrize("text", QUERIES)
def test_same_documents_and_scores_as_whoosh(searcher, view, text):
    q = parse_query(text).query
    expected = whoosh_matches(searcher, q)
    found = evaluate(view, q)
    assert found.docs.tolist() == sorted(expected)
    assert np.allclose(found.scores, [expected[d] for d in found.docs.tolist()], rtol=1e-12, atol=0)
    assert evaluate(view, q, scored=False).docs.tolist() == sorted(expected)


def test_most_queries_find_something(view):
    # equal empty results would prove little
    found = [text for text in QUERIES if evaluate(view, parse_query(text).query).docs.size]
    assert found == QUERIES


@pytest.mark.parametrize("text", NEGATIVE_QUERIES)
def test_not_matches_whoosh_and_scores_like_its_positive_part(searcher, view, text):
    q = parse_query(text).query
    found = evaluate(view, q)
    assert found.docs.tolist() == sorted(whoosh_matches(searcher, q))
    positive = NEGATIVE_QUERIES[text]
    if positive:
        # A NOT inside AND adds 1.0, as Whoosh's inverse matcher scores; the rest is the
        # positive query's own score, which Whoosh loses for some documents.
        alone = evaluate(view, parse_query(positive).query)
        assert np.allclose(found.scores, alone.scores[np.searchsorted(alone.docs, found.docs)] + 1.0)


@pytest.mark.parametrize("text, parts", [("新能源 汽车", ["新能源", "汽车"]), ("美联储 央行", ["美联储", "央行"]),
                                         ("人工 智能", ["人工", "智能"]), ("银行 利率 央行", ["银行", "利率", "央行"]),
                                         ("(银行 OR 券商) 利率", ["银行 OR 券商", "利率"])])
def test_an_and_scores_the_sum_of_its_parts(searcher, view, text, parts):
    # Whoosh's IntersectionMatcher skips inside an AndMaybe without moving its
    # optional side, so some documents lose their words' score (123 of 559 for
    # 新能源 汽车 on the wire archive); here a post's score does not depend on that.
    found = evaluate(view, parse_query(text).query)
    assert found.docs.size and found.docs.tolist() == sorted(whoosh_matches(searcher, parse_query(text).query))
    total = np.zeros(found.docs.size)
    for part in parts:
        alone = evaluate(view, parse_query(part).query)
        expected = whoosh_matches(searcher, parse_query(part).query)
        assert np.allclose(alone.scores, [expected[d] for d in alone.docs.tolist()], rtol=1e-12, atol=0)
        total += alone.scores[np.searchsorted(alone.docs, found.docs)]
    assert np.allclose(found.scores, total, rtol=1e-12, atol=0)


def test_andmaybe_and_require(searcher, view):
    bank, rate = (evaluate(view, parse_query(word).query) for word in ("银行", "利率"))
    both = np.intersect1d(bank.docs, rate.docs)
    assert both.size
    maybe = evaluate(view, parse_query("银行 ANDMAYBE 利率").query)
    assert maybe.docs.tolist() == bank.docs.tolist() == sorted(whoosh_matches(searcher, parse_query("银行 ANDMAYBE 利率").query))
    expected = bank.scores.copy()
    expected[np.searchsorted(bank.docs, both)] += rate.at(both)
    assert np.allclose(maybe.scores, expected, rtol=1e-12, atol=0)
    required = evaluate(view, parse_query("银行 REQUIRE 利率").query)
    assert required.docs.tolist() == both.tolist() == sorted(whoosh_matches(searcher, parse_query("银行 REQUIRE 利率").query))
    assert np.allclose(required.scores, bank.at(both), rtol=1e-12, atol=0)


def test_andnot_removes_every_match_of_its_right_side(searcher, view, archive_posts):
    # Whoosh's AndNotMatcher lets some documents of the right side through (a post
    # on 新能源汽车 matched 新能源 ANDNOT 汽车); the evaluator subtracts them all.
    with_new_energy = set(evaluate(view, parse_query("新能源").query).docs.tolist())
    with_cars = set(evaluate(view, parse_query("汽车").query).docs.tolist())
    found = evaluate(view, parse_query("新能源 ANDNOT 汽车").query).docs.tolist()
    assert with_new_energy & with_cars and with_new_energy - with_cars
    assert found == sorted(with_new_energy - with_cars)
    assert found == evaluate(view, parse_query("新能源 -汽车").query).docs.tolist()
    for docnum in set(whoosh_matches(searcher, parse_query("新能源 ANDNOT 汽车").query)) - set(found):
        fields = searcher.stored_fields(docnum)
        assert "汽车" in fields[TITLE] + fields[BODY]


def test_a_phrase_is_its_bigrams_in_sequence(view, searcher):
    # The evaluator reads every other bigram of a CJK phrase; Whoosh reads them all.
    for words in (["新能", "能源", "源汽", "汽车"], ["上海", "海证", "证券", "券交", "交易", "易所"], ["五五"]):
        phrase = wq.Phrase(BODY_GRAM, words)
        found = evaluate(view, phrase, scored=False).docs.tolist()
        assert found and found == sorted(whoosh_matches(searcher, phrase))
        anywhere = evaluate(view, wq.And([wq.Term(BODY_GRAM, w) for w in words]), scored=False).docs.tolist()
        assert set(found) <= set(anywhere)


def test_empty_compounds_match_nothing(searcher, view):
    for q in (wq.And([]), wq.Or([]), wq.NullQuery):
        assert evaluate(view, q).docs.size == 0 == len(whoosh_matches(searcher, q))


def test_a_bare_phrase_scores_as_whoosh(searcher, view):
    phrase = wq.Phrase(BODY_GRAM, ["人工", "工智", "智能"])
    expected = whoosh_matches(searcher, phrase)
    found = evaluate(view, phrase)
    assert found.docs.tolist() == sorted(expected)
    assert np.allclose(found.scores, [expected[d] for d in found.docs.tolist()], rtol=1e-12, atol=0)


def test_postings_within_some_documents_hold_theirs(searcher):
    reader = searcher.reader()
    term = find_term(reader, BODY_GRAM, "公司".encode())
    assert term.doc_frequency == reader.doc_frequency(BODY_GRAM, "公司")
    complete = read_postings(term, positions=True)
    wanted = complete.docs[[0, 1, -1]]
    part = read_postings(term, within=wanted, positions=True)
    rows = np.searchsorted(part.docs, wanted)
    assert np.array_equal(part.docs[rows], wanted)
    full_rows = np.searchsorted(complete.docs, wanted)
    assert np.array_equal(part.weights[rows], complete.weights[full_rows])
    assert [positions_at(part, i) for i in rows] == [positions_at(complete, i) for i in full_rows]
    whoosh = reader.postings(BODY_GRAM, "公司")
    for row, docnum in enumerate(complete.docs.tolist()):
        assert whoosh.id() == docnum and whoosh.weight() == complete.weights[row]
        assert list(whoosh.value_as("positions")) == positions_at(complete, row)
        whoosh.next()
    assert not whoosh.is_active()


def test_field_lengths_are_whooshs(searcher):
    reader = searcher.reader()
    for field in (TITLE, BODY):
        lengths = field_lengths(reader, field)
        assert lengths.size == reader.doc_count_all()
        sample = range(0, reader.doc_count_all(), 97)
        assert [lengths[d] for d in sample] == [reader.doc_field_length(d, field, 0) or 0 for d in sample]


def test_deleted_documents_never_match(index_dir, tmp_path, archive_posts):
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, symlinks=True)  # `current` is a relative link
    ix, build = store.open_current(copy)
    assert build.resolve().is_relative_to(copy.resolve())
    gone = [p.id for p in archive_posts if "银行" in p.title][:5]
    with ix.searcher() as searcher:
        gone_docs = {searcher.document_number(**{ID_FIELD: post_id}) for post_id in gone}
    writer = ix.writer()
    for post_id in gone:
        writer.delete_by_term(ID_FIELD, post_id)
    writer.commit(merge=False)  # keep the deleted documents in their segments
    with ix.searcher() as searcher:
        assert searcher.reader().has_deletions()
        view = _view(searcher)
        for text in ("银行", "-银行", "银行 OR 金融", "上海银行", ""):
            q = parse_query(text).query
            found = evaluate(view, q).docs.tolist()
            assert found == sorted(whoosh_matches(searcher, q)), text
            assert not gone_docs & set(found)


@pytest.mark.slow  # every posting of 1,000 terms through Whoosh's matchers
def test_a_spread_of_terms_reads_as_whoosh_reads_them(searcher):
    """Rare and common terms alike, positions too."""
    reader = searcher.reader()
    checked = 0
    for field in (BODY_GRAM, BODY):
        for tbytes in list(reader.lexicon(field))[::97]:  # the terms alone: iter_field's infos take seconds
            term = find_term(reader, field, tbytes)
            postings = read_postings(term, positions=field == BODY_GRAM)
            whoosh = reader.postings(field, tbytes)
            for row, docnum in enumerate(postings.docs.tolist()):
                assert whoosh.id() == docnum and whoosh.weight() == postings.weights[row]
                if field == BODY_GRAM:
                    assert list(whoosh.value_as("positions")) == positions_at(postings, row)
                whoosh.next()
            assert not whoosh.is_active()
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("size", [50, 20_000])  # below and above DENSE_LOOKUP: both ways of looking up
def test_the_set_steps_under_every_and_agree_with_python_sets(size):
    rng = np.random.default_rng(size)
    bound = 200_000
    within, a, b = (np.sort(rng.choice(bound, n, replace=False)) for n in (size, size, size // 2))
    lookups = Lookups(bound)
    for docs in (a, b, a):  # the second lookup among `within` reuses its mark
        expected = np.array([d in set(within.tolist()) for d in docs.tolist()])
        assert (lookups.members(within, docs) == expected).all()
        assert (members(within, docs) == expected).all()
    assert merged([a, b, within]).tolist() == sorted(set(a.tolist()) | set(b.tolist()) | set(within.tolist()))
    shuffled = rng.permutation(np.concatenate([a, a[: size // 3]]))
    assert sorted_distinct(shuffled).tolist() == sorted(set(a.tolist()))
