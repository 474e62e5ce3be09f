"""What a reporter sees in a real browser (issue 27): the run's `finsearch serve` on the sample index
(conftest's `server`), driven by its headless Chromium (`browser`), at a laptop's and a phone's size.

Needs /usr/bin/chromium; without it the tests fail, they are not skipped. Leaves screenshots in
test-artifacts/ (git-ignored).
"""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENS = {"wide": WIDE, "phone": PHONE}


@pytest.fixture()
def open_page(watched_page):
    """open_page(viewport, **context options) -> a page (conftest's watched_page); fails the test on any script error."""
    pages_problems: list[list[str]] = []

    def opened(viewport, **options):
        page, problems = watched_page(viewport, **options)
        pages_problems.append(problems)
        return page

    yield opened
    assert [problem for problems in pages_problems for problem in problems] == []


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


# -- 1. 「试试：」 stays in the results, under the header ---------------------------------------

@pytest.mark.parametrize("screen", SCREENS)
def test_try_instead_box_sits_in_the_results_not_over_the_search_box(open_page, server, screen):
    page = open_page(SCREENS[screen])
    page.goto(f"{server}/?q={quote('供应练金融')}")
    offer = _box(page, "#suggestions")
    header = _box(page, "header.topbar")
    assert offer["y"] >= header["y"] + header["height"], "the box floats over the header"
    for control in ("#q", ".searchbox button[type=submit]"):
        assert not _overlap(offer, _box(page, control)), f"the box covers {control}"
    results = _box(page, "#results")
    assert results["x"] <= offer["x"] and offer["x"] + offer["width"] <= results["x"] + results["width"] + 1
    _shot(page, f"newsroom-try-instead-{screen}")
    page.locator("#suggestions a.try-query").first.click()
    page.wait_for_selector(".hit")


# -- 7. Esc never wipes what was typed ------------------------------------------------------------

def test_escape_twice_keeps_the_typed_query(open_page, server):
    page = open_page(WIDE)
    page.goto(server + "/")
    box = page.locator("#q")
    box.click()
    page.keyboard.type("央行 降")
    page.locator("#q-suggestions [role=option]").first.wait_for()
    page.keyboard.press("Escape")  # closes the list
    assert page.locator("#q-suggestions").is_hidden()
    page.keyboard.press("Escape")  # leaves the box
    assert page.evaluate("document.activeElement.id") != "q"
    assert box.input_value() == "央行 降"


# -- 2. a hole in the archive is drawn as no data, not as zero -------------------------------------

EMPTY_WEEK = "2026-05-25 至 2026-05-31"  # data/posts has no post at all that week


def _inside(inner: dict, outer: dict) -> bool:
    return outer["x"] - 1 <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1


@pytest.mark.parametrize("screen", SCREENS)
def test_the_timeline_draws_a_hole_as_no_data(open_page, server, screen):
    page = open_page(SCREENS[screen])
    page.goto(f"{server}/?q={quote('降息')}")
    figure = page.locator(f"figure.timeline.for-{'wide' if screen == 'wide' else 'narrow'}")
    assert figure.is_visible()
    plot_height = float(figure.locator("rect.bar-target").first.get_attribute("height"))
    if screen == "wide":  # weeks: the empty one is hatched top to bottom, with no bar in it
        hole = figure.locator("rect.bar-gap.is-empty", has=page.locator(f"title:text-is('{EMPTY_WEEK}：无数据：档案中没有这段时间的文章')"))
        box = hole.bounding_box()
        assert box and box["height"] == pytest.approx(plot_height, abs=1)
        assert not any(_inside(bar.bounding_box(), box) for bar in figure.locator("a.bar rect.bar-fill").all())
    else:  # months: May 2026 has one day of posts, so its column is hatched nearly to the bottom
        may = figure.locator("rect.bar-gap", has=page.locator("title:text-matches('^2026-05-01 至 2026-05-31：仅 1/31 天有数据$')"))
        assert may.bounding_box()["height"] == pytest.approx(plot_height * 30 / 31, abs=1)
    assert figure.locator(".chart-key").inner_text() == "档案缺失的天数（无数据，不是零）"
    _shot(page, f"newsroom-timeline-gaps-{screen}")


@pytest.mark.parametrize("screen", SCREENS)
def test_the_trends_chart_breaks_at_a_hole(open_page, server, screen):
    page = open_page(SCREENS[screen])
    page.goto(f"{server}/trends?q={quote('降准')}&q={quote('降息')}&interval=week&from=2026-05-18&to=2026-08-23")
    hole = page.locator("rect.trend-gap", has=page.locator("title:text-matches('^2026-05-25 至 05-31：无数据')")).first
    box = hole.bounding_box()
    assert box and box["height"] > 150  # the whole plot's height
    dots = [dot.bounding_box() for dot in page.locator("circle.trend-dot").all()]
    assert dots and not any(_inside(dot, box) for dot in dots)  # no dot at zero in it
    segments = page.locator(".trend-line line").all()
    assert not any(_inside(segment.bounding_box(), box) or (
        segment.bounding_box()["x"] < box["x"] and segment.bounding_box()["x"] + segment.bounding_box()["width"]
        > box["x"] + box["width"]) for segment in segments)  # no line across it either
    page.locator("figure.trend-chart").first.scroll_into_view_if_needed()
    _shot(page, f"newsroom-trends-gaps-{screen}")


# -- 4. suggestions: the words typed before, codes, and a misspelling --------------------------------

@pytest.mark.parametrize("screen", SCREENS)
def test_suggestions_follow_what_was_typed(open_page, server, screen):
    page = open_page(SCREENS[screen])
    page.goto(server + "/")
    box = page.locator("#q")
    box.click()
    page.keyboard.type("央行 降")
    options = page.locator("#q-suggestions [role=option] .suggestion-text")
    options.first.wait_for()
    shown = options.all_inner_texts()
    assert shown[0] == "央行 降息" and "央行 降准" in shown and shown.index("央行 降准") < shown.index("央行 降雨")
    _shot(page, f"newsroom-suggest-context-{screen}")
    box.fill("")
    page.keyboard.type("6005")
    moutai = page.locator("#q-suggestions [role=option]", has_text="600519")
    moutai.wait_for()
    assert moutai.locator(".suggestion-label").inner_text() == "贵州茅台"
    _shot(page, f"newsroom-suggest-code-{screen}")
    moutai.dispatch_event("mousedown")
    page.wait_for_url("**/?q=600519")
    assert page.locator(".hit").count() == 2 and "贵州茅台" in page.locator("#alias-notice").inner_text()


def test_a_misspelling_offers_the_word_meant_first(open_page, server):
    page = open_page(WIDE)
    page.goto(f"{server}/?q={quote('供应练金融')}")
    first = page.locator("#suggestions a.try-query").first
    assert first.inner_text() == "供应链金融"
    first.click()
    page.wait_for_selector(".hit")
    assert page.input_value("#q") == "供应链金融" and page.locator(".hit mark").first.inner_text() == "供应链金融"


# -- the article: step through the matches, copy a citation ------------------------------------------

ARTICLE = "202606303787107447"  # 东财滚动 美日欧央行转向带来多重风险: six matches of 央行


@pytest.mark.parametrize("screen", SCREENS)
def test_article_steps_through_its_matches_and_copies_a_citation(open_page, server, screen):
    page = open_page(SCREENS[screen], permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{server}/articles/{ARTICLE}?q={quote('央行')}")
    marks = page.locator(".article mark")
    total = marks.count()
    assert total == 6 and page.locator("#article-matches").inner_text().startswith("本文 6 处匹配")
    place = page.locator(".match-place")
    page.click(".match-next")
    assert place.inner_text() == "第 1/6 处"
    page.click(".match-next")
    assert place.inner_text() == "第 2/6 处"
    current = page.locator(".article mark.is-current")
    assert current.count() == 1 and current.evaluate("m => m === document.querySelectorAll('.article mark')[1]")
    assert current.evaluate("m => { const r = m.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    _shot(page, f"newsroom-article-matches-{screen}")
    page.click(".match-prev")
    page.click(".match-prev")
    assert place.inner_text() == "第 6/6 处"  # before the first: the last

    expected = json.loads(page.request.get(f"{server}/api/articles/{ARTICLE}").text())["citation"]
    assert expected == ("「美日欧央行转向带来多重风险」，东财滚动，2026-06-30 07:59，"
                        "http://finance.eastmoney.com/a/202606303787107447.html")
    page.click(".cite-copy")
    page.locator(".cite-copy", has_text="已复制").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == expected
    page.locator(".cite-copy").scroll_into_view_if_needed()
    _shot(page, f"newsroom-article-cite-{screen}")
