"""Search behaviour on real posts: what a reporter types, what comes back."""
from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.relevance import contains_literally
from finsearch.search import Notice, SearchError, SearchRequest, Sort, make_request
from finsearch.search.snippets import snippet_html

JIEFANG = "202205022367563116"  # 上海金融国企保障金融血脉畅通 (解放日报)


def ids(engine, query, **options) -> list[str]:
    """Every post found, in order (reprints of a story right after it)."""
    options.setdefault("page_size", 100)
    collected = []
    page = 0
    while True:
        page += 1
        result = engine.search(SearchRequest(query=query, page=page, **options))
        for hit in result.hits:
            collected += [hit.id] + [r.id for r in hit.reprints]
        if page >= result.pages:
            return collected


def literal_truth(posts, term: str) -> set[str]:
    """Posts whose title or body contains `term` (the ground truth of benchmarks/relevance.py)."""
    return {p.id for p in posts
            if contains_literally(p.title, term) or contains_literally("\n".join(p.paragraphs), term)}


def test_finds_a_multiword_term_and_marks_it(engine):
    result = engine.search(SearchRequest(query="供应链金融"))
    assert JIEFANG in [hit.id for hit in result.hits]
    hit = next(h for h in result.hits if h.id == JIEFANG)
    assert "<mark>供应链金融</mark>" in hit.snippet
    assert hit.paper == "解放日报" and hit.categories == ("jiefangribao",)
    assert hit.date == dt.datetime(2022, 5, 2, 6, 3, 23, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_a_word_inside_a_longer_word(engine):
    # jieba keeps 上海银行 as one word; 银行 must still find it.
    assert JIEFANG in ids(engine, "银行")
    assert JIEFANG in ids(engine, "上行e链")  # jieba cuts 上行 / e / 链线 here


@pytest.mark.parametrize("term", ["供应链金融", "人工智能", "新能源", "ETF", "A股", "5G", "17亿元", "3.5%",
                                  "半导体", "美联储", "上海银行"])
def test_results_are_exactly_the_posts_containing_the_term(engine, archive_posts, term):
    truth = literal_truth(archive_posts, term)
    found = set(ids(engine, term))
    assert truth
    assert found == truth, (term, sorted(truth - found)[:5], sorted(found - truth)[:5])


def test_terms_apart_are_not_a_match_for_the_term(engine, archive_posts):
    both_apart = {p.id for p in archive_posts
                  if "人工" in "".join(p.paragraphs) and "智能" in "".join(p.paragraphs)} - literal_truth(archive_posts, "人工智能")
    found = set(ids(engine, "人工智能"))
    assert not (found & both_apart)
    assert set(ids(engine, "人工 智能")) >= found | both_apart  # two words: both required, anywhere


def test_latin_and_digits_fold_case_and_width(engine):
    assert ids(engine, "etf") == ids(engine, "ETF") == ids(engine, "ＥＴＦ")
    assert len(ids(engine, "ETF")) > 0
    assert ids(engine, "１７亿元") == ids(engine, "17亿元")
    assert ids(engine, "rpa") == ids(engine, "RPA") == [JIEFANG]  # 上海银行's RPA robots


def test_traditional_query_finds_simplified_text(engine):
    assert ids(engine, "供應鏈金融") == ids(engine, "供应链金融")


def test_operators(engine, archive_posts):
    a, b = set(ids(engine, "美联储")), set(ids(engine, "央行"))
    assert set(ids(engine, "美联储 OR 央行")) == a | b
    assert set(ids(engine, "美联储 央行")) == a & b
    assert set(ids(engine, "美联储 -央行")) == a - b
    assert set(ids(engine, '"美联储" NOT 央行')) == a - b
    in_title = {p.id for p in archive_posts if "美联储" in p.title}
    assert set(ids(engine, "title:美联储")) == in_title
    assert set(ids(engine, "标题：美联储")) == in_title
    assert in_title < a


def test_a_minus_before_a_number_is_its_sign_not_an_exclusion(engine):
    title = "日本5月工业产出同比初值 -1.7%，预期 1.3%，前值 2%"
    assert ids(engine, title)[0] == "677816534"  # was: everything about 日本… without 1.7%
    found = set(ids(engine, "工业产出 -1.7%"))
    assert "677816534" in found and found <= set(ids(engine, "工业产出"))
    assert set(ids(engine, "工业产出 - 1.7%")) == found  # a lone minus is nothing to exclude
    assert "677816534" not in ids(engine, "工业产出 -日本")


def test_title_matches_rank_first(engine):
    result = engine.search(SearchRequest(query="美联储", page_size=5))
    assert all("美联储" in hit.title for hit in result.hits)


def test_date_range_is_inclusive_by_day(engine, archive_posts):
    day = dt.date(2026, 6, 30)  # 500 posts in data/posts, from 00:00 to 09:59
    truth = {p.id for p in archive_posts if p.published.date() == day}
    assert truth
    assert set(ids(engine, "", date_from=day, date_to=day)) == truth
    later = {p.id for p in archive_posts if p.published.date() >= day}
    assert set(ids(engine, "", date_from=day)) == later


def test_category_and_paper_filters(engine, archive_posts):
    cls = {p.id for p in archive_posts if "cailianshe" in p.categories}
    ths = {p.id for p in archive_posts if "tonghuashun" in p.categories}
    assert set(ids(engine, "", categories=("cailianshe",))) == cls
    assert set(ids(engine, "", categories=("cailianshe", "tonghuashun"))) == cls | ths
    assert set(ids(engine, "", papers=("解放日报",))) == {JIEFANG}
    assert ids(engine, "", categories=("no-such-category",)) == []


def test_sort_orders(engine):
    newest = engine.search(SearchRequest(query="银行", sort=Sort.NEWEST, page_size=50)).hits
    oldest = engine.search(SearchRequest(query="银行", sort=Sort.OLDEST, page_size=50)).hits
    assert [h.date for h in newest] == sorted((h.date for h in newest), reverse=True)
    assert [h.date for h in oldest] == sorted(h.date for h in oldest)
    assert oldest[0].date < newest[0].date


def test_pages_do_not_overlap(engine):
    first = engine.search(SearchRequest(query="银行", page=1, page_size=10))
    second = engine.search(SearchRequest(query="银行", page=2, page_size=10))
    both = engine.search(SearchRequest(query="银行", page=1, page_size=20))
    assert [h.id for h in first.hits + second.hits] == [h.id for h in both.hits]
    assert first.total == second.total == both.total > 20


@pytest.mark.parametrize("query, sort", [("银行", Sort.RELEVANCE), ("银行", Sort.NEWEST), ("银行", Sort.OLDEST),
                                         ("", Sort.RELEVANCE), ("-银行", Sort.RELEVANCE)])
def test_small_pages_follow_the_order_of_one_big_page(engine, query, sort):
    big = [h.id for h in engine.search(SearchRequest(query=query, sort=sort, page_size=100)).hits]
    small = [h.id for page in range(1, 8)
             for h in engine.search(SearchRequest(query=query, sort=sort, page=page, page_size=7)).hits]
    assert small == big[:len(small)] and len(small) == 49
    if not query or query.startswith("-"):  # every score equal: newest first
        newest = [h.id for h in engine.search(SearchRequest(query=query, sort=Sort.NEWEST, page_size=100)).hits]
        assert big == newest


def test_facets_count_the_hits(engine):
    result = engine.search(SearchRequest(query="银行"))
    assert sum(f.count for f in result.facets.categories) == result.articles >= result.total
    assert sum(f.count for f in result.facets.papers) == result.articles
    assert sum(f.count for f in result.facets.months) == result.articles
    assert [f.value for f in result.facets.months] == sorted(f.value for f in result.facets.months)
    # A category facet still shows the other categories once one is picked.
    picked = engine.search(SearchRequest(query="银行", categories=("cailianshe",)))
    assert picked.total < result.total
    assert picked.facets.categories == result.facets.categories


def test_empty_query_lists_everything_newest_first(engine, archive_posts):
    result = engine.search(SearchRequest(query=""))
    assert result.articles == len(archive_posts)
    # The newest post leads the first hit, or is a reprint of the story it leads.
    newest = max(archive_posts, key=lambda p: p.published)
    first = result.hits[0]
    assert newest.id in {first.id, *(reprint.id for reprint in first.reprints)}
    dates = [hit.date for hit in result.hits]
    assert dates == sorted(dates, reverse=True)


# What a malformed query finds: the same posts as the plain query it is read as (None: nothing), and how it was read
# (the words people read of each notice: test_webui).
@pytest.mark.parametrize("query, read_as, notice", [
    ('"供应链金融', "供应链金融", Notice.UNBALANCED_QUOTES),
    ("OR", "or", None),  # alone, OR is the word itself
    ("AND OR NOT", None, Notice.DANGLING_OPERATOR),
    ("-", None, Notice.NOTHING_TO_SEARCH),
    ("()", None, Notice.NOTHING_TO_SEARCH),
    ("((银行", "银行", None),
    ("银行)", "银行", None),
    ("title:", "title", None),
    ("foo:银行", "foo 银行", None),  # not a field: its words
    ("😀", None, Notice.NOTHING_TO_SEARCH),
    ("*", None, Notice.NOTHING_TO_SEARCH),
    ("银行 OR", "银行", Notice.DANGLING_OPERATOR),
    ("NOT 银行", "-银行", None),
    ('""', None, Notice.NOTHING_TO_SEARCH),
    ("\\", None, Notice.NOTHING_TO_SEARCH),
    ("~2^3", "2 3", None),
])
def test_malformed_queries_are_read_leniently(engine, query, read_as, notice):
    result = engine.search(SearchRequest(query=query))
    assert result.notice == notice
    if read_as is None:
        assert (result.total, result.hits) == (0, ())
    else:  # the same posts (a boost such as ^3 may reorder them)
        assert sorted(ids(engine, query)) == sorted(ids(engine, read_as))


def test_unclosed_quote_is_read_as_words(engine):
    result = engine.search(SearchRequest(query='"供应链金融'))
    assert JIEFANG in [h.id for h in result.hits]
    assert result.notice is Notice.UNBALANCED_QUOTES


def test_exclusion_alone_means_everything_else(engine, archive_posts):
    with_bank = set(ids(engine, "银行"))
    assert set(ids(engine, "-银行")) == {p.id for p in archive_posts} - with_bank


def test_bad_requests_get_a_message():
    from finsearch.messages import describe
    from finsearch.search.query import parse_query
    with pytest.raises(SearchError) as too_long:
        parse_query("银" * 5000)
    assert too_long.value.code == "query_too_long" and describe(too_long.value) == "查询太长（5000 字），请不超过 500 字"
    with pytest.raises(SearchError) as bad_date:
        make_request("银行", date_from="2026-13-01")
    assert (bad_date.value.code, bad_date.value.param) == ("bad_date", "from")
    assert describe(bad_date.value) == "from 不是有效日期（应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM）：2026-13-01"
    with pytest.raises(SearchError):
        make_request("银行", sort="best")
    with pytest.raises(SearchError):
        make_request("银行", page="x")


def test_out_of_range_pages_are_refused(engine):
    for request in (SearchRequest(query="银行", page=0), SearchRequest(query="银行", page_size=0),
                    SearchRequest(query="银行", page_size=101),
                    SearchRequest(date_from=dt.date(2026, 2, 1), date_to=dt.date(2026, 1, 1))):
        with pytest.raises(SearchError):
            engine.search(request)


def test_snippets_escape_everything_but_the_marks():
    text = '<script>alert(1)</script> 上海银行推出<img src=x onerror=alert(1)> & "供应链金融"平台'
    snippet = snippet_html(text, ("供应链金融", "银行"))
    assert "<script>" not in snippet and "<img" not in snippet
    assert "&lt;/script&gt;" in snippet and "&lt;img" in snippet
    assert "<mark>供应链金融</mark>" in snippet and "<mark>银行</mark>" in snippet
    assert snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_article_has_clean_paragraphs(engine):
    article = engine.article(JIEFANG)
    assert article.title == "上海金融国企保障金融血脉畅通"
    assert article.paper == "解放日报" and article.tags == ("解放日报新闻",)
    assert len(article.paragraphs) == 11
    assert engine.article("no-such-id") is None
    marked = engine.highlight(article.paragraphs[2], "供应链金融")
    assert "<mark>供应链金融</mark>" in marked


def test_stats(engine, archive_posts):
    stats = engine.stats()
    assert stats.documents == len(archive_posts)
    assert stats.first_date.date() == dt.date(2021, 12, 8)
    assert {f.value for f in stats.categories} >= {"emnews", "cailianshe", "tonghuashun", "jiefangribao"}


def test_the_same_story_in_several_papers_is_shown_once(tmp_path):
    from finsearch.indexer import build_index
    from finsearch.search import SearchEngine
    story = ('---\ntitle: "央行开展逆回购操作"\ndate: {date}\ncategories: {cat}\ntags: {paper}新闻\n---\n'
             '<p>央行今日开展1000亿元7天期逆回购操作。</p><p class="em_media">（文章来源：{paper}）</p>\n')
    archive = tmp_path / "_posts"
    archive.mkdir()
    for code, (date, cat, paper) in enumerate([("2026-07-01 09:00:00 +0800", "jingjiwang", "经济网"),
                                               ("2026-07-01 08:00:00 +0800", "jiefangribao", "解放日报"),
                                               ("2026-07-02 10:00:00 +0800", "emnews", "东财滚动")]):
        (archive / f"2026-07-0{code + 1}-{100 + code}.md").write_text(story.format(date=date, cat=cat, paper=paper),
                                                                       "utf-8")
    (archive / "2026-07-03-200.md").write_text(story.format(date="2026-07-03 10:00:00 +0800", cat="emnews",
                                                            paper="东财滚动").replace("1000亿元", "2000亿元"), "utf-8")
    build_index(archive, tmp_path / "ix", progress=False)
    engine = SearchEngine(tmp_path / "ix")
    result = engine.search(SearchRequest(query="逆回购"))
    assert result.total == 2 and result.articles == 4
    first = next(h for h in result.hits if h.reprints)
    assert first.paper == "解放日报"  # the earliest published stands for the story
    assert sorted(r.paper for r in first.reprints) == ["东财滚动", "经济网"]
    only = engine.search(SearchRequest(query="逆回购", papers=("经济网",)))
    assert [h.paper for h in only.hits] == ["经济网"] and only.hits[0].reprints == ()
