"""The web UI and JSON API through Flask's test client, on the session index of real posts."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import pytest

from finsearch.render import result_to_json, stats_to_json
from finsearch.search import MAX_QUERY_CHARS, make_request
from finsearch.webui import CONTENT_SECURITY_POLICY, create_app

SUPPLY_CHAIN_ID = "202205022367563116"  # 解放日报: 上海金融国企保障金融血脉畅通
SUPPLY_CHAIN_TITLE = "上海金融国企保障金融血脉畅通"
SAMPLE_STORIES = 2385  # the stories of data/posts' 3,010 posts (analysis/stories.py merges copies)
SUPPLY_CHAIN_URL = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202205022367563116"


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def api(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/json"
    return response.get_json()


class Audit(HTMLParser):
    """Collects everything in a page that could run script or load something from elsewhere."""

    DANGEROUS_TAGS = {"iframe", "frame", "object", "embed", "base", "style", "svg:script", "form:evil"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[dict] = []
        self.marks = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style=…> (inline style)")
            if name in ("href", "src", "action", "formaction", "xlink:href", "data") and value \
                    and re.match(r"\s*(javascript|vbscript|data):", value, re.I):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag in self.DANGEROUS_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/"):
            self.problems.append("<script> not from /static/")
        if tag == "img" and not (attributes.get("src") or "").startswith("/static/"):
            self.problems.append(f"<img src={attributes.get('src')!r}>")
        if tag == "a":
            self.links.append(attributes)
        if tag == "mark":
            self.marks += 1

    def handle_data(self, data):
        self.text.append(data)


def audit(html: str) -> Audit:
    auditor = Audit()
    auditor.feed(html)
    auditor.close()
    assert auditor.problems == [], auditor.problems
    return auditor


def hrefs(html: str, pattern: str = "") -> list[str]:
    return [a["href"] for a in audit(html).links if a.get("href") and pattern in a["href"]]


# -- the search page -------------------------------------------------------------------

def test_search_page_marks_the_term_in_a_real_post(client):
    html = page(client, "/?q=供应链金融")
    audit(html)
    assert 'value="供应链金融"' in html  # the box keeps the query
    article_links = hrefs(html, f"/articles/{SUPPLY_CHAIN_ID}")
    assert article_links, "the 解放日报 post is among the hits"
    # The title links to the article page carrying the query (the way back).
    assert parse_qs(urlsplit(article_links[0]).query) == {"q": ["供应链金融"]}
    assert "<mark>供应链金融</mark>" in html
    assert "上海" in html and "解放日报" in html and "2022-05-02 06:03" in html
    assert re.search(r"共 <strong>[\d,]+</strong> 条结果", html)
    assert "用时" in html and "毫秒" in html
    for label in ("按相关度", "最新", "最早", "日期", "分类", "报刊", "近一周", "近一月", "近一年", "按日分布"):  # one hit: a day
        assert label in html, label


def test_snippets_mark_whole_terms(client):
    data = api(client, "/api/search?q=金融&size=100")
    marks = [m for hit in data["hits"] for m in re.findall(r"<mark>(.*?)</mark>", hit["snippet"] + hit["title"])]
    assert marks and set(marks) == {"金融"}  # a passage never ends inside a match


def test_empty_query_lists_the_latest_posts(client, engine):
    html = page(client, "/")
    audit(html)
    assert "最新文章" in html
    data = api(client, "/api/search")
    dates = [hit["date"] for hit in data["hits"]]
    assert len(dates) == 10 and dates == sorted(dates, reverse=True)
    # Every post: data/posts has 3,010, in 2,385 stories (identical and near copies merged).
    assert (data["total"], data["articles"], data["pages"]) == (SAMPLE_STORIES, engine.stats().documents, 239)
    assert "最新文章，共 <strong>2,385</strong> 条" in html
    newest = data["hits"][0]["id"]
    assert html.index(f"/articles/{newest}") < html.index(f"/articles/{data['hits'][1]['id']}")


def test_hits_show_time_paper_category_and_a_snippet(client):
    html = page(client, "/?q=供应链金融&paper=解放日报")
    hit = re.search(r'<li class="hit">(.*?)</li>', html, re.S).group(1)
    # The title does not say 供应链金融: it is shown unmarked, as a link to the article.
    assert re.search(rf'<h3 class="hit-title"><a href="/articles/{SUPPLY_CHAIN_ID}\?[^"]*">{SUPPLY_CHAIN_TITLE}</a></h3>', hit)
    assert '<time datetime="2022-05-02T06:03:23+08:00">2022-05-02 06:03</time>' in hit
    assert "解放日报" in hit and "jiefangribao" in hit
    assert '<p class="snippet">' in hit and "<mark>供应链金融</mark>" in hit


def test_sort_links_and_order(client):
    html = page(client, "/?q=金融")
    sort_links = hrefs(html, "sort=")
    assert {parse_qs(urlsplit(h).query)["sort"][0] for h in sort_links} == {"blend", "newest", "oldest"}
    newest = api(client, "/api/search?q=金融&sort=newest")["hits"]
    oldest = api(client, "/api/search?q=金融&sort=oldest")["hits"]
    assert [h["date"] for h in newest] == sorted((h["date"] for h in newest), reverse=True)
    assert [h["date"] for h in oldest] == sorted(h["date"] for h in oldest)
    assert oldest[0]["date"] < newest[0]["date"]
    assert 'class="is-active" aria-current="true">最新' in page(client, "/?q=金融&sort=newest")


def test_pagination(client):
    first = page(client, "/?q=金融&size=5")
    assert "下一页" in first and "上一页" in first
    next_link = hrefs(first, "page=2")[0]
    assert dict(parse_qsl(urlsplit(next_link).query)) == {"q": "金融", "page": "2", "size": "5"}
    second = page(client, next_link)
    assert 'aria-current="page">2<' in second
    previous = re.search(r'href="([^"]*)" rel="prev"', second).group(1)
    assert "page=" not in previous.replace("&amp;", "&")  # page 1 is the default
    one, two = api(client, "/api/search?q=金融&size=5"), api(client, "/api/search?q=金融&size=5&page=2")
    assert not {h["id"] for h in one["hits"]} & {h["id"] for h in two["hits"]}
    # A page past the end: says so, links back to page 1.
    past = page(client, f"/?q=金融&size=5&page={one['pages'] + 3}")
    assert "没有结果" in past and "回到第一页" in past


def test_filters_in_the_url(client, engine):
    everything = api(client, "/api/search?q=金融&size=100")
    june = api(client, "/api/search?q=金融&from=2026-06-01&to=2026-06-30&size=100")
    assert 0 < june["total"] < everything["total"]
    assert all(h["date"].startswith("2026-06") for h in june["hits"])
    # Month counts ignore the date filter on purpose (the timeline shows the other months).
    assert june["facets"]["month"] == everything["facets"]["month"]

    one = api(client, "/api/search?q=金融&category=cailianshe")
    other = api(client, "/api/search?q=金融&category=emnews")
    both = api(client, "/api/search?q=金融&category=cailianshe&category=emnews&size=100")
    assert one["total"] and other["total"]
    assert max(one["total"], other["total"]) < both["total"] <= one["total"] + other["total"]
    assert {h["category"] for h in both["hits"]} == {"cailianshe", "emnews"}

    paper = api(client, "/api/search?q=供应链金融&paper=解放日报")
    assert [h["id"] for h in paper["hits"]] == [SUPPLY_CHAIN_ID]
    assert api(client, "/api/search?q=供应链金融&paper=财联社")["total"] == 0  # only 解放日报 says it

    html = page(client, "/?q=金融&category=cailianshe&category=emnews&from=2026-06-01")
    audit(html)
    chips = re.findall(r'<a class="chip" href="([^"]*)"', html)
    assert len(chips) == 3  # the date range and the two categories, each removable
    removed = [parse_qs(urlsplit(h.replace("&amp;", "&")).query) for h in chips]
    assert removed[0] == {"q": ["金融"], "category": ["cailianshe", "emnews"]}
    assert removed[1] == {"q": ["金融"], "from": ["2026-06-01"], "category": ["emnews"]}
    clear = re.search(r'<a class="chips-clear" href="([^"]*)">清除筛选</a>', html).group(1)
    assert clear == "/?q=%E9%87%91%E8%9E%8D"


def test_facets_toggle_values(client):
    html = page(client, "/?q=金融")
    links = re.findall(r'<a class="facet-link( is-selected)?" href="([^"]*)"', html)
    assert links and not any(selected for selected, _ in links)
    categories = [parse_qs(urlsplit(h.replace("&amp;", "&")).query).get("category") for _, h in links]
    assert ["cailianshe"] in categories and ["emnews"] in categories
    picked = page(client, "/?q=金融&category=cailianshe")
    selected = re.findall(r'<a class="facet-link is-selected" href="([^"]*)"', picked)
    assert selected == ["/?q=%E9%87%91%E8%9E%8D"]  # clicking a ticked value unticks it
    add = [h for _, h in re.findall(r'<a class="facet-link( is-selected)?" href="([^"]*)"', picked)
           if "emnews" in h][0]
    assert parse_qs(urlsplit(add.replace("&amp;", "&")).query)["category"] == ["cailianshe", "emnews"]


def test_quick_date_ranges_count_back_from_the_newest_post(client, engine):
    last = engine.stats().last_date.date()
    html = page(client, "/?q=金融")
    week = re.search(r'<a href="([^"]*)">近一周</a>', html).group(1).replace("&amp;", "&")
    assert dict(parse_qsl(urlsplit(week).query)) == {
        "q": "金融", "from": (last - dt.timedelta(days=6)).isoformat(), "to": last.isoformat()}
    assert last.isoformat() in html  # says what "now" is
    assert api(client, week.replace("/?", "/api/search?"))["total"] > 0
    active = page(client, week)
    assert 'class="is-active" aria-current="true">近一周' in active


def test_no_results_offers_to_drop_the_filters(client):
    html = page(client, "/?q=供应链金融&category=cailianshe&category=emnews")
    assert "没有找到与“供应链金融”相关的新闻" in html
    drop = re.search(r'<a class="button-link" href="([^"]*)">去掉筛选条件', html).group(1)
    assert drop == "/?q=%E4%BE%9B%E5%BA%94%E9%93%BE%E9%87%91%E8%9E%8D"
    plain = page(client, "/?q=完全不存在的词语组合乙丙丁")
    assert "没有找到" in plain and "去掉筛选条件" not in plain


@pytest.mark.parametrize("query, notice, code", [
    ('"未闭合 金融', "引号不成对，已按普通词语搜索", "unbalanced_quotes"),
    ("银行 OR", "忽略了查询首尾多余的 AND/OR/NOT", "dangling_operator"),
    ("()", "查询中没有可搜索的词语", "nothing_to_search"),
])
def test_a_leniently_read_query_shows_the_notice(client, query, notice, code):
    html = page(client, f"/?q={quote(query)}")
    assert f'<div class="alert alert-notice" role="status">{notice}</div>' in html
    data = api(client, f"/api/search?q={quote(query)}")
    assert (data["notice"], data["notice_code"]) == (notice, code)


def test_a_query_read_as_typed_has_no_notice(client):
    html = page(client, "/?q=银行")
    assert 'class="alert alert-notice"' not in html
    data = api(client, "/api/search?q=银行")
    assert (data["notice"], data["notice_code"]) == ("", "")


# -- the article page ------------------------------------------------------------------

def test_article_page(client):
    url = f"/articles/{SUPPLY_CHAIN_ID}?q=供应链金融&from=2022-01-01&category=jiefangribao&sort=newest&page=1"
    html = page(client, url)
    auditor = audit(html)
    assert SUPPLY_CHAIN_TITLE in html
    assert "2022-05-02 06:03" in html and "解放日报" in html and "解放日报新闻" in html and "jiefangribao" in html
    assert re.search(r"<mark( id=\"first-match\")?>供应链金融</mark>", html)  # the query's terms, highlighted in the body
    assert "银行贷款、保险履约、证券交易" in html
    original = [a for a in auditor.links if a.get("href") == SUPPLY_CHAIN_URL]
    assert original and original[0]["rel"] == "noopener noreferrer"
    assert "原文链接" in html and "返回搜索结果" in html
    back = [a["href"] for a in auditor.links if a.get("class") == "back-link"]
    assert back and all(dict(parse_qsl(urlsplit(h).query)) == {
        "q": "供应链金融", "from": "2022-01-01", "category": "jiefangribao", "sort": "newest"} for h in back)


def test_article_without_a_query_has_no_marks(client):
    html = page(client, f"/articles/{SUPPLY_CHAIN_ID}")
    assert "<mark>" not in html
    assert re.search(r'<a class="back-link" href="/">', html)


def test_unknown_article_is_a_404(client):
    html = page(client, "/articles/000000000000000000", status=404)
    assert "没有这篇文章" in html
    assert api(client, "/api/articles/000000000000000000", status=404)["error"]
    for weird in ("/articles/%00", "/articles/..%2f..%2fetc", "/articles/" + "9" * 5000, "/articles/<script>"):
        assert client.get(weird).status_code == 404, weird


def test_unknown_routes(client):
    assert "页面不存在" in page(client, "/no/such/page", status=404)
    assert api(client, "/api/no-such-endpoint", status=404)["error"]
    assert api(client, "/api", status=404)["error"]
    response = client.post("/api/search")
    assert response.status_code == 405 and response.get_json()["error"]


# -- the JSON API ----------------------------------------------------------------------

def test_api_search_is_the_cli_contract(client, engine):
    data = api(client, "/api/search?q=供应链金融&size=20")
    expected = result_to_json(engine.search(make_request("供应链金融", size="20")))
    data.pop("took_ms"), expected.pop("took_ms")
    assert data == expected
    assert set(data) >= {"query", "total", "page", "size", "pages", "sort", "notice", "hits", "facets"}
    hit = next(h for h in data["hits"] if h["id"] == SUPPLY_CHAIN_ID)
    assert set(hit) >= {"id", "title", "date", "category", "paper", "url", "snippet"}
    assert hit["title"] == SUPPLY_CHAIN_TITLE and hit["paper"] == "解放日报" and hit["category"] == "jiefangribao"
    assert hit["date"] == "2022-05-02T06:03:23+08:00" and hit["url"] == SUPPLY_CHAIN_URL
    assert "<mark>供应链金融</mark>" in hit["snippet"]
    assert set(data["facets"]) == {"category", "paper", "month", "stock", "first"}
    assert data["facets"]["paper"] == [{"value": "解放日报", "count": 1}]  # the one post that says it
    assert data["facets"]["category"] == [{"value": "jiefangribao", "count": 1}]
    assert data["facets"]["month"] == [{"value": "2022-05", "count": 1}]
    assert all(re.fullmatch(r"\d{4}-\d{2}", f["value"]) for f in data["facets"]["month"])


def test_api_page_and_size(client):
    data = api(client, "/api/search?q=金融&page=2&size=3")
    assert (data["page"], data["size"], len(data["hits"])) == (2, 3, 3)
    assert api(client, "/api/search?size=100")["size"] == 100
    assert api(client, "/api/search?size=1")["size"] == 1


def test_api_article(client):
    data = api(client, f"/api/articles/{SUPPLY_CHAIN_ID}")
    assert data["id"] == SUPPLY_CHAIN_ID and data["title"] == SUPPLY_CHAIN_TITLE
    assert data["date"] == "2022-05-02T06:03:23+08:00"
    assert data["categories"] == ["jiefangribao"] and data["category"] == "jiefangribao"
    assert data["tags"] == ["解放日报新闻"] and data["paper"] == "解放日报" and data["url"] == SUPPLY_CHAIN_URL
    assert isinstance(data["paragraphs"], list) and len(data["paragraphs"]) > 5
    assert any("供应链金融" in p for p in data["paragraphs"])
    assert not any("<" in p for p in data["paragraphs"])  # clean text, no markup


def test_api_stats(client, engine):
    assert api(client, "/api/stats") == stats_to_json(engine.stats())


# -- bad parameters: a message and 400, never 500 ---------------------------------------------

BAD = [
    ("from=2022-13-01", "from"),
    ("from=yesterday", "from"),
    ("to=2022-02-30", "to"),
    ("page=-1", "页码"),
    ("page=0", "页码"),
    ("page=abc", "page"),
    ("page=1001", "页码"),
    ("size=0", "每页条数"),
    ("size=1000", "每页条数"),
    ("size=1.5", "size"),
    ("sort=foo", "排序"),
    ("from=2022-06-01&to=2022-05-01", "开始日期晚于结束日期"),
    ("q=" + "长" * 10_000, "查询太长"),
    ("q=" + "a" * (MAX_QUERY_CHARS + 1), "查询太长"),
]


@pytest.mark.parametrize("query, message", BAD, ids=[b[0][:30] for b in BAD])
def test_bad_parameters(client, query, message):
    data = api(client, f"/api/search?{query}", status=400)
    assert message in data["error"]
    html = page(client, f"/?{query}", status=400)
    audit(html)
    assert 'class="alert alert-error"' in html and message in html
    assert "Traceback" not in html


def test_an_unknown_category_or_paper_is_no_hits_not_an_error(client):
    assert api(client, "/api/search?q=金融&category=no-such-category")["total"] == 0
    assert api(client, "/api/search?paper=不存在的报刊")["total"] == 0
    html = page(client, "/?q=金融&category=no-such-category")
    assert "没有找到" in html and "no-such-category" in html  # the filter can be removed


ODD = ["\x00", "*", "?", "(((", ")))", "title:(", '"', '""', "OR", "AND OR NOT", "-", "--金融", "🙂", "%",
       "\\", "[a TO b]", "金融~2", "金融^3", "*:*", "title:", "body:\"", "a" * MAX_QUERY_CHARS,
       "(" * MAX_QUERY_CHARS, "金融 " * 100, "\u202e金融", "ｆｕｌｌｗｉｄｔｈ", "%ED%A0%80", "\ufffd"]


@pytest.mark.parametrize("query", ODD)
def test_odd_queries_are_answered(client, query):
    """None of these is too long, so each is searched: a count of results or 没有找到, never an error."""
    from urllib.parse import quote
    data = api(client, f"/api/search?q={quote(query)}")
    html = page(client, f"/?q={quote(query)}")
    audit(html)
    if data["total"]:
        assert f"共 <strong>{data['total']:,}</strong> 条结果" in html
    else:
        assert "没有找到" in html
    if data["notice"]:
        assert data["notice"] in html
    article = page(client, f"/articles/{SUPPLY_CHAIN_ID}?q={quote(query)}")
    assert SUPPLY_CHAIN_TITLE in article


# Parameters at or past their limits: (total, page, size, sort) as answered, or the (message, code,
# param) of a 400. data/posts holds 2,385 stories, from 2021-12-08 to 2026-08-20. With no query there
# is nothing to rank by: the newest come first, and the answer says so.
ODD_PARAMETERS = [
    ("to=9999-12-31", (SAMPLE_STORIES, 1, 10, "newest")),
    ("from=0001-01-01", (SAMPLE_STORIES, 1, 10, "newest")),
    ("from=9999-12-31", (0, 1, 10, "newest")),
    ("to=0001-01-01", (0, 1, 10, "newest")),
    ("page=1000", (SAMPLE_STORIES, 1000, 10, "newest")),  # past the last page (239): no hits, not an error
    ("size=100", (SAMPLE_STORIES, 1, 100, "newest")),
    ("category=", (SAMPLE_STORIES, 1, 10, "newest")),  # an empty filter is no filter
    ("category=%00", (0, 1, 10, "newest")),
    ("paper=%20", (SAMPLE_STORIES, 1, 10, "newest")),
    ("sort=NEWEST", (SAMPLE_STORIES, 1, 10, "newest")),
    ("sort=%20oldest%20", (SAMPLE_STORIES, 1, 10, "oldest")),
    ("page=%201%20", (SAMPLE_STORIES, 1, 10, "newest")),
    ("page=99999999999999999999999", ("页码应在 1 到 1000 之间", "page_out_of_range", "page")),
    ("size=-5", ("每页条数应在 1 到 100 之间", "size_out_of_range", "size")),
    ("from=2022-05-02T25:00", ("from 不是有效日期（应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM）：2022-05-02T25:00",
                               "bad_date", "from")),
    ("q=%ff%fe", (0, 1, 10, "relevance")),
    ("category=" + "x" * 5000, (0, 1, 10, "newest")),
]


@pytest.mark.parametrize("query, expected", ODD_PARAMETERS, ids=[q[:30] for q, _ in ODD_PARAMETERS])
def test_odd_parameters(client, query, expected):
    if isinstance(expected[0], str):
        message, code, param = expected
        assert api(client, f"/api/search?{query}", status=400) == {"error": message, "code": code, "param": param}
        assert message in page(client, f"/?{query}", status=400)
    else:
        data = api(client, f"/api/search?{query}")
        assert (data["total"], data["page"], data["size"], data["sort"]) == expected
        page(client, f"/?{query}")


# -- security -----------------------------------------------------------------------------

XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
       "'><svg onload=alert(1)>", "</textarea><script>alert(1)</script>", "{{7*7}}"]


@pytest.mark.parametrize("payload", XSS)
def test_queries_are_escaped(client, payload):
    from urllib.parse import quote
    for url in (f"/?q={quote(payload)}", f"/?q={quote(payload)}&category={quote(payload)}&paper={quote(payload)}",
                f"/articles/{SUPPLY_CHAIN_ID}?q={quote(payload)}&from={quote(payload)}"):
        html = page(client, url)  # searched (nothing found), or the article with the payload as its query
        if "<" in payload:
            assert payload not in html
        audit(html)
    assert 'value="{{7*7}}"' in page(client, "/?q={{7*7}}")  # shown as typed, never evaluated


def test_security_headers_on_every_response(client):
    for url, status in (("/", 200), (f"/articles/{SUPPLY_CHAIN_ID}", 200), ("/api/search?q=金融", 200),
                        ("/api/stats", 200), ("/static/style.css", 200), ("/static/app.js", 200),
                        ("/nope", 404), ("/api/nope", 404), ("/?page=0", 400), ("/api/search?page=0", 400)):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_no_inline_script_or_style_in_templates():
    templates = Path(__file__).resolve().parents[1] / "webui" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert "<style" not in text and " style=" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), template.name
        # Only the engine's escaped HTML is trusted.
        for line in re.findall(r"\{\{[^}]*\|\s*safe[^}]*\}\}", text):
            assert re.search(r"\b(title_html|snippet|paragraph)\b", line), (template.name, line)


EVIL_POST = """---
layout: post
title: "<img src=x onerror=alert(1)>恶意标题 安全测试金融"
date: 2026-07-01 09:30:00 +0800
categories: xss<b>cat</b>
tags: <svg/onload=alert(1)>新闻
---
<p>安全测试金融第一段，正常文本。</p>
<script>alert('script-in-body')</script>
<p>图片注入 <img src=x onerror=alert(1)> 之后的文字。</p>
<iframe src="javascript:alert('iframe')"></iframe>
<p><a href="javascript:alert('link')">点击领取红包</a> 恶意链接后的说明文字。</p>
<p>&lt;script&gt;alert('escaped')&lt;/script&gt; 看似脚本的文字 onerror=alert(3)</p>
<p onclick="alert(4)" style="color:red">带事件属性的段落 "><img src=x onerror=alert(5)></p>

<javascript:alert('source')>

[返回首页](//finews.withounder.com/)
"""
EVIL_ID = "990000000000000001"


@pytest.fixture(scope="module")
def evil_app(tmp_path_factory):
    from finsearch.indexer import build_index
    archive = tmp_path_factory.mktemp("evil-archive")
    (archive / f"2026-07-01-{EVIL_ID}.md").write_text(EVIL_POST, "utf-8")
    (archive / "2026-07-02-990000000000000002.md").write_text(
        EVIL_POST.replace("2026-07-01", "2026-07-02").replace("<p>安全测试", "<p>第二篇安全测试"), "utf-8")
    index = tmp_path_factory.mktemp("evil-index")
    assert build_index(archive, index, progress=False).indexed == 2
    app = create_app(index, TESTING=True)
    yield app
    app.extensions["finsearch"].close()


def test_a_crafted_post_is_escaped_on_the_article_page(evil_app):
    client = evil_app.test_client()
    html = page(client, f"/articles/{EVIL_ID}?q=安全测试金融")
    audit(html)  # no <script>, <iframe>, on…= or javascript: anywhere
    for raw in ("<img src=x", "<script>alert", "<iframe", "<svg/onload", "<b>cat</b>", 'href="javascript:'):
        assert raw not in html, raw
    assert "&lt;img src=x onerror=alert(1)&gt;恶意标题" in html  # the title, shown as text
    assert "xss&lt;b&gt;cat&lt;/b&gt;" in html
    assert "<mark>安全测试金融</mark>" in html
    assert "原文链接 ↗" not in html and "无原文链接" in html  # no http(s) source link: no link at all
    data = api(client, f"/api/articles/{EVIL_ID}")
    assert data["title"].startswith("<img src=x")  # JSON carries the text as it is


def test_a_crafted_post_is_escaped_on_the_search_page(evil_app):
    client = evil_app.test_client()
    for url in ("/?q=安全测试金融", "/", "/?q=恶意标题&category=xss<b>cat</b>",
                "/?paper=" + "<svg/onload=alert(1)>", "/?q=安全测试金融&size=1&page=2"):
        html = page(client, url)
        audit(html)
        for raw in ("<img src=x", "<script>alert", "<iframe", "<svg/onload", "<b>cat</b>"):
            assert raw not in html, (url, raw)
    html = page(client, "/?q=安全测试金融")
    assert "&lt;img src=x onerror=alert(1)&gt;恶意标题" in html
    assert "<mark>安全测试金融</mark>" in html


def test_only_http_links_to_the_original(client, app, monkeypatch):
    engine = app.extensions["finsearch"].engine()
    real = engine.article_page(SUPPLY_CHAIN_ID)
    title = '<script>alert("t")</script>'
    for url, linked in (("javascript:alert(1)", False), ("JaVaScRiPt:alert(1)", False), ("data:text/html,x", False),
                        ("//evil.example/x", False), ("ftp://example.com/x", False), ("http:/x", False),
                        ("https://example.com/a?b=1&c=<2>", True)):
        fake = dataclasses.replace(real, article=dataclasses.replace(real.article, url=url, title=title),
                                   title_html=engine.highlight(title, ""))
        monkeypatch.setattr(engine, "article_page", lambda *_args, fake=fake: fake)
        html = page(client, f"/articles/{SUPPLY_CHAIN_ID}")
        auditor = audit(html)
        assert "<script>alert" not in html
        originals = [a for a in auditor.links if a.get("rel") == "noopener noreferrer"]
        assert bool(originals) == linked, url
        if linked:
            assert originals[0]["href"] == url and "原文链接 ↗" in html
        else:
            assert "无原文链接" in html


# -- the app itself ---------------------------------------------------------------------

def test_configuration_from_the_environment(index_dir, monkeypatch):
    monkeypatch.setenv("FINSEARCH_INDEX", str(index_dir))
    monkeypatch.setenv("FINSEARCH_HOST", "0.0.0.0")
    monkeypatch.setenv("FINSEARCH_PORT", "8123")
    app = create_app(TESTING=True)
    try:
        assert app.config["FINSEARCH_INDEX"] == str(index_dir)
        assert (app.config["FINSEARCH_HOST"], app.config["FINSEARCH_PORT"]) == ("0.0.0.0", 8123)
        assert app.test_client().get("/api/stats").get_json()["documents"] > 0
    finally:
        app.extensions["finsearch"].close()
    monkeypatch.setenv("FINSEARCH_PORT", "eighty")
    with pytest.raises(ValueError, match="FINSEARCH_PORT"):
        create_app(index_dir)


def test_without_an_index_the_pages_say_so(tmp_path):
    app = create_app(tmp_path / "nothing-here", TESTING=True)
    client = app.test_client()
    html = page(client, "/?q=金融", status=503)
    assert "finsearch index" in html
    assert "finsearch index" in api(client, "/api/search?q=金融", status=503)["error"]


def test_bind_address():
    # Serving before the first index exists: tests/test_lifecycle.py, with the real server.
    from finsearch.webui.server import bind_address
    assert bind_address("127.0.0.1", 8000) == "127.0.0.1:8000"
    assert bind_address("::1", 8000) == "[::1]:8000"


def test_an_unexpected_error_is_a_500_without_a_trace(app, monkeypatch, caplog):
    engine = app.extensions["finsearch"].engine()

    def broken(request):
        raise RuntimeError("secret internal detail")
    monkeypatch.setattr(engine, "search", broken)
    client = app.test_client()
    for url in ("/?q=金融", "/api/search?q=金融"):
        response = client.get(url)
        assert response.status_code == 500
        body = response.get_data(as_text=True)
        assert "secret internal detail" not in body and "Traceback" not in body
        assert "服务器出错了" in body
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "secret internal detail" in caplog.text  # logged for the operator
