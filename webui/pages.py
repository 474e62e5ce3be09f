"""HTML pages: the search page `/` and the article page `/articles/<id>`; a search's Atom feed
`/feed.atom` and its export `/export.csv`, `/export.jsonl` (the same parameters as the page); the
related coverage under a results page that is not full, `/related` (a fragment the page fetches)."""
from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from finsearch.messages import coverage_note, describe, notice_text, reason_text
from finsearch.render import first_report_line, lag_text, missing_line, page_label
from finsearch.search import (
    EXPORT_FORMATS,
    EXPORTERS,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    Article,
    IndexStats,
    SearchError,
    SearchResult,
    Sort,
    export_columns,
    related_wanted,
)
from finsearch.webui import feed as atom
from finsearch.webui import timeline
from finsearch.webui.service import reference_date
from finsearch.webui.state import SearchState, require_known, unknown_params

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)
EXPORT_MIMETYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
EXPORT_FIELDS = "fields"  # the export's own parameter: its columns
_FILE_NAME_UNSAFE = re.compile(r'[\s\\/:*?"<>|\x00-\x1f]+')

QUICK_RANGES = (("近一周", 7), ("近一月", 30), ("近一年", 365))
FIRST_ONLY_LABEL = "首发报道"
LAST_DAY_LABEL = "近24小时"
FIRST_MATCH_ID = "first-match"  # the article page's first marked match, where 跳到第一处 lands
MINUTE_FORMAT = "%Y-%m-%dT%H:%M"  # a date bound to the minute, as <input type=datetime-local> writes it
SORTS = ((Sort.RELEVANCE.value, "按相关度"), (Sort.BLEND.value, "综合"), (Sort.NEWEST.value, "最新"),
         (Sort.OLDEST.value, "最早"))


def service():
    return current_app.extensions["finsearch"]


def _with_query(url: str, state: SearchState) -> str:
    """`url` with the search's parameters (none: as it is)."""
    query = state.query_string()
    return url + (f"?{query}" if query else "")


def search_url(state: SearchState, external: bool = False) -> str:
    return _with_query(url_for("pages.search", _external=external), state)


def article_url(article_id: str, state: SearchState, external: bool = False) -> str:
    return _with_query(url_for("pages.article", article_id=article_id, _external=external), state)


def feed_url(state: SearchState, external: bool = False) -> str:
    return _with_query(url_for("pages.feed", _external=external), state.feed())


def export_url(state: SearchState, fmt: str) -> str:
    return _with_query(url_for("pages.export", fmt=fmt), state.export())


@bp.app_context_processor
def _helpers():
    return {"search_url": search_url, "article_url": article_url, "feed_url": feed_url,
            "export_url": export_url, "feed_title": feed_title, "page_label": page_label,
            "first_report_line": first_report_line, "lag_text": lag_text, "missing_line": missing_line,
            "notice_text": notice_text, "coverage_note": coverage_note, "MAX_QUERY_CHARS": MAX_QUERY_CHARS}


@dataclass(frozen=True)
class FacetLink:
    value: str
    count: int
    selected: bool
    href: str
    label: str = ""  # shown instead of the value (a category's Chinese name)
    hint: str = ""  # shown small after the label (the category's own slug)


@dataclass(frozen=True)
class Chip:
    label: str
    href: str  # the same search without this filter


@dataclass(frozen=True)
class AliasNotice:
    """Above the results: the aliases searched too (or that could be), and the way to switch."""

    literal: bool  # the search was literal: `aliases` were not searched
    aliases: tuple[str, ...]
    href: str  # the same search, literal or with aliases


@dataclass(frozen=True)
class SuggestionLink:
    query: str
    reason: str
    articles: int
    href: str


@dataclass(frozen=True)
class RangeLink:
    label: str
    href: str
    active: bool


@bp.get("/")
def search():
    state = SearchState.from_args(request.args)
    error, result = "", None
    engine = service().engine()
    try:
        result = engine.search(state.request(), timeline=True)  # the whole page, from one generation
    except SearchError as problem:
        error = describe(problem)
    stats = result.stats if result is not None and result.stats is not None else engine.stats()
    labels = dict(stats.category_labels)
    unknown = unknown_params(request.args)
    # A mistyped name (`query=` for `q=`) must not pass unseen: say what was ignored.
    ignored = f"已忽略不认识的参数：{'、'.join(n[:40] for n in unknown[:5])}（搜索词请用 q）" if unknown else ""
    stock_names = {f.value: f.label for f in result.facets.stocks} if result is not None else {}
    context = {"state": state, "result": result, "error": error, "ignored": ignored,
               "chips": _chips(state, labels, stock_names),
               "clear_href": search_url(state.without_filters()),
               "ranges": _ranges(state, stats), "reference": reference_date(stats),
               "stats": stats, "sorts": _sorts(state)}
    if result is not None:
        request_ = result.request
        context.update(
            categories=_facet(result.facets.categories, state.categories, state.toggle_category, labels),
            papers=_facet(result.facets.papers, state.papers, state.toggle_paper),
            stocks=_facet(result.facets.stocks, state.stocks, state.toggle_stock, stock_names),
            first_reports=FacetLink("1", result.facets.first_reports, state.first_only,
                                    search_url(state.but(first="" if state.first_only else "1")), FIRST_ONLY_LABEL),
            timeline=_timeline(result),
            bar_href=lambda bar: search_url(state.but(date_from=bar.start_param, date_to=bar.end_param)),
            pages=_pagination(state, result),
            first_number=(request_.page - 1) * request_.page_size + 1,
            alias_notice=_alias_notice(state, result),
            suggestions=[SuggestionLink(s.query, reason_text(s), s.articles,
                                        search_url(state.but(q=s.query, literal="1" if s.literal else "")))
                         for s in result.suggestions],
            related_href=related_url(state) if related_wanted(request_, result.total) else "",
        )
    status = 400 if error else 200
    return render_template("search.html", **context), status


def related_url(state: SearchState) -> str:
    return _with_query(url_for("pages.related"), state)


@bp.get("/related")
def related():
    """相关报道 under the results page of the same parameters, as a fragment of HTML (empty: none)
    that the page puts in its #related section once shown (static/related.js)."""
    require_known(request.args)
    state = SearchState.from_args(request.args)
    found = service().engine().related(state.request())
    return render_template("related.html", state=state, related=found)


@bp.get("/articles/<article_id>")
def article(article_id: str):
    state = SearchState.from_args(request.args)
    query = state.q if len(state.q) <= MAX_QUERY_CHARS else ""
    shown = service().engine().article_page(article_id, query, state.is_literal)  # one generation
    if shown is None:
        abort(404, description="没有这篇文章（可能已从索引中删除）")
    found = shown.article
    title_html = shown.title_html if found.headline else ""
    paragraphs = list(shown.paragraphs_html)
    # The jump link lands on the body's first match (the title's is in view already).
    if not _mark_first(paragraphs):
        title_html = (_mark_first([title_html]) or [title_html])[0]
    return render_template(
        "article.html", state=state, article=found, title_html=title_html, paragraphs=paragraphs,
        matches=shown.matches, first_match_id=FIRST_MATCH_ID, category_labels=dict(shown.stats.category_labels),
        same_story=shown.same_story, related=shown.related, original=found.url if is_web_url(found.url) else "",
        citation=citation(found), back_href=search_url(state), stats=shown.stats)


def citation(article: Article) -> str:
    """「标题」，报刊，2026-08-05 07:55，link: what 复制引用 copies (the original's link, else this page's)."""
    link = article.url if is_web_url(article.url) else url_for("pages.article", article_id=article.id, _external=True)
    parts = [f"「{article.headline or article.title}」", article.paper, article.date.strftime("%Y-%m-%d %H:%M"), link]
    return "，".join(part for part in parts if part)


def _mark_first(fragments: list[str]) -> list[str] | None:
    """Gives the first <mark> among the HTML fragments the jump link's id (in place); None if
    they have no mark."""
    for number, fragment in enumerate(fragments):
        if "<mark>" in fragment:
            fragments[number] = fragment.replace("<mark>", f'<mark id="{FIRST_MATCH_ID}">', 1)
            return fragments
    return None


@bp.get("/feed.atom")
def feed():
    """The newest posts of a search as Atom, built once per index version and search."""
    require_known(request.args)
    state = SearchState.from_args(request.args).feed()
    search_request = replace(state.request(), sort=Sort.NEWEST, page=1, page_size=atom.FEED_ENTRIES)
    engine = service().engine()

    def make() -> atom.Feed:
        result = engine.search(search_request)
        assert result.stats is not None  # every search says which generation it read
        labels = dict(result.stats.category_labels)
        links = atom.FeedLinks(self_href=feed_url(state, external=True),
                               search_href=search_url(state, external=True),
                               article_href=lambda article_id: article_url(article_id, state, external=True),
                               category_label=lambda category: labels.get(category, category))
        last = result.stats.last_date
        return atom.build(result, feed_title(state, labels), state.query_string(), links,
                          fallback_updated=(last or dt.datetime.now(dt.UTC)).isoformat())

    cache = current_app.extensions.setdefault("finsearch.feeds", atom.FeedCache())
    built = cache.get((engine.version(), state.query_string(), request.url_root), make)
    response = Response(built.body, mimetype=atom.ATOM_MIMETYPE)
    response.set_etag(built.etag)
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response.make_conditional(request)


def feed_title(state: SearchState, labels: dict[str, str] | None = None) -> str:
    words = state.q.strip()[:60] or "全部新闻"
    filters = "、".join(chip.label for chip in _chips(state, labels))
    return f"财经新闻检索：{words}" + (f"（{filters}）" if filters else "")


@bp.get("/export.<fmt>")
def export(fmt: str):
    """Every post the search matches (reprints included), streamed as CSV (with a BOM) or JSON Lines."""
    if fmt not in EXPORT_FORMATS:
        abort(404)
    require_known(request.args, also=(EXPORT_FIELDS,))
    state = SearchState.from_args(request.args).export()
    # A bad request fails here, before streaming; the generation it reads is held to the last row.
    columns = export_columns(request.args.get(EXPORT_FIELDS))
    rows = service().engine().iter_hits(state.request())
    name = f"{export_name(state)}.{fmt}"
    headers = {"Content-Disposition": f"attachment; filename=\"finsearch-export.{fmt}\"; "
                                      f"filename*=UTF-8''{quote(name)}",
               EXPORT_ROWS_HEADER: str(rows.articles), "X-Index-Generation": rows.generation}
    if request.environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
        # No chunked framing: a cut would look like the end. The whole file is written first and
        # sent with its length, so a client can tell a cut one from a whole one.
        spooled, length = _spooled(EXPORTERS[fmt](rows, columns))
        return Response(_read_chunks(spooled), mimetype=EXPORT_MIMETYPES[fmt],
                        headers={**headers, "Content-Length": str(length)}, direct_passthrough=True)

    def body() -> Iterator[str]:
        # An error mid-stream propagates: the server then ends the chunked body without its last
        # chunk, which every HTTP/1.1 client reports as a cut transfer.
        try:
            yield from EXPORTERS[fmt](rows, columns)
        finally:
            rows.close()
    return Response(stream_with_context(body()), mimetype=EXPORT_MIMETYPES[fmt], headers=headers)


EXPORT_ROWS_HEADER = "X-Export-Rows"  # the rows a whole export holds (besides the header row)
SPOOL_CHUNK = 1 << 16


def _spooled(chunks: Iterator[str]) -> tuple[Any, int]:
    """The chunks written to a temporary file (deleted when closed): the file, rewound, and its length."""
    spool = tempfile.TemporaryFile()
    try:
        for chunk in chunks:
            spool.write(chunk.encode("utf-8"))
        length = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, length


def _read_chunks(spool: Any) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(SPOOL_CHUNK):
            yield chunk


def export_name(state: SearchState) -> str:
    """finsearch-降息-2026-08-01至2026-08-05: the query and the dates, so files of several
    searches can sit side by side."""
    words = _FILE_NAME_UNSAFE.sub("_", state.q.strip())[:40].strip("_") or "all"
    start, end = (bound.replace(":", "") for bound in (state.date_from, state.date_to))
    dates = f"{start}至{end}" if start and end else f"{start}起" if start else f"至{end}" if end else ""
    return "-".join(part for part in ("finsearch", words, dates) if part)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on pages without an icon link (the feed in Chromium's XML view)."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


def is_web_url(url: str) -> bool:
    """Only absolute http(s) links to a host are shown as links."""
    try:
        parts = urlsplit((url or "").strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not any(
        ord(c) < 33 for c in url.strip())


# -- parts of the search page -------------------------------------------------

def _facet(counts, selected: tuple[str, ...], toggle, labels: dict[str, str] | None = None) -> list[FacetLink]:
    values = [(f.value, f.count) for f in counts]
    listed = {f.value for f in counts}
    # A selected value with no hits left (or unknown) stays visible, so it can be unticked.
    values += [(v, 0) for v in selected if v not in listed]
    links = []
    for value, count in values:
        label = (labels or {}).get(value, value)
        links.append(FacetLink(value, count, value in selected, search_url(toggle(value)), label,
                               hint=value if label != value else ""))
    return links


def _alias_notice(state: SearchState, result) -> AliasNotice | None:
    if not result.expanded:
        return None
    aliases = tuple(dict.fromkeys(alias for _, names in result.expanded for alias in names))
    literal = result.request.literal
    return AliasNotice(literal, aliases, search_url(state.but(literal="" if literal else "1")))


def _chips(state: SearchState, labels: dict[str, str] | None = None,
           stock_names: dict[str, str] | None = None) -> list[Chip]:
    """The active filters, each a chip that removes it; categories by their papers' names, stocks by
    their companies' (when the result knows them)."""
    labels, stock_names = labels or {}, stock_names or {}
    chips = []
    if state.date_from or state.date_to:
        shown = [bound.replace("T", " ", 1) for bound in (state.date_from, state.date_to)]  # 2026-08-20 09:00
        label = f"日期：{shown[0] or '最早'} 至 {shown[1] or '最新'}"
        chips.append(Chip(label, search_url(state.but(date_from="", date_to=""))))
    chips += [Chip(f"分类：{labels.get(c, c)}", search_url(state.toggle_category(c))) for c in state.categories]
    chips += [Chip(f"报刊：{p}", search_url(state.toggle_paper(p))) for p in state.papers]
    chips += [Chip(f"股票：{' '.join(filter(None, (stock_names.get(code), code)))}",
                   search_url(state.toggle_stock(code))) for code in state.stocks]
    if state.first_only:
        chips.append(Chip(f"只看{FIRST_ONLY_LABEL}", search_url(state.but(first=""))))
    return chips


def _day(bound: dt.date | None) -> dt.date | None:
    return bound.date() if isinstance(bound, dt.datetime) else bound


def _timeline(result: SearchResult) -> timeline.Timelines | None:
    """The hits over time: by hours for a date filter of a day or two (近24小时), else by days and up;
    days the archive lacks drawn as no data."""
    stats, request = result.stats, result.request
    assert stats is not None  # every search says which generation it read
    start, end = request.date_from, request.date_to
    if result.hourly:
        assert start is not None  # hours only for a short date filter
        first = start if isinstance(start, dt.datetime) else dt.datetime.combine(start, dt.time())
        last = (None if end is None else end if isinstance(end, dt.datetime)
                else dt.datetime.combine(end, dt.time(23, 59)))
        return timeline.build_hours(result.hourly, first, last, stats.coverage)
    return timeline.build(result.timeline, _day(start), _day(end), stats.coverage)


def _ranges(state: SearchState, stats: IndexStats) -> list[RangeLink]:
    today = reference_date(stats)
    links = []
    newest = stats.last_date
    if newest is not None:  # the day before the newest post, to the minute, up to now
        start = (newest - dt.timedelta(hours=24)).strftime(MINUTE_FORMAT)
        links.append(RangeLink(LAST_DAY_LABEL, search_url(state.but(date_from=start, date_to="")),
                               state.date_from == start and not state.date_to))
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

