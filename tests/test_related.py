"""相关报道 under a results page that is not full, on the real posts of data/posts (issue 25).

A reporter pastes a headline to find the post and its coverage: the search stays literal (the
post itself, first, and only what holds every word), and under it, apart and labelled, the
posts that hold most of the headline's words but not all, with the words each lacks.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from finsearch.render import result_to_json
from finsearch.search import SearchRequest, SearchTimeout, deadline, make_request, related, related_wanted, rescore

# A real headline of data/posts: one post has it; other posts tell of the same plans in other words.
HEADLINE = "特朗普听取对伊朗军事行动方案"


def test_a_pasted_headline_finds_its_post_then_related_coverage_that_lacks_a_word(engine):
    found = engine.search(make_request(HEADLINE))
    assert found.total < found.request.page_size and found.hits[0].title == HEADLINE
    coverage = engine.related(make_request(HEADLINE))
    assert coverage.words == ("特朗普", "听取", "对", "伊朗", "军事行动", "方案")
    assert 1 <= len(coverage.hits) <= found.request.page_size - found.total
    shown = {hit.story for hit in found.hits}
    for item in coverage.hits:
        text = item.hit.title + item.hit.body
        assert HEADLINE not in text and item.hit.story not in shown  # not the literal results again
        assert all(word not in text for word in item.missing)
        held = [word for word in coverage.words if word in text]
        assert len(held) > len(coverage.words) / 2  # most of the words
    assert any(item.missing for item in coverage.hits)
    assert len({item.hit.story for item in coverage.hits}) == len(coverage.hits)  # a story once


def test_the_literal_results_are_the_same_with_related_coverage_asked_for(engine):
    before = result_to_json(engine.search(make_request(HEADLINE)))
    engine.related(make_request(HEADLINE))
    after = result_to_json(engine.search(make_request(HEADLINE)))
    for answer in (before, after):
        answer.pop("took_ms")
    assert before == after and "related" not in after


@pytest.mark.parametrize("query", ["美联储", "金融"])
def test_a_full_page_has_no_related_coverage(engine, query):
    assert engine.search(make_request(query)).total >= 10
    assert engine.related(make_request(query)).hits == ()


@pytest.mark.parametrize("query, options", [
    (HEADLINE, {"literal": "1"}),  # only what was typed
    (HEADLINE, {"page": "2"}),
    (f'"{HEADLINE}"', {}),  # quoted: exactly this
    ("特朗普 OR 伊朗 军事行动方案", {}),  # syntax says exactly what is wanted
    (f"{HEADLINE} -美伊", {}),
    ("伊朗 军事", {}),  # two words: "most but not all" would be one
])
def test_only_a_query_of_plain_words_has_related_coverage(engine, query, options):
    assert engine.related(make_request(query, **options)).hits == ()


def test_the_filters_apply_to_related_coverage(engine):
    paper = engine.related(make_request(HEADLINE, papers=["同花顺"]))
    assert paper.hits and {item.hit.paper for item in paper.hits} == {"同花顺"}
    dated = engine.related(make_request(HEADLINE, date_from="2026-06-01"))
    assert dated.hits and all(item.hit.date.date() >= dt.date(2026, 6, 1) for item in dated.hits)
    everything = engine.related(make_request(HEADLINE))
    assert {item.hit.id for item in paper.hits} != {item.hit.id for item in everything.hits}


# 东财滚动's headline of Maersk raising its guidance (its only literal match). 财联社 and 同花顺 told the same
# news a minute apart, under titles alike enough to be one telling (search.rescore's diversity window), yet
# the index keeps them apart as two stories.
MAERSK = "马士基上调2026年全年业绩指引"
TOLD = "2412233"  # 财联社 01:23 航运巨头马士基预计全年基本EBITDA为80亿至100亿美元
RETOLD = "677814848"  # 同花顺 01:24 航运巨头马士基上调全年业绩预期
OTHER_NEWS = "202608053831867414"  # 东财滚动 08-05 诺和诺德二季度调整后营收增长7% 上调全年业绩预期


def test_related_coverage_leaves_out_a_retelling_that_a_results_page_moves_down(engine):
    found = engine.search(make_request(MAERSK))
    coverage = engine.related(make_request(MAERSK))
    shown = [item.hit.id for item in coverage.hits]
    assert TOLD in shown and RETOLD not in shown
    assert len(shown) < found.request.page_size - found.total  # room was left: left out, not cut off
    retelling = engine.article(RETOLD)
    text = retelling.title + "".join(retelling.paragraphs)
    assert sum(word in text for word in coverage.words) > len(coverage.words) / 2  # it holds most of the words

    words = [(word,) for word in coverage.words]
    with engine.snapshot() as snap, snap.lock:
        docnum = {post: snap.searcher.document_number(id=post) for post in (TOLD, RETOLD, OTHER_NEWS)}
        post_of = {number: post for post, number in docnum.items()}
        table, first, again = snap.table, docnum[TOLD], docnum[RETOLD]
        on_the_page = {table.stories[snap.searcher.document_number(id=hit.id)] for hit in found.hits}
        assert table.stories[again] not in on_the_page  # related coverage would show it but for the rule
        assert table.stories[first] != table.stories[again] and table.paper_of(first) != table.paper_of(again)
        assert abs(int(table.dates[first]) - int(table.dates[again])) <= rescore.DIVERSITY_WINDOW

        def rescored(posts: list[str], retold: bool = True) -> list[str]:
            ranked = np.asarray([docnum[post] for post in posts], dtype=np.int64)
            return [post_of[number] for number in
                    rescore.rescored(snap.documents, table, ranked, None, words, retold=retold).tolist()]

        # Without the post it retells, it keeps its place before the other news...
        assert rescored([RETOLD, OTHER_NEWS]) == [RETOLD, OTHER_NEWS]
        # ...with it, a results page moves it down, after the other news, and still shows it;
        page = rescored([RETOLD, TOLD, OTHER_NEWS])
        assert sorted(page) == sorted([RETOLD, TOLD, OTHER_NEWS]) and page[-1] == RETOLD
        # a list that only fills a page's room leaves it out.
        assert rescored([RETOLD, TOLD, OTHER_NEWS], retold=False) == page[:-1]
    ids = [hit.id for hit in engine.search(make_request("马士基")).hits]
    assert TOLD in ids and RETOLD in ids[ids.index(TOLD) + 1:]  # the results page of 马士基 shows both, in that order


def test_related_coverage_only_when_the_first_page_is_not_full():
    request = SearchRequest(query=HEADLINE)
    assert related_wanted(request, 9) and not related_wanted(request, 10)
    assert not related_wanted(SearchRequest(query=HEADLINE, page=2), 3)


def test_related_coverage_past_its_time_is_none(engine, monkeypatch):
    monkeypatch.setattr(related, "RELATED_SECONDS", -1.0)
    late = engine.related(make_request(HEADLINE))
    assert late.timed_out and late.hits == ()


def test_a_budget_inside_another_never_extends_it():
    with deadline.within(-1.0):
        with deadline.within(60.0), pytest.raises(SearchTimeout):
            deadline.check()
    with deadline.within(60.0), deadline.within(-1.0), pytest.raises(SearchTimeout):
        deadline.check()


def test_the_results_page_fetches_labelled_related_coverage(client):
    page = client.get("/", query_string={"q": HEADLINE}).get_data(as_text=True)
    assert 'data-related="/related?q=' in page and "related.js" in page
    fragment = client.get("/related", query_string={"q": HEADLINE}).get_data(as_text=True)
    assert "相关报道<span class=\"related-note\">（未包含全部检索词）</span>" in fragment
    assert "未包含：听取" in fragment and HEADLINE not in fragment.split("related-hits", 1)[1]
    full = client.get("/", query_string={"q": "美联储"}).get_data(as_text=True)
    assert "data-related" not in full and "related.js" not in full
    assert client.get("/related", query_string={"q": "美联储"}).get_data(as_text=True).strip() == ""


def test_the_api_gives_related_coverage_with_the_missing_words(client):
    answer = client.get("/api/related", query_string={"q": HEADLINE}).get_json()
    assert answer["query"] == HEADLINE and answer["words"][:2] == ["特朗普", "听取"] and not answer["timed_out"]
    assert answer["hits"] and all({"id", "headline", "snippet", "missing"} <= set(hit) for hit in answer["hits"])
    assert any("听取" in hit["missing"] for hit in answer["hits"])
    assert client.get("/api/related", query_string={"q": HEADLINE, "bogus": "1"}).status_code == 400
