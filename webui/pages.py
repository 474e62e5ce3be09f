"""HTML pages: the search page `/` and the article page `/articles/<id>`."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, render_template, request, url_for

from finsearch.search import MAX_QUERY_CHARS, SearchError, Sort
from finsearch.webui import timeline
from finsearch.webui.state import SearchState

bp = Blueprint("pages", __name__)

MAX_PAGE = 1000  # the engine refuses deeper pages
QUICK_RANGES = (("近一周", 7), ("近一月", 30), ("近一年", 365))
SORTS = ((Sort.RELEVANCE.value, "按相关度"), (Sort.NEWEST.value, "最新"), (Sort.OLDEST.value, "最早"))


def service():
    return current_app.extensions["finsearch"]


def search_url(state: SearchState) -> str:
    query = state.query_string()
    return url_for("pages.search") + (f"?{query}" if query else "")


def article_url(article_id: str, state: SearchState) -> str:
    query = state.query_string()
    return url_for("pages.article", article_id=article_id) + (f"?{query}" if query else "")


@bp.app_context_processor
def _helpers():
    return {"search_url": search_url, "article_url": article_url, "MAX_QUERY_CHARS": MAX_QUERY_CHARS}


@dataclass(frozen=True)
class FacetLink:
    value: str
    count: int
    selected: bool
    href: str


@dataclass(frozen=True)
class Chip:
    label: str
    href: str  # the same search without this filter


@dataclass(frozen=True)
class RangeLink:
    label: str
    href: str
    active: bool


@bp.get("/")
def search():
    state = SearchState.from_args(request.args)
    error, result, search_request = "", None, None
    try:
        search_request = state.request()
        result = service().engine().search(search_request)
    except SearchError as problem:
        error = str(problem)
    context = {"state": state, "result": result, "error": error, "chips": _chips(state),
               "clear_href": search_url(state.without_filters()),
               "ranges": _ranges(state), "reference": service().reference_date(),
               "stats": service().stats(), "sorts": _sorts(state)}
    if result is not None:
        request_ = result.request
        context.update(
            categories=_facet(result.facets.categories, state.categories, state.toggle_category),
            papers=_facet(result.facets.papers, state.papers, state.toggle_paper),
            timeline=timeline.build(service().engine().day_counts(search_request), request_.date_from,
                                    request_.date_to),
            bar_href=lambda bar: search_url(state.but(date_from=bar.start.isoformat(), date_to=bar.end.isoformat())),
            pages=_pagination(state, result),
            first_number=(request_.page - 1) * request_.page_size + 1,
        )
    status = 400 if error else 200
    return render_template("search.html", **context), status


@bp.get("/articles/<article_id>")
def article(article_id: str):
    state = SearchState.from_args(request.args)
    engine = service().engine()
    found = engine.article(article_id)
    if found is None:
        abort(404, description="没有这篇文章（可能已从索引中删除）")
    query = state.q if len(state.q) <= MAX_QUERY_CHARS else ""
    return render_template(
        "article.html", state=state, article=found,
        title_html=engine.highlight(found.title, query) if found.title else "",
        paragraphs=[engine.highlight(p, query) for p in found.paragraphs],
        original=found.url if is_web_url(found.url) else "",
        back_href=search_url(state), stats=service().stats())


def is_web_url(url: str) -> bool:
    """Only absolute http(s) links to a host are shown as links."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(
        ord(c) < 33 for c in url.strip())


# -- parts of the search page -------------------------------------------------

def _facet(counts, selected: tuple[str, ...], toggle) -> list[FacetLink]:
    links = [FacetLink(f.value, f.count, f.value in selected, search_url(toggle(f.value))) for f in counts]
    listed = {f.value for f in counts}
    # A selected value with no hits left (or unknown) stays visible, so it can be unticked.
    links += [FacetLink(v, 0, True, search_url(toggle(v))) for v in selected if v not in listed]
    return links


def _chips(state: SearchState) -> list[Chip]:
    chips = []
    if state.date_from or state.date_to:
        label = f"日期：{state.date_from or '最早'} 至 {state.date_to or '最新'}"
        chips.append(Chip(label, search_url(state.but(date_from="", date_to=""))))
    chips += [Chip(f"分类：{c}", search_url(state.toggle_category(c))) for c in state.categories]
    chips += [Chip(f"报刊：{p}", search_url(state.toggle_paper(p))) for p in state.papers]
    return chips


def _ranges(state: SearchState) -> list[RangeLink]:
    today = service().reference_date()
    links = []
    for label, days in QUICK_RANGES:
        start, end = (today - dt.timedelta(days=days - 1)).isoformat(), today.isoformat()
        links.append(RangeLink(label, search_url(state.but(date_from=start, date_to=end)),
                               state.date_from == start and state.date_to == end))
    links.append(RangeLink("不限", search_url(state.but(date_from="", date_to="")),
                           not state.date_from and not state.date_to))
    return links


def _sorts(state: SearchState) -> list[RangeLink]:
    current = state.sort or Sort.RELEVANCE.value
    if not state.q.strip() and current == Sort.RELEVANCE.value:
        current = Sort.NEWEST.value  # no words to rank by: the engine lists newest first
    return [RangeLink(label, search_url(state.but(sort=value)), value == current) for value, label in SORTS]


@dataclass(frozen=True)
class PageLink:
    number: int | None  # None: a gap (…)
    href: str
    current: bool


def _pagination(state: SearchState, result) -> dict:
    page, last = result.request.page, min(result.pages, MAX_PAGE)
    numbers = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    links, previous = [], 0
    for number in numbers:
        if number - previous > 1:
            links.append(PageLink(None, "", False))
        links.append(PageLink(number, search_url(state.but(page=str(number))), number == page))
        previous = number
    return {
        "links": links if last > 1 else [],
        "previous": search_url(state.but(page=str(page - 1))) if 1 < page <= last + 1 else "",
        "next": search_url(state.but(page=str(page + 1))) if page < last else "",
        "last": last,
        "first_href": search_url(state.but(page="1")),
    }

