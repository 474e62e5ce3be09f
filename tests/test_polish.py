"""Issue 14 part 6, the UX polish: accessibility of the pages (skip link, <h1>, the phone filter
fold, WCAG contrast of style.css's colours) and the article page (matches, same story, related)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from finsearch.search import make_request
from finsearch.search.present import key_terms
from tests.test_webui import page

STYLE = Path(__file__).resolve().parents[1] / "webui" / "static" / "style.css"
TEXT_CONTRAST = 4.5  # WCAG 2.1 AA, normal text
GRAPHIC_CONTRAST = 3.0  # WCAG 2.1 AA, non-text (the timeline's bars)


# -- contrast ----------------------------------------------------------------------------

def _rules(css: str) -> dict[str, dict[str, str]]:
    """The first rule of each selector (the wide-screen one; @media overrides come later)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = dict((name.strip(), value.strip()) for name, value in
                            (d.split(":", 1) for d in body.split(";") if ":" in d))
        for selector in selectors.split(","):
            rules.setdefault(" ".join(selector.split()), declarations)
    return rules


RULES = _rules(STYLE.read_text(encoding="utf-8"))


def colour(selector: str, prop: str) -> str:
    """A rule's colour as #rrggbb, custom properties resolved."""
    value = RULES[selector][prop]
    while (var := re.fullmatch(r"var\((--[\w-]+)\)", value)):
        value = RULES[":root"][var.group(1)]
    if re.fullmatch(r"#[0-9a-fA-F]{3}", value):
        value = "#" + "".join(c * 2 for c in value[1:])
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", value), (selector, prop, value)
    return value


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_formula_matches_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the classic AA grey


PAGE = colour("body", "background")
CARD = RULES[":root"]["--card"]

# (what, foreground, background) for text the pages show
TEXT_PAIRS = [
    ("body text", colour("body", "color"), PAGE),
    ("muted on the page", colour(".muted", "color"), PAGE),
    ("muted on a card", colour(".muted", "color"), CARD),
    ("separator dots", colour(".sep", "color"), PAGE),
    ("facet counts", colour(".facet-count", "color"), CARD),
    ("date hint", colour(".hint", "color"), CARD),
    ("links on the page", colour("a", "color"), PAGE),
    ("tags", colour(".tag", "color"), colour(".tag", "background")),
    ("article tags", colour(".tag-soft", "color"), colour(".tag-soft", "background")),
    ("sort links", colour(".sort a", "color"), colour(".sort", "background")),
    ("chips", colour(".chip", "color"), colour(".chip", "background")),
    ("notices", colour(".alert-notice", "color"), colour(".alert-notice", "background")),
    ("errors", colour(".alert-error", "color"), colour(".alert-error", "background")),
    ("timeline axis labels", colour(".timeline-label", "fill"), CARD),
    ("skip link", colour(".skip-link", "color"), colour(".skip-link", "background")),
]
BAR_PAIRS = [
    ("bars", colour(".bar-fill", "fill"), CARD),
    ("the selected period's bar", colour(".bar.is-active .bar-fill", "fill"), CARD),
    ("a hovered bar", colour(".bar:hover .bar-fill", "fill"), CARD),
]


@pytest.mark.parametrize(("what", "fg", "bg"), TEXT_PAIRS, ids=[p[0] for p in TEXT_PAIRS])
def test_text_contrast_is_at_least_4_5(what, fg, bg):
    assert contrast(fg, bg) >= TEXT_CONTRAST, f"{what}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"


@pytest.mark.parametrize(("what", "fg", "bg"), BAR_PAIRS, ids=[p[0] for p in BAR_PAIRS])
def test_timeline_bars_contrast_is_at_least_3(what, fg, bg):
    assert contrast(fg, bg) >= GRAPHIC_CONTRAST, f"{what}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"


def test_every_custom_property_is_used():
    css = STYLE.read_text(encoding="utf-8")
    unused = [name for name in RULES[":root"] if f"var({name})" not in css]
    assert not unused


# -- skip link, <h1>, the filter fold ------------------------------------------------------

def _first_link(html: str) -> tuple[str, str]:
    body = html[html.index("<body"):]
    found = re.search(r'<a class="skip-link" href="([^"]+)">([^<]+)</a>', body)
    assert found and body.index("<a ") == found.start(), "the skip link is the first link of the page"
    return found.group(1), found.group(2)


def test_search_page_skip_link_goes_to_the_focusable_results(client):
    html = page(client, "/?q=供应链金融")
    assert _first_link(html) == ("#results", "跳到结果")
    assert re.search(r'<section class="results" id="results"[^>]* tabindex="-1"', html)
    assert re.search(r'<h1 class="visually-hidden">“供应链金融”的搜索结果</h1>', html)
    assert html.count("<h1") == 1


def test_every_page_has_one_h1_and_no_skipped_heading_level(client):
    pages = (("/", 200), ("/?q=供应链金融", 200), ("/trends?q=降准", 200),
             (f"/articles/{WIRE_STORY_FIRST}?q=机器人", 200), ("/articles/no-such-post", 404))
    for url, status in pages:
        html = page(client, url, status)
        assert html.count("<h1") == 1, url
        levels = [int(level) for level in re.findall(r"<h([1-6])[\s>]", html)]
        assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), (url, levels)
        assert _first_link(html)[0] in ("#results", "#main")


def test_phone_filter_fold_is_a_native_disclosure_with_a_cue():
    # <details>/<summary> exposes its expanded state to assistive technology by itself (the
    # browser test reads it from Chromium's accessibility tree); the cue shows it to the eye.
    # `/ ""`: the cue is not read out as part of the toggle's name
    assert RULES[".filters-summary::before"]["content"] == '"▸" / ""'
    assert RULES[".filters-panel[open] .filters-summary::before"]["content"] == '"▾" / ""'


# -- the article page: matches, the same story, related ------------------------------------

SUPPLY_CHAIN_POST = "202205022367563116"  # 解放日报: 上海金融国企保障金融血脉畅通 (供应链金融 once, in the body)
FINANCE_POST = "202608053831616949"  # 四部门发文：严禁金融机构向股东输送利益 严查“靠金融吃金融”
WIRE_STORY_FIRST = "679123336"  # 同花顺's, the first of the three
WIRE_STORY = {  # one flash (北京亦庄 具身智能机器人 量产) in three wire services' wordings
    WIRE_STORY_FIRST: "同花顺", "202608203847396983": "东财滚动", "2459063": "财联社"}


def api(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:300])
    return response.get_json()


def test_article_page_counts_the_matches_and_jumps_to_the_first(client):
    html = page(client, f"/articles/{SUPPLY_CHAIN_POST}?q=供应链金融")
    assert re.search(r'本文 <strong>1</strong> 处匹配“供应链金融”.*?<a class="jump-link" href="#first-match">跳到第一处</a>',
                     html, re.S)
    body = html[html.index('<div class="article-body">'):html.index('<footer class="article-footer">')]
    assert re.findall(r'<mark id="first-match">([^<]+)</mark>', body) == ["供应链金融"]
    assert html.count('id="first-match"') == 1
    assert '<span class="tag" title="jiefangribao">解放日报</span>' in html  # the category by its name


def test_match_count_is_every_marked_match_of_title_and_body(client):
    post = api(client, f"/api/articles/{FINANCE_POST}?q=金融&literal=1")
    written = sum(text.count("金融") for text in (post["title"], *post["paragraphs"]))
    assert post["matches"] == written == 10
    html = page(client, f"/articles/{FINANCE_POST}?q=金融&literal=1")
    assert "本文 <strong>10</strong> 处匹配" in html
    assert len(re.findall(r"<mark[ >]", html)) == 10
    # The title has the first match, but the jump goes to the body's first.
    assert re.search(r'<h1 class="article-title">[^<]*<mark>金融</mark>', html)
    article = html[html.index('<div class="article-body">'):]
    assert article.index('<mark id="first-match">') < article.index("<mark>")


def test_without_a_query_there_is_no_match_line(client):
    assert "article-matches" not in page(client, f"/articles/{FINANCE_POST}")
    assert api(client, f"/api/articles/{FINANCE_POST}")["matches"] is None
    no_match = page(client, f"/articles/{FINANCE_POST}?q=机器人")
    assert "本文没有“机器人”的字面匹配" in no_match and "jump-link" not in no_match


def test_a_wire_story_lists_its_other_reports(client, engine):
    for article_id in WIRE_STORY:
        others = api(client, f"/api/articles/{article_id}")["same_story"]
        assert {o["id"]: o["paper"] for o in others} == {i: p for i, p in WIRE_STORY.items() if i != article_id}
        assert [o["date"] for o in others] == sorted(o["date"] for o in others)  # oldest first
        assert all(o["near"] for o in others)  # three wordings, no identical copy
        html = page(client, f"/articles/{article_id}?q=机器人")
        section = html[html.index('aria-labelledby="same-story"'):]
        section = section[:section.index("</section>")]
        assert "同一新闻的其他报道（2）" in section
        links = re.findall(r'<li><a href="/articles/(\d+)\?q=%E6%9C%BA%E5%99%A8%E4%BA%BA">([^<]+)</a>', section)
        assert links == [(o["id"], o["paper"]) for o in others]
    # The search shows the same story as one hit with the same reprints.
    hit = next(h for h in engine.search(make_request("具身智能机器人规模量产", size=5)).hits if h.id in WIRE_STORY)
    assert {hit.id, *(r.id for r in hit.reprints)} == set(WIRE_STORY)


def test_a_post_alone_in_its_story_has_no_other_reports(client):
    assert api(client, f"/api/articles/{SUPPLY_CHAIN_POST}")["same_story"] == []
    assert 'id="same-story"' not in page(client, f"/articles/{SUPPLY_CHAIN_POST}")


def test_related_articles_share_key_words_and_leave_out_the_story(client, engine):
    article_id = WIRE_STORY_FIRST
    related = api(client, f"/api/articles/{article_id}")["related"]
    assert 3 <= len(related) <= 5
    ids = [r["id"] for r in related]
    assert not set(ids) & set(WIRE_STORY)  # neither the article nor its other reports
    article = engine.article(article_id)
    with engine.snapshot() as snap, snap.lock:
        words = key_terms(article.title, "\n".join(article.paragraphs), snap.searcher.reader())
    assert "机器人" in words
    for r in related:
        post = engine.article(r["id"])
        assert sum(word in post.title + "".join(post.paragraphs) for word in words) >= 2, r
    assert sum("机器人" in r["title"] for r in related) >= 3  # on topic: most are about robots
    # One hit per story: no two related posts are reports of the same news.
    stories = [frozenset({r["id"], *(o["id"] for o in api(client, f"/api/articles/{r['id']}")["same_story"])})
               for r in related]
    assert len(set(stories)) == len(stories)
    html = page(client, f"/articles/{article_id}")
    section = html[html.index('aria-labelledby="related"'):]
    assert re.findall(r'<li><a href="/articles/(\d+)">', section[:section.index("</section>")]) == ids


def test_key_terms_skip_words_no_other_post_has(engine):
    with engine.snapshot() as snap, snap.lock:
        reader = snap.searcher.reader()
        words = key_terms("北京亦庄：将加快实现10万台套级具身智能机器人规模量产", "", reader, min_documents=4)
        assert words and all(reader.doc_frequency("body", w) >= 4 or reader.doc_frequency("title", w) >= 4
                             for w in words)
        assert not any(w.isdigit() for w in words)


def test_article_api_refuses_unknown_parameters(client):
    answer = api(client, f"/api/articles/{FINANCE_POST}?query=金融", 400)
    assert (answer["code"], answer["param"]) == ("unknown_param", "query")
    assert api(client, "/api/articles/no-such-post?q=金融", 404)["code"] == "article_not_found"


# -- in the browser ----------------------------------------------------------------------------

LONG_POST = "2426596"  # 财联社7月15日早间新闻精选: 人工智能 first appears 1,772 characters into the body


def _filters_expanded(page) -> bool:
    """The phone filter toggle's expanded state as Chromium exposes it to screen readers."""
    tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")
    toggles = [node for node in tree["nodes"] if node["role"]["value"] == "DisclosureTriangle"
               and node.get("name", {}).get("value") == "筛选"]
    assert len(toggles) == 1, [n.get("name") for n in tree["nodes"] if n["role"]["value"] == "DisclosureTriangle"]
    return {p["name"]: p["value"]["value"] for p in toggles[0]["properties"]}["expanded"]


@pytest.mark.browser
def test_skip_link_filter_toggle_and_jump_to_the_first_match(browser, server, artifacts):
    problems: list[str] = []
    wide = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    wide.set_default_timeout(10_000)
    page = wide.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Tab once: the skip link, shown; Enter: focus on the results.
    page.goto(server + "/?q=金融")
    page.keyboard.press("Tab")
    assert page.evaluate("[document.activeElement.className, document.activeElement.textContent]") == \
        ["skip-link", "跳到结果"]
    box = page.locator(".skip-link").bounding_box()
    assert box and box["y"] >= 0 and box["height"] > 10  # on screen, not parked above it
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "results"
    page.keyboard.press("Tab")  # and Tab goes on inside the results, not back to the top bar
    assert page.evaluate("document.getElementById('results').contains(document.activeElement)")

    # The jump link brings the body's first match into view.
    page.goto(server + f"/articles/{LONG_POST}?q=人工智能&literal=1")
    mark = page.locator("mark#first-match")
    assert mark.inner_text() == "人工智能"
    assert not mark.evaluate("m => m.getBoundingClientRect().top < innerHeight")  # below the fold at first
    page.click("a.jump-link")
    page.wait_for_url("**#first-match")
    top = mark.evaluate("m => m.getBoundingClientRect().top")
    assert 0 <= top < 900 * 0.8
    assert page.evaluate("scrollY") > 0
    assert mark.evaluate("m => getComputedStyle(m).outlineStyle") == "solid"  # the landing spot shows

    # The article page with all its parts, for a look.
    story = f"/articles/{WIRE_STORY_FIRST}?q=机器人"
    page.goto(server + story)
    assert page.locator("#same-story + ul li").count() == 2 and page.locator("#related + ul li").count() == 5
    page.screenshot(path=str(artifacts / "article-1366.png"), full_page=True)

    # A phone: the filters start folded; tapping the toggle flips its expanded state and its cue.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="zh-CN")
    phone.set_default_timeout(10_000)
    small = phone.new_page()
    small.on("pageerror", lambda error: problems.append(str(error)))
    small.goto(server + "/?q=金融")
    cue = "s => getComputedStyle(s, '::before').content"
    toggle = small.locator("summary.filters-summary")
    assert _filters_expanded(small) is False and toggle.evaluate(cue).startswith('"▸"')
    assert not small.locator("#facet-paper").is_visible()
    toggle.tap()
    assert _filters_expanded(small) is True and toggle.evaluate(cue).startswith('"▾"')
    assert small.locator("#facet-paper").is_visible()
    toggle.tap()
    assert _filters_expanded(small) is False and toggle.evaluate(cue).startswith('"▸"')

    small.goto(server + story)
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the article page scrolls sideways on a phone ({width} px)"
    small.screenshot(path=str(artifacts / "article-390.png"), full_page=True)
    assert not problems
    wide.close()
    phone.close()
