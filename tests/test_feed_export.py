"""Following a search (Atom), taking its results away (CSV, JSON Lines), and the API's errors,
date-times and parameters: through Flask's test client and the real CLI, on the real sample posts."""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
import shutil
import socket
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest

from finsearch.search import EXPORT_COLUMNS, make_request
from finsearch.webui import create_app
from tests.conftest import FINEWS_POSTS

SUPPLY_CHAIN_ID = "202205022367563116"  # 解放日报: 上海金融国企保障金融血脉畅通
SUPPLY_CHAIN_TITLE = "上海金融国企保障金融血脉畅通"
SITE_TZ = dt.timezone(dt.timedelta(hours=8))
ATOM = "http://www.w3.org/2005/Atom"


def get(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:300])
    return response


def api(client, url, status=200) -> dict:
    return get(client, url, status).get_json()


def parse_feed(client, url):
    response = get(client, url)
    assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


# -- the Atom feed ------------------------------------------------------------------------------

def test_feed_is_the_newest_50_of_the_search(client):
    feed = parse_feed(client, "/feed.atom?q=金融")
    newest = api(client, "/api/search?q=金融&sort=newest&size=50")
    assert newest["total"] > 50  # so the feed has to stop at 50
    entries = feed.entries
    assert len(entries) == 50
    assert [e.id for e in entries] == [f"tag:finsearch,2026:article/{h['id']}" for h in newest["hits"]]
    dates = [dt.datetime.fromisoformat(e.updated) for e in entries]
    assert dates == sorted(dates, reverse=True)
    for entry, hit in zip(entries, newest["hits"]):
        assert entry.title == hit["headline"]
        assert dt.datetime.fromisoformat(entry.published) == dt.datetime.fromisoformat(hit["date"])
        assert entry.author == hit["paper"]
        assert [t.term for t in entry.tags] == hit["categories"]
        link = urlsplit(entry.link)
        assert link.path == f"/articles/{hit['id']}" and parse_qs(link.query) == {"q": ["金融"]}
        assert entry.summary_detail.type == "text/html"
        assert plain(entry.summary) == plain(hit["snippet"]) and "金融" in plain(entry.summary)
    # The snippet's HTML is the summary's text, escaped once as XML (feedparser drops <mark>: read the XML).
    raw = ET.fromstring(get(client, "/feed.atom?q=金融").data)
    summaries = [e.findtext(f"{{{ATOM}}}summary") for e in raw.iter(f"{{{ATOM}}}entry")]
    assert summaries == [h["snippet"] for h in newest["hits"]] and "<mark>金融</mark>" in summaries[0]

    # The feed itself: id, title, updated (its newest entry), self and alternate links.
    assert feed.feed.id == "tag:finsearch,2026:search?q=%E9%87%91%E8%9E%8D"
    assert "金融" in feed.feed.title
    assert dt.datetime.fromisoformat(feed.feed.updated) == dates[0]
    links = {link.rel: link.href for link in feed.feed.links}
    assert urlsplit(links["self"]).path == "/feed.atom" and parse_qs(urlsplit(links["self"]).query) == {"q": ["金融"]}
    assert urlsplit(links["alternate"]).path == "/"


def test_feed_filters_apply(client):
    feed = parse_feed(client, "/feed.atom?q=银行&paper=财联社&from=2026-07-01&to=2026-07-31")
    assert feed.entries
    assert {e.author for e in feed.entries} == {"财联社"}
    assert all("2026-07-01" <= e.updated[:10] <= "2026-07-31" for e in feed.entries)
    expected = api(client, "/api/search?q=银行&paper=财联社&from=2026-07-01&to=2026-07-31&sort=newest&size=50")
    assert [e.id.rsplit("/", 1)[1] for e in feed.entries] == [h["id"] for h in expected["hits"]]

    by_category = parse_feed(client, "/feed.atom?category=tonghuashun")
    assert len(by_category.entries) == 50 and {e.author for e in by_category.entries} == {"同花顺"}
    assert [e.title for e in parse_feed(client, "/feed.atom?category=jiefangribao").entries] == [SUPPLY_CHAIN_TITLE]


def test_feed_with_no_hits_is_still_valid(client):
    feed = parse_feed(client, "/feed.atom?q=没有这个词的新闻xyzzy")
    assert feed.entries == [] and feed.feed.updated  # dated by the index's newest post


def test_feed_is_cached_and_conditional(client):
    first = get(client, "/feed.atom?q=央行")
    again = get(client, "/feed.atom?q=央行")
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    unchanged = client.get("/feed.atom?q=央行", headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and not unchanged.data


def test_feed_refuses_bad_and_unknown_parameters(client):
    assert get(client, "/feed.atom?from=2026-13-01", status=400).mimetype == "text/html"
    assert "query" in get(client, "/feed.atom?query=金融", status=400).get_data(as_text=True)


def test_entry_ids_survive_a_reindex_and_the_cache_follows_the_index(tmp_path):
    from finsearch.indexer import build_index, reindex
    archive = tmp_path / "posts"
    shutil.copytree(FINEWS_POSTS, archive)
    posts = sorted(archive.rglob("*.md"))
    root = tmp_path / "index"
    build_index(archive, root, progress=False)
    app = create_app(root, TESTING=True)
    try:
        client = app.test_client()
        before = parse_feed(client, "/feed.atom")
        assert len(before.entries) == len(posts)

        # A post removed (an incremental reindex): the next poll no longer lists it.
        posts[0].unlink()
        reindex(archive, root, progress=False, max_delete=100)  # 1 of 5 posts: meant
        fewer = parse_feed(client, "/feed.atom")
        assert len(fewer.entries) == len(posts) - 1
        assert {e.id for e in fewer.entries} < {e.id for e in before.entries}

        # A full rebuild: a new build with new docnums, the same entry ids.
        version = app.extensions["finsearch"].engine().version()
        started = time.time()
        while int(time.time()) == int(started):  # builds are named by the second
            time.sleep(0.05)
        build_index(archive, root, progress=False)
        assert app.extensions["finsearch"].engine().version() != version
        assert [e.id for e in parse_feed(client, "/feed.atom").entries] == [e.id for e in fewer.entries]
    finally:
        app.extensions["finsearch"].close()


def test_results_page_links_its_feed_and_exports(client):
    text = get(client, "/?q=金融&paper=财联社&sort=oldest&page=2").get_data(as_text=True)
    head = text.split("</head>")[0]
    alternate = re.search(r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" href="([^"]+)"', head)
    assert alternate, head
    feed_href = html.unescape(alternate.group(1))
    assert urlsplit(feed_href).path == "/feed.atom"
    assert parse_qs(urlsplit(feed_href).query) == {"q": ["金融"], "paper": ["财联社"]}  # no sort, no page
    assert f'href="{alternate.group(1)}" type="application/atom+xml"' in text and ">订阅</a>" in text
    csv_href = html.unescape(re.search(r'href="(/export\.csv[^"]*)"[^>]*>导出 CSV', text).group(1))
    assert parse_qs(urlsplit(csv_href).query) == {"q": ["金融"], "paper": ["财联社"], "sort": ["oldest"]}
    assert re.search(r'href="/export\.jsonl\?[^"]*"[^>]*>JSONL', text)


# -- exports ------------------------------------------------------------------------------------

def read_csv(response) -> list[dict]:
    assert response.mimetype == "text/csv" and response.is_streamed
    data = response.data
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def test_csv_export_round_trip_keeps_every_post_and_the_chinese(client):
    search = api(client, "/api/search?q=供应链金融")
    rows = read_csv(get(client, "/export.csv?q=供应链金融"))
    assert len(rows) == search["articles"] >= search["total"]  # one row per post, reprints included
    assert len({r["id"] for r in rows}) == len(rows)
    assert rows[0]["id"] == search["hits"][0]["id"]  # the search's order (relevance)
    supply = next(r for r in rows if r["id"] == SUPPLY_CHAIN_ID)
    assert supply["title"] == SUPPLY_CHAIN_TITLE and supply["paper"] == "解放日报"
    assert supply["categories"] == "jiefangribao" and supply["url"].startswith("http://finews.zning.xyz/")
    assert supply["date"].startswith("2022-05-02T") and supply["date"].endswith("+08:00")
    assert "供应链金融" in supply["snippet"]
    assert not any("<" in r["snippet"] or "&lt;" in r["snippet"] or "&amp;" in r["snippet"] for r in rows)


def test_csv_export_of_everything_has_every_post(client, engine):
    rows = read_csv(get(client, "/export.csv"))
    assert len(rows) == engine.stats().documents == api(client, "/api/search")["articles"]
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates, reverse=True)  # an empty query: newest first


def test_jsonl_export_applies_filters_and_sort(client):
    response = get(client, "/export.jsonl?q=公司&paper=同花顺&from=2026-08-01&sort=oldest")
    assert response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == api(client, "/api/search?q=公司&paper=同花顺&from=2026-08-01")["articles"] > 10
    assert {r["paper"] for r in rows} == {"同花顺"}
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows) and rows[0]["date"] >= "2026-08-01"
    assert all(set(r) == set(EXPORT_COLUMNS) and isinstance(r["categories"], list) for r in rows)


@pytest.mark.parametrize("url", ["/export.csv?from=2026-02-30", "/export.jsonl?query=金融", "/export.xlsx?q=金融"])
def test_export_refuses_bad_requests_before_streaming(client, url):
    response = client.get(url)
    assert response.status_code in (400, 404) and response.mimetype == "text/html"


def test_cli_export_writes_the_same_file_as_the_web(cli, client, index_dir, tmp_path):
    out = tmp_path / "金融.csv"
    done = cli("export", "金融", "--index", index_dir, "--paper", "财联社", "--format", "csv", "--output", out)
    assert done.returncode == 0
    assert out.read_bytes() == get(client, "/export.csv?q=金融&paper=财联社").data

    done = cli("export", "金融", "--index", index_dir, "--from", "2026-08-20", "--format", "jsonl")
    assert done.returncode == 0
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows and len(rows) == api(client, "/api/search?q=金融&from=2026-08-20")["articles"]
    assert all(r["date"].startswith("2026-08-20") for r in rows)


def test_cli_export_of_a_bad_request_exits_2(cli, index_dir):
    done = cli("export", "金融", "--index", index_dir, "--from", "yesterday")
    assert done.returncode == 2
    assert "from" in done.stderr


# -- API: errors, parameters, date-times ---------------------------------------------------------

@pytest.mark.parametrize("query, code, param", [
    ("from=2026-13-01", "bad_date", "from"),
    ("to=tomorrow", "bad_date", "to"),
    ("page=abc", "bad_integer", "page"),
    ("page=0", "page_out_of_range", "page"),
    ("size=1000", "size_out_of_range", "size"),
    ("sort=best", "bad_sort", "sort"),
    ("from=2026-08-20&to=2026-08-19", "date_order", "from"),
    ("q=" + "长" * 501, "query_too_long", "q"),
    ("query=金融", "unknown_param", "query"),
    ("q=金融&Q=银行", "unknown_param", "Q"),
])
def test_api_errors_name_the_problem_and_the_parameter(client, query, code, param):
    error = api(client, f"/api/search?{query}", status=400)
    assert (error["code"], error["param"]) == (code, param)
    assert re.search(r"[\u4e00-\u9fff]", error["error"])  # the message stays for people


def test_unknown_parameter_on_the_page_is_said_not_silently_ignored(client):
    response = get(client, "/?query=金融")
    text = response.get_data(as_text=True)
    assert "已忽略不认识的参数：query" in text and "q" in text


def test_empty_query_reports_newest(client):
    data = api(client, "/api/search")
    assert data["sort"] == "newest"
    assert api(client, "/api/search?q=金融")["sort"] == "relevance"


def test_dates_accept_a_time_to_the_minute(client):
    day = [json.loads(line) for line in
           get(client, "/export.jsonl?from=2026-08-20&to=2026-08-20").get_data(as_text=True).splitlines()]
    start, end = dt.datetime(2026, 8, 20, 9, 0, tzinfo=SITE_TZ), dt.datetime(2026, 8, 20, 9, 30, tzinfo=SITE_TZ)
    expected = {r["id"] for r in day if start <= dt.datetime.fromisoformat(r["date"]) < end + dt.timedelta(minutes=1)}
    assert 0 < len(expected) < len(day)
    for bounds in ("from=2026-08-20T09:00&to=2026-08-20T09:30", "from=2026-08-20 09:00&to=2026-08-20 09:30",
                   "from=2026-08-20T01:00Z&to=2026-08-20T01:30:00%2B00:00"):
        got = [json.loads(line) for line in
               get(client, f"/export.jsonl?{bounds}").get_data(as_text=True).splitlines()]
        assert {r["id"] for r in got} == expected, bounds
        assert api(client, f"/api/search?{bounds}")["articles"] == len(expected)
    assert api(client, "/api/search?from=2026-08-20T09:30&to=2026-08-20T09:00", status=400)["code"] == "date_order"
    assert api(client, "/api/search?from=2026-08-20T25:00", status=400)["code"] == "bad_date"


def test_last_24_hours_preset_counts_back_from_the_newest_post(client, engine):
    newest = engine.stats().last_date
    text = get(client, "/").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)"[^>]*>近24小时</a>', text)
    assert link, "no 近24小时 preset"
    href = html.unescape(link.group(1))
    state = parse_qs(urlsplit(href).query)
    assert state == {"from": [(newest - dt.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")]}
    page = get(client, href).get_data(as_text=True)
    assert re.search(r'<a href="[^"]+" class="is-active" aria-current="true">近24小时</a>', page)
    assert 'type="datetime-local" name="from"' in page
    assert f"日期：{(newest - dt.timedelta(hours=24)):%Y-%m-%d %H:%M} 至 最新" in page  # the chip, readable
    start = (newest - dt.timedelta(hours=24)).replace(second=0)
    recent = [json.loads(line) for line in
              get(client, "/export.jsonl?from=2026-08-19&to=2026-08-20").get_data(as_text=True).splitlines()]
    expected = [r for r in recent if dt.datetime.fromisoformat(r["date"]) >= start]
    assert api(client, "/api/search?" + urlsplit(href).query)["articles"] == len(expected) > 0


# -- the command line ----------------------------------------------------------------------------

def test_cli_query_starting_with_a_minus_is_a_query(cli, index_dir, engine):
    done = cli("search", "-银行", "--index", index_dir, "--json", "--limit", "100")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    with_bank = engine.search(make_request("银行")).articles
    assert data["articles"] == engine.stats().documents - with_bank > 0  # every post without 银行
    assert not any("银行" in h["title"] for h in data["hits"])

    # Mixed with other words and options, and after --.
    mixed = json.loads(cli("search", "金融", "-银行", "--index", index_dir, "--json").stdout)
    assert mixed["query"] == "金融 -银行"
    assert 0 < mixed["articles"] < engine.search(make_request("金融")).articles
    after_dashes = cli("search", "--index", index_dir, "--json", "--", "-银行")
    assert json.loads(after_dashes.stdout)["articles"] == data["articles"]
    exported = cli("export", "-银行", "--index", index_dir, "--format", "jsonl")
    assert len(exported.stdout.splitlines()) == data["articles"]

    # A mistyped option is still an error, not a query word.
    for typo in ("--limt", "-x"):
        wrong = cli("search", "银行", typo, "--index", index_dir)
        assert wrong.returncode == 2 and "unrecognized arguments" in wrong.stderr


def test_cli_serve_on_a_busy_port_says_so_in_one_line(cli, index_dir, monkeypatch):
    def serve(**options):  # in this process gunicorn would take over the test run
        raise AssertionError(f"finsearch serve started gunicorn on a busy port: {options}")
    monkeypatch.setattr("finsearch.webui.server.serve", serve)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = cli("serve", "--index", index_dir, "--port", port)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"finsearch: port {port} on 127.0.0.1 is already in use (another server?); choose one with --port"]
    assert time.monotonic() - started < 30  # no retries


# -- categories by name --------------------------------------------------------------------------

def test_category_facet_shows_the_papers_chinese_name(client):
    text = get(client, "/?q=金融&category=cailianshe").get_data(as_text=True)
    section = text.split('aria-labelledby="facet-category"')[1].split("</section>")[0]
    names = dict(re.findall(r'<span class="facet-value">([^<]+?) <span class="facet-hint">([a-z]+)</span>', section))
    # Every name is the paper the category's posts carry, read from the index.
    for name, slug in names.items():
        papers = api(client, f"/api/search?category={slug}")["facets"]["paper"]
        assert papers[0]["value"] == name, slug
    assert names["财联社"] == "cailianshe" and names["东财滚动"] == "emnews" and names["同花顺"] == "tonghuashun"
    assert ">分类：财联社<" in text  # the chip too
    feed = ET.fromstring(get(client, "/feed.atom?category=tonghuashun").data)
    assert {(c.get("term"), c.get("label")) for c in feed.iter(f"{{{ATOM}}}category")} == {("tonghuashun", "同花顺")}


def test_unknown_article_says_which_id(client):
    error = api(client, "/api/articles/000000000000000000", status=404)
    assert (error["code"], error["param"]) == ("article_not_found", "id") and "000000000000000000" in error["error"]
