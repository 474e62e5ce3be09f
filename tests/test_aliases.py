"""Aliases, visibly: 央行 also finds 中国人民银行, the page says so, one click gives the literal query;
a stock's code finds the posts that name it, once the archive has paired them."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from benchmarks.relevance import contains_literally
from finsearch.analysis.aliases import AliasTable, read_groups, stock_mentions
from finsearch.indexer import build_index
from finsearch.indexer.update import reindex
from finsearch.search import SearchEngine, SearchRequest

TREASURY_DEPOSITS = "2427355"  # 中央国库现金管理…：财政部、中国人民银行定于…（no 央行 in it）


def ids(engine, query: str, literal: bool = False) -> list[str]:
    """Every post found, in rank order (reprints of a story right after it)."""
    collected: list[str] = []
    page = 0
    while True:
        page += 1
        result = engine.search(SearchRequest(query=query, page=page, page_size=100, literal=literal))
        for hit in result.hits:
            collected += [hit.id] + [r.id for r in hit.reprints]
        if page >= result.pages:
            return collected


def containing(posts, term: str) -> set[str]:
    return {p.id for p in posts
            if contains_literally(p.title, term) or contains_literally("\n".join(p.paragraphs), term)}


def test_central_bank_finds_posts_that_only_say_the_full_name(engine, archive_posts):
    by_id = {p.id: p for p in archive_posts}
    assert "央行" not in by_id[TREASURY_DEPOSITS].title + "".join(by_id[TREASURY_DEPOSITS].paragraphs)
    result = engine.search(SearchRequest(query="央行", page_size=100))
    assert result.expanded == (("央行", ("中国人民银行", "人民银行")),)
    found = ids(engine, "央行")
    assert TREASURY_DEPOSITS in found
    # Exactly the posts with any of the names: nothing the typed word finds is lost.
    assert set(found) == containing(archive_posts, "央行") | containing(archive_posts, "中国人民银行") \
        | containing(archive_posts, "人民银行")
    hit = next(h for page in range(1, result.pages + 1)
               for h in engine.search(SearchRequest(query="央行", page=page, page_size=100)).hits
               if h.id == TREASURY_DEPOSITS)
    assert "<mark>中国人民银行</mark>" in hit.snippet


def test_literal_mode_and_quotes_are_exactly_todays_literal_set(engine, archive_posts):
    literal = set(ids(engine, "央行", literal=True))
    assert literal == containing(archive_posts, "央行")
    assert TREASURY_DEPOSITS not in literal
    assert set(ids(engine, '"央行"')) == literal
    assert engine.search(SearchRequest(query='"央行"')).expanded == ()
    assert literal < set(ids(engine, "央行"))


def test_posts_with_the_typed_word_rank_above_posts_with_only_an_alias(engine, archive_posts):
    typed = containing(archive_posts, "央行")
    order = ids(engine, "央行")
    first_alias_only = next(i for i, pid in enumerate(order) if pid not in typed)
    # Reprints sit right after their story; apart from them, every typed-word post comes first.
    ranked_stories = [h.id for h in engine.search(SearchRequest(query="央行", page_size=100)).hits]
    story_kinds = [pid in typed for pid in ranked_stories]
    assert story_kinds == sorted(story_kinds, reverse=True)
    assert first_alias_only > 0


def test_a_short_form_is_searched_only_when_typed(engine, archive_posts):
    # 央行 is part of 欧洲央行 too: typing the full name does not search the short form.
    result = engine.search(SearchRequest(query="中国人民银行"))
    assert result.expanded == (("中国人民银行", ("人民银行",)),)
    assert set(ids(engine, "中国人民银行")) == containing(archive_posts, "人民银行")


def test_excluded_words_are_not_expanded(engine):
    assert ids(engine, "财政部 -央行") == ids(engine, "财政部 -央行", literal=True)


@pytest.mark.parametrize("short, full", [("发改委", "国家发展改革委"), ("上交所", "上海证券交易所"),
                                         ("港交所", "香港交易所"), ("证监会", "中国证券监督管理委员会")])
def test_other_shipped_groups(engine, archive_posts, short, full):
    only_full = containing(archive_posts, full) - containing(archive_posts, short)
    assert only_full  # real posts that use only the full name
    assert only_full <= set(ids(engine, short)) and not only_full & set(ids(engine, short, literal=True))


def test_alias_file_groups():
    groups = read_groups("# comment\n央行 > 中国人民银行 人民银行\n两融 融资融券  # inline\n孤词\n")
    assert groups == [(("央行",), ("中国人民银行", "人民银行")), ((), ("两融", "融资融券"))]
    table = AliasTable.build(groups)
    assert table.alternatives("央行") == ("中国人民银行", "人民银行")
    assert table.alternatives("人民银行") == ("中国人民银行",)
    assert table.alternatives("融资融券") == ("两融",)
    assert table.alternatives("孤词") == ()


# -- the page and the API -----------------------------------------------------

def test_page_says_what_else_was_searched_and_links_to_the_literal_query(client, engine):
    html = client.get("/?q=央行").get_data(as_text=True)
    assert "同时搜索了：中国人民银行、人民银行" in html
    href = html.split('class="alias-switch" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(href).query) == {"q": ["央行"], "literal": ["1"]}
    literal_page = client.get(href).get_data(as_text=True)
    assert "只搜了「央行」" in literal_page
    data = client.get(href.replace("/?", "/api/search?") + "&size=100").get_json()
    assert data["literal"] is True
    literal = set(ids(engine, "央行", literal=True))
    assert data["articles"] == len(literal)
    assert {h["id"] for h in data["hits"]} | {r["id"] for h in data["hits"] for r in h["reprints"]} <= literal
    expanded = client.get("/api/search?q=央行").get_json()
    assert expanded["expanded"] == [{"term": "央行", "aliases": ["中国人民银行", "人民银行"]}]
    assert expanded["articles"] > data["articles"]
    assert client.get("/api/search?q=央行&literal=maybe").status_code == 400


def test_article_page_marks_the_alias_it_was_found_by(client):
    html = client.get(f"/articles/{TREASURY_DEPOSITS}?q=央行").get_data(as_text=True)
    assert "<mark>中国人民银行</mark>" in html
    html = client.get(f"/articles/{TREASURY_DEPOSITS}?q=央行&literal=1").get_data(as_text=True)
    assert "<mark>" not in html.split("<article", 1)[-1]


# -- stock names and codes, learned from the archive ----------------------------

def write_post(folder: Path, post_id: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"2026-09-01-{post_id}.md").write_text(
        f'---\nlayout: post\ntitle: "{title}"\ndate: 2026-09-01 09:30:00 +0800\ncategories: test\n'
        f"tags: 测试新闻\n---\n<p>{body}</p>\n", "utf-8")


def test_stock_mentions_read_the_forms_posts_use():
    text = "白酒龙头贵州茅台（600519）走强，比亚迪(002594.SZ)、宁德时代300750.SZ跟涨；上市公司天阳科技（300872.SZ）"
    assert stock_mentions(text) == {("贵州茅台", "600519"), ("比亚迪", "002594"), ("宁德时代", "300750"),
                                    ("天阳科技", "300872")}
    # A word before several codes is no stock's name; an everyday word is not taken as one.
    assert stock_mentions("沪深300成份指数(000300)、太阳能(000591)") == set()


def test_a_code_finds_posts_naming_the_stock_once_the_archive_pairs_them(tmp_path):
    """酒鬼酒 (000799) is not in the shipped stock table: only the archive can pair them."""
    archive = tmp_path / "posts"
    write_post(archive, "1", "酒鬼酒发布分红方案", "酒鬼酒宣布2026年中期分红方案。")
    write_post(archive, "2", "白酒板块午后走强", "五粮液、泸州老窖跟涨。")
    build_index(archive, tmp_path / "index", progress=False)
    engine = SearchEngine(tmp_path / "index")
    try:
        assert ids(engine, "000799") == []  # nothing in the archive says which stock 000799 is
        # The nightly reindex learns the pair from a new post, and the old post is found by the code.
        # (A title that is no trading-floor move, 异动 or 涨停, which re-scoring would put below the dividend.)
        write_post(archive, "3", "白酒股早盘消息", "酒鬼酒（000799）早盘涨超2%。")
        reindex(archive, tmp_path / "index", progress=False)
        assert set(ids(engine, "000799")) == {"1", "3"}
        assert ids(engine, "000799", literal=True) == ["3"]
        assert ids(engine, "000799")[0] == "3"  # the code typed ranks above the name only
        assert set(ids(engine, "酒鬼酒")) == {"1", "3"}
        result = engine.search(SearchRequest(query="000799"))
        assert result.expanded == (("000799", ("酒鬼酒",)),)
        # Deleting the post that paired them forgets the pair.
        (archive / "2026-09-01-3.md").unlink()
        reindex(archive, tmp_path / "index", progress=False, max_delete=100)  # 1 of 3: meant
        assert ids(engine, "000799") == []
        assert engine.search(SearchRequest(query="酒鬼酒")).expanded == ()
    finally:
        engine.close()


def test_a_code_after_an_everyday_word_does_not_make_the_word_a_company(tmp_path):
    """A post writes 新能源（001248）: the code does not make every post on new energy about a
    company, neither in a search for the code nor in the 股票 facet of another search."""
    archive = tmp_path / "posts"
    write_post(archive, "1", "新能源板块走强", "新能源（001248）早盘涨超2%，光伏跟涨。")
    write_post(archive, "2", "新能源汽车销量创新高", "多家公司新能源汽车销量创新高。")
    write_post(archive, "3", "酒鬼酒早盘异动", "酒鬼酒（000799）早盘涨超2%，多家公司跟涨。")
    build_index(archive, tmp_path / "index", progress=False)
    engine = SearchEngine(tmp_path / "index")
    try:
        assert ids(engine, "001248") == ["1"]  # the code where it is written, not the word
        assert engine.search(SearchRequest(query="新能源")).expanded == ()
        stocks = {f.value: f.count for f in engine.search(SearchRequest(query="公司")).facets.stocks}
        assert "001248" not in stocks and stocks.get("000799") == 1  # a company's name still counts
    finally:
        engine.close()


def test_a_full_rebuild_and_a_lost_stock_file_relearn_the_pairs(tmp_path):
    archive = tmp_path / "posts"
    write_post(archive, "1", "茅台发布分红方案", "贵州茅台宣布2026年中期分红方案。")
    write_post(archive, "3", "白酒股早盘异动", "贵州茅台（600519）早盘涨超2%。")
    build_index(archive, tmp_path / "index", progress=False)

    def current_file():
        return (tmp_path / "index" / "current").resolve() / "stock_names.json"
    current_file().unlink()  # lost: the generation is damaged, and the next run repairs it
    report = reindex(archive, tmp_path / "index", progress=False)  # nothing else changed
    assert report.repaired == ["stock_names.json is missing"]
    data = json.loads(current_file().read_text("utf-8"))
    assert data["posts"] == {"2026-09-01-3.md": [["贵州茅台", "600519"]]}
    # Written over with other pairs: the checksum says so, and the file is computed again.
    stale = {"generation": data["generation"], "posts": {"gone.md": [["五粮液", "000858"]]}}
    current_file().write_text(json.dumps(stale), "utf-8")
    assert reindex(archive, tmp_path / "index", progress=False).repaired
    assert json.loads(current_file().read_text("utf-8"))["posts"] == data["posts"]
    engine = SearchEngine(tmp_path / "index")
    try:
        assert set(ids(engine, "600519")) == {"1", "3"}
    finally:
        engine.close()


def test_cli_literal_flag(cli, index_dir):
    def run(*args):
        done = cli("search", "央行", "--index", index_dir, "--json", "--limit", "100", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
    expanded, literal = run(), run("--literal")
    assert expanded["expanded"] and expanded["articles"] > literal["articles"]
    assert literal["literal"] is True and literal["expanded"] == expanded["expanded"]
    text = cli("search", "央行", "--index", index_dir).stdout
    assert "同时搜索了：中国人民银行、人民银行" in text


# -- in a real browser, against the real server ---------------------------------


@pytest.mark.browser
def test_browser_notice_literal_link_and_suggestion(browser, server, engine):
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(10_000)
    page.goto(server + "/?q=央行")
    notice = page.inner_text("#alias-notice")
    assert "同时搜索了：中国人民银行、人民银行" in notice and "只搜「央行」" in notice
    expanded_count = page.inner_text("#summary")
    page.click("#alias-notice a.alias-switch")
    page.wait_for_url(lambda url: "literal=1" in url)
    assert "只搜了「央行」" in page.inner_text("#alias-notice")
    literal = engine.search(SearchRequest(query="央行", literal=True))
    literal_count = page.inner_text("#summary")
    served = json.loads(page.context.request.get(server + "/api/search?q=央行&literal=1").text())
    assert f"共 {literal.total:,} 条结果" in literal_count and literal_count != expanded_count, (
        literal_count, {k: served[k] for k in ("total", "articles", "literal", "notice")}, page.url)
    assert set(page.locator(".hit mark").all_inner_texts()) == {"央行"}
    # A new query from the search box is searched with aliases again.
    page.fill("#q", "人民银行")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "literal" not in url and "q=" in url)
    assert "同时搜索了：中国人民银行" in page.inner_text("#alias-notice")
    # Nothing found: a suggestion, one click away.
    page.goto(server + "/?q=美联储+喵星人")
    page.click("#suggestions a.try-query")
    page.wait_for_url(lambda url: "%E5%96%B5" not in url)
    assert page.locator(".hit").count() > 0
    page.context.close()
