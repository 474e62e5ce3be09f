"""Issue 14 part 6, the UX polish: accessibility of the pages (skip link, <h1>, the phone filter
fold, WCAG contrast of style.css's colours) and the article page (matches, same story, related)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_webui import app, page  # noqa: F401  (app: a fixture, Flask on the sample index)

STYLE = Path(__file__).resolve().parents[1] / "webui" / "static" / "style.css"
TEXT_CONTRAST = 4.5  # WCAG 2.1 AA, normal text
GRAPHIC_CONTRAST = 3.0  # WCAG 2.1 AA, non-text (the timeline's bars)


@pytest.fixture()
def client(app):  # noqa: F811  (the imported fixture by that name)
    return app.test_client()


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


def test_every_page_has_one_h1(client):
    for url, status in (("/", 200), ("/trends?q=降准", 200), ("/articles/no-such-post", 404)):
        html = page(client, url, status)
        assert html.count("<h1") == 1, url
        assert _first_link(html)[0] in ("#results", "#main")


def test_phone_filter_fold_is_a_native_disclosure_with_a_cue():
    # <details>/<summary> exposes its expanded state to assistive technology by itself (the
    # browser test reads it from Chromium's accessibility tree); the cue shows it to the eye.
    assert RULES[".filters-summary::before"]["content"] == '"▸"'
    assert RULES[".filters-panel[open] .filters-summary::before"]["content"] == '"▾"'
