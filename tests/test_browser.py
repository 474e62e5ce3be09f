"""The real server (`finsearch serve`, gunicorn) driven by headless Chromium through Playwright.

Needs /usr/bin/chromium (CI installs it); without it the test fails, it is not skipped.
Leaves screenshots in test-artifacts/ (git-ignored). The server and the browser are conftest's, one per run.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytestmark = pytest.mark.browser


def _state(url: str) -> dict:
    return parse_qs(urlsplit(url).query)


DESKTOP = {"width": 1280, "height": 900}


def test_search_filter_timeline_article_and_back(watched_page, server, artifacts):
    page, problems = watched_page(DESKTOP)

    response = page.goto(server + "/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.locator(".hit").count() == 10  # an empty query lists the latest posts

    # "/" focuses the search box; type a term and submit.
    page.locator("body").press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("金融")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?q="))
    assert _state(page.url) == {"q": ["金融"]}
    assert page.input_value("#q") == "金融"
    marks = page.locator(".hit .snippet mark, .hit .hit-title mark")
    assert marks.count() > 0
    assert set(marks.all_inner_texts()) == {"金融"}  # whole terms marked (a snippet never cuts a match)
    summary = page.inner_text("#summary")
    assert re.search(r"共 [\d,]+ 条结果", summary) and "用时" in summary
    page.screenshot(path=str(artifacts / "results.png"), full_page=True)

    # A date range from the filter form.
    page.fill("input[name=from]", "2026-06-01")
    page.fill("input[name=to]", "2026-07-31")
    page.click("text=应用日期")
    page.wait_for_url(re.compile(r"from=2026-06-01"))
    assert _state(page.url) == {"q": ["金融"], "from": ["2026-06-01"], "to": ["2026-07-31"]}
    dates = page.locator(".hit time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates and all("2026-06-01" <= d[:10] <= "2026-07-31" for d in dates)

    # A paper facet, by clicking it.
    facet = page.locator("section[aria-labelledby=facet-paper] a.facet-link").first
    paper = facet.locator(".facet-value").inner_text()
    facet.click()
    page.wait_for_url(re.compile(r"paper="))
    assert _state(page.url)["paper"] == [paper]
    assert page.locator(".chip", has_text=f"报刊：{paper}").count() == 1
    assert set(page.locator(".hit-paper").all_inner_texts()) == {paper}

    # A timeline bar narrows the date range to its period (weeks for these two months; then days).
    bar = page.locator("figure.timeline.for-wide a.bar").first
    start, end = bar.get_attribute("data-from"), bar.get_attribute("data-to")
    bar.click()
    page.wait_for_url(re.compile(rf"from={start}"))
    state = _state(page.url)
    assert state["from"] == [start] and state["to"] == [end] and state["paper"] == [paper]
    assert page.locator("figure.timeline.for-wide .timeline-title").inner_text() == "按日分布"
    dates = page.locator(".hit time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates and all(start <= d[:10] <= end for d in dates)
    results_url = page.url

    # Open an article, then go back to the same results.
    title = page.locator(".hit-title a").first
    title.click()
    page.wait_for_url(re.compile(r"/articles/"))
    assert _state(page.url) == state
    assert page.locator("h1.article-title").inner_text().strip()
    assert page.locator(".article mark").count() > 0  # the query's terms, highlighted
    original = page.locator("a", has_text="原文链接")  # every real post links to where it was published
    assert original.count() == 1
    assert original.get_attribute("rel") == "noopener noreferrer"
    assert re.match(r"https?://", original.get_attribute("href"))
    page.locator("a.back-link").first.click()
    page.wait_for_url(results_url)
    assert _state(page.url) == state
    assert page.input_value("#q") == "金融"
    assert page.locator(".chip").count() == 2  # the date range and the paper

    # 清除筛选 keeps the query and drops the filters.
    page.click("text=清除筛选")
    page.wait_for_url(re.compile(r"/\?q="))
    assert _state(page.url) == {"q": ["金融"]}

    # A phone: one column, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(results_url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts / "results-phone.png"), full_page=True)

    assert problems == []  # no script errors, no CSP violations


def test_a_pasted_headline_shows_its_post_then_labelled_related_coverage(watched_page, server, artifacts):
    """The results first, as the server sent them; then the page fetches 相关报道 and shows it below."""
    page, problems = watched_page(DESKTOP)
    headline = "特朗普听取对伊朗军事行动方案"  # a real headline of data/posts, found once
    page.goto(server + "/?" + urlencode({"q": headline}))
    assert page.locator(".hit .hit-title").all_inner_texts() == [headline]
    heading = page.locator("#related .related-heading")
    heading.wait_for()
    assert heading.inner_text() == "相关报道（未包含全部检索词）"
    related = page.locator("#related .related-hit")
    assert related.count() >= 1 and headline not in related.all_inner_texts()
    assert "未包含：" in page.locator("#related .hit-missing").first.inner_text()
    assert page.locator("#summary").inner_text().startswith("共 1 条结果")  # the total is the literal one
    page.screenshot(path=str(artifacts / "related.png"), full_page=True)
    assert problems == []  # no script errors, no CSP violations
