"""订阅 and 导出 in the real browser: `finsearch serve` (gunicorn) and headless Chromium via Playwright.

Uses conftest's server and browser; leaves a screenshot in test-artifacts/.
"""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from finsearch.search import EXPORT_COLUMNS

pytestmark = pytest.mark.browser

ATOM = "{http://www.w3.org/2005/Atom}"


def test_subscribe_and_export_links_return_the_search(watched_page, server, artifacts):
    page, problems = watched_page({"width": 1366, "height": 900}, timeout=15_000, accept_downloads=True)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    page.goto(server + "/?q=银行&paper=财联社&sort=newest")
    summary = page.inner_text("#summary")
    api = json.loads(page.request.get(server + "/api/search?q=银行&paper=财联社&sort=newest&size=50").text())
    assert api["articles"] > 50
    assert f"{api['articles']:,} 篇" in page.inner_text(".take-away") and re.search(r"共 [\d,]+ 条结果", summary)
    alternate = page.locator("head link[rel=alternate][type='application/atom+xml']")
    assert alternate.count() == 1
    page.screenshot(path=str(artifacts / "results-feed-export.png"), full_page=False)

    # 订阅: the link is the feed of this very search (the newest 50).
    feed_link = page.locator("a.feed-link", has_text="订阅")
    assert feed_link.get_attribute("href") == alternate.get_attribute("href")
    with page.expect_response(re.compile(r"/feed\.atom")) as answer:
        feed_link.click()
    response = answer.value
    assert response.status == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.body())
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id").rsplit("/", 1)[1] for e in entries] == [h["id"] for h in api["hits"]]
    assert {e.findtext(f"{ATOM}author/{ATOM}name") for e in entries} == {"财联社"}
    page.goto(server + "/?q=银行&paper=财联社&sort=newest")

    # 导出 CSV: a download of every post of the search, readable as UTF-8 (BOM) with its Chinese.
    with page.expect_download() as download_info:
        page.click("text=导出 CSV")
    download = download_info.value
    assert download.suggested_filename == "finsearch-银行.csv"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == EXPORT_COLUMNS and len(rows) - 1 == api["articles"]
    assert [r[0] for r in rows[1:51]] == [h["id"] for h in api["hits"]]  # newest first, as on the page
    assert all(r[2] == "财联社" and "银行" in r[4] + r[6] for r in rows[1:])
    href = page.locator("a", has_text="导出 CSV").get_attribute("href")
    assert parse_qs(urlsplit(href).query) == {"q": ["银行"], "paper": ["财联社"], "sort": ["newest"]}

    assert problems == []
