"""One story once, and ranking a reporter trusts, on the real posts of data/posts.

The same flash from 财联社, 东方财富 and 同花顺 in different wording is one story (shown under its
earliest post, the others as near reprints); a post that only shares a sentence with another is
not; facets keep counting posts. With relevance sort, a post with the query in its title comes
before one with it only in the body, and a query equal to a post's title puts that post first.
"""
from __future__ import annotations

import re

import pytest

from finsearch.analysis import fold
from finsearch.render import result_to_json
from finsearch.search import SearchRequest
from tests.conftest import FIXTURE_POSTS

# One flash, 2026-08-05 03:05–03:06: 东方财富 (202608053831569869) and 财联社 (2445734) tell it with
# and without a dateline, 同花顺 (678671337) keeps the first sentence only.
SPACEX = "SpaceX日内涨幅扩大至10%"
SPACEX_POSTS = {"202608053831569869": "东财滚动", "2445734": "财联社", "678671337": "同花顺"}
NEAR_DUPLICATES = FIXTURE_POSTS / "near-duplicates"  # the flash, and two posts sharing a sentence


def everything(engine, query: str):
    """Every hit of a relevance search, page after page."""
    hits, page = [], 1
    while True:
        result = engine.search(SearchRequest(query=query, page=page, page_size=100))
        hits += result.hits
        if page >= result.pages:
            return result, hits
        page += 1


def test_the_three_wires_copies_of_one_flash_show_once(engine):
    result = engine.search(SearchRequest(query=SPACEX))
    assert (result.total, result.articles) == (1, 3)
    (hit,) = result.hits
    shown = {hit.id: hit.paper} | {r.id: r.paper for r in hit.reprints}
    assert shown == SPACEX_POSTS
    assert all(r.near for r in hit.reprints)  # other wording, not identical copies
    # Under the earliest post (东方财富 and 财联社 both at 03:05:38; 同花顺 at 03:06:25).
    assert hit.date.strftime("%H:%M:%S") == "03:05:38" and hit.id != "678671337"
    data = result_to_json(result)
    assert data["total"] == 1 and data["articles"] == 3
    assert sorted(r["id"] for r in data["hits"][0]["reprints"]) == sorted(set(SPACEX_POSTS) - {hit.id})
    assert all(r["near"] is True for r in data["hits"][0]["reprints"])


def test_the_flash_takes_one_place_on_the_first_pages(engine):
    # A price tick, so below SpaceX's news (search.rescore), but told three times it is still shown once.
    result = engine.search(SearchRequest(query="SpaceX", page_size=20))
    places = [hit for hit in result.hits if ({hit.id} | {r.id for r in hit.reprints}) & set(SPACEX_POSTS)]
    assert len(places) == 1  # once, not three times
    assert {places[0].id} | {r.id for r in places[0].reprints} == set(SPACEX_POSTS)


def test_one_headline_from_three_papers_within_minutes_is_one_story(engine):
    # 2026-05-20 04:42: 东方财富, 财联社 and 同花顺 under the same title; 东方财富's body says less.
    result = engine.search(SearchRequest(query="万斯称美军部署波兰计划取消是“例行轮换推迟”"))
    assert (result.total, result.articles) == (1, 3)
    (hit,) = result.hits
    assert {hit.paper} | {r.paper for r in hit.reprints} == {"东财滚动", "财联社", "同花顺"}


def test_a_flash_titled_by_its_dateline_joins_the_headline_it_repeats(engine):
    # 财联社's title is its first words, dateline and all (财联社8月5日电，美联储施密德称，…); 东方财富's
    # copy of 08:16 has a headline and a bare date (8月5日，): one flash, one hit.
    result = engine.search(SearchRequest(query="美联储施密德", page_size=10))
    flash = next(hit for hit in result.hits if hit.id == "202608053831834639")
    assert "2445851" in {r.id for r in flash.reprints}
    assert "2445851" not in {hit.id for hit in result.hits}


def test_facets_still_count_posts(engine):
    result = engine.search(SearchRequest(query=SPACEX))
    assert {f.value: f.count for f in result.facets.papers} == {"东财滚动": 1, "财联社": 1, "同花顺": 1}
    assert sum(f.count for f in result.facets.categories) == result.articles == 3


def test_a_post_sharing_one_sentence_is_another_story(engine):
    # 东方财富's 02:32 flash on oil settlement prices, and 财联社's 08:12 morning digest whose
    # items include the same sentence about Brent: two stories, neither a reprint of the other.
    result = engine.search(SearchRequest(query="布伦特原油期货10月合约结算价跌5.26%"))
    ids = {hit.id for hit in result.hits}
    assert {"202608053831566160", "2445839"} <= ids
    for hit in result.hits:
        assert not {r.id for r in hit.reprints} & {"202608053831566160", "2445839"}
    digest = next(hit for hit in result.hits if hit.id == "2445839")
    assert "早间新闻精选" in digest.title


def test_a_reprint_is_near_exactly_when_its_text_differs(engine):
    result, hits = everything(engine, "")
    assert result.articles == engine.stats().documents == result.total + sum(len(h.reprints) for h in hits)

    def text(article_id: str) -> tuple:
        article = engine.article(article_id)
        return article.title, article.paragraphs

    kinds = {True: 0, False: 0}
    for hit in hits:
        for reprint in hit.reprints:
            assert reprint.near == (text(reprint.id) != text(hit.id))
            kinds[reprint.near] += 1
    assert kinds[False] >= 5 and kinds[True] > 100  # data/posts has both kinds


@pytest.mark.parametrize("term", ["人工智能", "半导体", "央行"])
def test_posts_with_the_query_in_the_title_come_first(engine, term):
    result, hits = everything(engine, term)
    assert len(hits) == result.total
    in_title = [term in fold(hit.title) for hit in hits]
    assert any(in_title) and not all(in_title)  # the test needs both kinds
    # Every title hit precedes every body-only hit.
    assert in_title == sorted(in_title, reverse=True)


@pytest.mark.parametrize("post_id, title, near_copy", [
    # 同花顺 with a comma; 东方财富's earlier copy says 木原稔：…
    ("677819257", "日本内阁官房长官木原稔表示，将根据需要对外汇采取适当行动", "202606303787352545"),
    # 东方财富's title; 财联社's earlier copy has none (its title is its first sentence).
    ("202605203742431049", "xAI允许在OpenClaw中使用Grok", "2376059"),
])
def test_a_query_equal_to_a_title_ranks_that_post_first(engine, post_id, title, near_copy):
    result = engine.search(SearchRequest(query=title))
    first = result.hits[0]
    assert first.id == post_id
    assert near_copy in {r.id for r in first.reprints}  # its near copy is folded under it, not ahead
    assert engine.search(SearchRequest(query=fold(title).upper())).hits[0].id == post_id  # folded


def test_among_equals_the_newer_post_comes_first(tmp_path):
    """Two days' 央行 operations, worded alike (equal scores), the figures differ (two stories)."""
    from finsearch.indexer import build_index
    from finsearch.search import SearchEngine

    post = ('---\ntitle: "央行开展{amount}亿元7天期逆回购操作"\ndate: 2026-07-0{day} 09:20:00 +0800\n'
            'categories: cailianshe\ntags: 财联社新闻\n---\n'
            '<p>财联社7月{day}日电，央行今日开展{amount}亿元7天期逆回购操作，操作利率1.40%。</p>'
            '<p class="em_media">（文章来源：财联社）</p>\n')
    archive = tmp_path / "posts"
    archive.mkdir()
    for day, amount in ((1, 1000), (3, 3000), (2, 2000)):
        (archive / f"2026-07-0{day}-24{day}.md").write_text(post.format(day=day, amount=amount), "utf-8")
    build_index(archive, tmp_path / "ix", progress=False)
    engine = SearchEngine(tmp_path / "ix")
    try:
        result = engine.search(SearchRequest(query="逆回购操作"))
        assert result.total == 3
        assert [hit.id for hit in result.hits] == ["243", "242", "241"]
    finally:
        engine.close()


def test_an_index_without_signatures_still_opens(tmp_path, monkeypatch):
    """An index built before near-duplicate signatures (no signature, no title_key column) is
    searched with identical-post stories only, until it is rebuilt."""
    from whoosh.fields import Schema

    from finsearch.indexer import build, build_index
    from finsearch.indexer.document import to_document
    from finsearch.search import SearchEngine
    from finsearch.storage import schema

    new_fields = (schema.SIGNATURE, schema.TITLE_KEY)

    def old_schema() -> Schema:
        fields = schema.make_schema()
        for name in new_fields:
            fields.remove(name)
        return fields

    def old_document(post) -> dict:
        document = to_document(post)
        return {name: value for name, value in document.items() if name not in new_fields}

    monkeypatch.setattr(build, "make_schema", old_schema)
    monkeypatch.setattr(build, "to_document", old_document)
    build_index(NEAR_DUPLICATES, tmp_path / "old", procs=1, progress=False)
    monkeypatch.undo()
    build_index(NEAR_DUPLICATES, tmp_path / "new", procs=1, progress=False)
    old, new = SearchEngine(tmp_path / "old"), SearchEngine(tmp_path / "new")
    try:
        result = old.search(SearchRequest(query=SPACEX))
        assert (result.total, result.articles) == (3, 3)
        assert {hit.id for hit in result.hits} == set(SPACEX_POSTS)
        assert (new.search(SearchRequest(query=SPACEX)).total, new.search(SearchRequest(query="")).total) == (1, 3)
        assert old.search(SearchRequest(query="")).total == 5
    finally:
        old.close()
        new.close()


@pytest.mark.browser
def test_the_cluster_expands_in_the_browser(browser, server, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(server + "/?q=" + SPACEX.replace("%", "%25"))
    assert re.search(r"共 1 条结果（3 篇", page.inner_text("#summary"))
    hit = page.locator(".hit")
    assert hit.count() == 1
    summary = hit.locator(".hit-reprints summary")
    assert summary.inner_text() == "另有 2 家报道"
    links = hit.locator(".hit-reprints li a")
    assert not links.first.is_visible()  # folded until asked
    summary.click()
    assert links.first.is_visible() and links.count() == 2
    assert set(links.all_inner_texts()) == set(SPACEX_POSTS.values()) - {hit.locator(".hit-paper").inner_text()}
    assert "措辞不同" in hit.locator(".hit-reprints").inner_text()
    page.screenshot(path=str(artifacts / "stories.png"), full_page=True)
    links.first.click()
    page.wait_for_url(re.compile(r"/articles/"))
    assert page.url.split("/articles/")[1].split("?")[0] in SPACEX_POSTS
    context.close()
