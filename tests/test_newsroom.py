"""The newsroom's tool, round two (issue 27): what a reporter and an analyst trip over, through the
web app, the JSON API and the command line, on the real posts of data/posts."""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

from tests.test_cli import finsearch

SAMPLE_STORIES = 2417  # the stories of data/posts' 3,010 posts


def _json(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_json()


# -- 7. the small ones --------------------------------------------------------------------------

def test_cli_search_without_a_query_lists_the_newest_posts(index_dir):
    done = finsearch("search", "--index", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total"] == SAMPLE_STORIES and result["sort"] == "newest"
    dates = [hit["date"] for hit in result["hits"]]
    assert dates == sorted(dates, reverse=True) and dates[0].startswith("2026-08-20")
    text = finsearch("search", "--index", index_dir)
    assert text.returncode == 0 and f"最新文章，共 {SAMPLE_STORIES} 条" in text.stdout


def test_a_bad_literal_flag_names_its_parameter(client):
    assert _json(client.get("/api/search?q=央行&literal=2"), 400) == {
        "error": "literal 应为 1 或 0：2", "code": "bad_flag", "param": "literal"}


def test_a_page_past_the_end_says_so(client, index_dir):
    pages = _json(client.get("/api/search?q=银行"))["pages"]
    html = client.get("/?q=银行&page=999").get_data(as_text=True)
    assert f"第 999/{pages} 页" not in html
    assert f"第 999 页超出范围（共 {pages} 页）" in html
    done = finsearch("search", "银行", "--page", "999", "--index", index_dir)
    assert done.returncode == 0 and f"第 999 页超出范围（共 {pages} 页）" in done.stdout


def test_the_trends_form_leaves_its_empty_boxes_out_of_the_address(client):
    response = client.get("/trends?q=降准&q=&q=降息&q=&q=&from=&to=&interval=&mode=count")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/trends" and parse_qsl(location.query) == [("q", "降准"), ("q", "降息")]
    shared = client.get("/trends?q=降准&q=&mode=share")
    assert parse_qsl(urlsplit(shared.headers["Location"]).query) == [("q", "降准"), ("mode", "share")]
    assert client.get("/trends?q=降准&q=降息").status_code == 200
