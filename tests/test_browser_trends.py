"""Trends page and search-as-you-type in headless Chromium against the real server (`finsearch serve`).

Uses conftest's `server` and `browser`; leaves screenshots in test-artifacts/.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def _state(url: str) -> dict:
    return parse_qs(urlsplit(url).query)


def _label_boxes_overlap(page) -> list[str]:
    """Visible x-axis labels of the trends chart whose boxes overlap, or that leave the plot."""
    return page.evaluate("""() => {
        const plot = document.querySelector('svg.trend-plot').getBoundingClientRect();
        const boxes = [...document.querySelectorAll('svg.trend-plot text.trend-label')]
            .filter(t => getComputedStyle(t).display !== 'none')
            .map(t => ({text: t.textContent, box: t.getBoundingClientRect()}));
        const bad = [];
        boxes.forEach((a, i) => {
            if (a.box.left < plot.left - 1 || a.box.right > plot.right + 1) bad.push('outside: ' + a.text);
            if (i && boxes[i - 1].box.right > a.box.left) bad.push(boxes[i - 1].text + ' / ' + a.text);
        });
        return bad;
    }""")


def _timeline_problems(page) -> list[str]:
    """On the visible timeline: labels that overlap or leave the chart, bars narrower than 24 px."""
    return page.evaluate("""() => {
        const figure = [...document.querySelectorAll('figure.timeline')].find(f => getComputedStyle(f).display !== 'none');
        const chart = figure.querySelector('svg').getBoundingClientRect();
        const boxes = [...figure.querySelectorAll('text.timeline-label')].map(t => ({text: t.textContent, box: t.getBoundingClientRect()}));
        const bad = [];
        boxes.forEach((a, i) => {
            if (a.box.left < chart.left - 1 || a.box.right > chart.right + 1) bad.push('outside: ' + a.text);
            if (i && boxes[i - 1].box.right > a.box.left) bad.push(boxes[i - 1].text + ' / ' + a.text);
        });
        figure.querySelectorAll('.bar-target').forEach(r => {
            if (r.getBoundingClientRect().width < 24) bad.push('narrow bar ' + r.getBoundingClientRect().width);
        });
        return bad;
    }""")


def test_suggestions_keyboard_lands_on_the_search(watched_page, server, artifacts):
    for name, viewport in (("suggest", DESKTOP), ("suggest-phone", PHONE)):
        page, problems = watched_page(viewport)
        page.goto(server + "/")
        box = page.locator("#q")
        assert box.get_attribute("role") == "combobox" and box.get_attribute("aria-expanded") == "false"
        box.click()
        page.keyboard.type("供应")
        listbox = page.locator("#q-suggestions[role=listbox]")
        listbox.locator("[role=option]").first.wait_for()
        assert box.get_attribute("aria-expanded") == "true"
        options = listbox.locator("[role=option] .suggestion-text").all_inner_texts()
        assert "供应链" in options[:3] and all(o.startswith("供应") for o in options)
        page.screenshot(path=str(artifacts / f"{name}.png"))

        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        second = listbox.locator("[role=option]").nth(1)
        assert second.get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == second.get_attribute("id")
        page.keyboard.press("ArrowUp")
        first = listbox.locator("[role=option]").first
        assert first.get_attribute("aria-selected") == "true" and second.get_attribute("aria-selected") == "false"
        chosen = first.locator(".suggestion-text").inner_text()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"\?q="))
        assert _state(page.url) == {"q": [chosen]}
        assert page.input_value("#q") == chosen
        assert re.search(r"共 [\d,]+ 条结果", page.inner_text("#summary"))
        assert page.locator(".hit").count() > 0
        assert _timeline_problems(page) == []

        # Pinyin initials; Esc closes the list and keeps what was typed; Enter then searches it.
        box = page.locator("#q")
        box.fill("")
        box.click()
        page.keyboard.type("gylj")
        page.locator("#q-suggestions [role=option]").first.wait_for()
        assert page.locator("#q-suggestions [role=option] .suggestion-text").first.inner_text() == "供应链金融"
        page.keyboard.press("Escape")
        assert page.locator("#q-suggestions").is_hidden() and box.get_attribute("aria-expanded") == "false"
        assert page.evaluate("document.activeElement.id") == "q"  # the first Esc only closes the list
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert problems == []
        page.context.close()  # each screen in a context of its own, closed before the next one opens


def test_results_page_works_without_javascript(watched_page, server):
    # Chromium's own locale and Playwright's default timeout, as this test always had.
    page, _ = watched_page(java_script_enabled=False, locale=None, timeout=None)
    page.goto(server + "/?q=" + "供应链")
    assert page.locator(".hit").count() > 0
    page.fill("#q", "降准")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"q=%E9%99%8D%E5%87%86"))
    assert page.locator(".hit").count() > 0 and page.locator("#q-suggestions").is_hidden()


def test_trends_chart_points_lead_to_the_period_search(watched_page, server, artifacts):
    page, problems = watched_page(DESKTOP)
    page.goto(server + "/?q=银行")
    page.click("a.timeline-trends")  # from a search to its trend
    page.wait_for_url(re.compile(r"/trends\?q="))
    # Add two terms in the form and compare, over the wire days only (weeks by default).
    boxes = page.locator(".trends-terms input[name=q]")
    assert boxes.nth(0).input_value() == "银行"
    boxes.nth(1).fill("证券")
    boxes.nth(2).fill("基金")
    page.fill(".trends-options input[name=from]", "2026-05-01")
    page.fill(".trends-options input[name=to]", "2026-08-31")
    page.click("button:has-text('比较')")
    page.wait_for_url(re.compile(r"from=2026-05-01"))
    assert _state(page.url)["q"] == ["银行", "证券", "基金"]
    assert "按周统计" in page.inner_text("#trends-caption")
    assert page.locator("svg.trend-plot g.trend-line").count() == 3
    assert page.locator(".trends-legend li").all_inner_texts()[0].startswith("银行")
    assert _label_boxes_overlap(page) == []
    target = page.locator("svg.trend-plot .trend-target").first.bounding_box()
    assert target["width"] >= 24 and target["height"] >= 24
    page.screenshot(path=str(artifacts / "trends.png"), full_page=True)

    # The share view, then a point: the search for that term and week.
    page.click("nav[aria-label=显示] a:has-text('占比')")
    page.wait_for_url(re.compile(r"mode=share"))
    assert page.locator("svg.trend-axis text").last.text_content().endswith("%")
    # The last line's points are drawn on top (others' may hide under them where they meet).
    points = page.locator("svg.trend-plot g.series-2 a.trend-point")
    labels = points.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    counts = [int(re.search(r"：([\d,]+) 条", label).group(1).replace(",", "")) for label in labels]
    busiest = counts.index(max(counts))
    point, label, count = points.nth(busiest), labels[busiest], counts[busiest]
    point.click()
    page.wait_for_url(re.compile(r"/\?q="))
    state = _state(page.url)
    assert state["q"] == ["基金"] and state["from"][0] <= state["to"][0]
    assert state["from"][0] in label
    summary = page.inner_text("#summary")
    assert int(re.search(r"共 ([\d,]+) 条", summary).group(1).replace(",", "")) == count > 0
    dates = page.locator(".hit time").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert all(state["from"][0] <= d[:10] <= state["to"][0] for d in dates)

    # A phone: labels still apart, nothing wider than the screen.
    page.go_back()
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert _label_boxes_overlap(page) == []
    page.screenshot(path=str(artifacts / "trends-phone.png"), full_page=True)
    assert problems == []
