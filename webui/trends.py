"""Compare trends and search as you type: `/trends`, `/trends.csv`, `/api/trends`, `/api/suggest`.

    /trends?q=A&q=B&from=&to=&category=&paper=&interval=day|week|month&mode=count|share
    /api/trends?<the same but mode>   -> render.trends_to_json
    /api/suggest?q=供应&limit=8        -> [{"text", "word", "count", "by", "label"}], most useful first

The page ignores empty term boxes (its form has five); the API refuses an empty term.
"""
from __future__ import annotations

import csv
import io
import logging
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for

from finsearch.messages import INTERVAL_LABELS, describe
from finsearch.render import suggestions_to_json, trends_to_json
from finsearch.search import IndexMissing, SearchError, spreadsheet_cell
from finsearch.search.export import CSV_BOM
from finsearch.search.trends import MAX_TERMS, Interval, Period, TrendResult, make_trend_request
from finsearch.webui import trend_chart
from finsearch.webui.pages import search_url
from finsearch.webui.state import SearchState

log = logging.getLogger(__name__)

bp = Blueprint("trends", __name__)

MODES = {"count": "篇数", "share": "占比"}
SHARED_SCALE = "shared"
TREND_PARAMS = {"q", "from", "to", "category", "paper", "interval"}
SUGGEST_PARAMS = {"q", "limit"}
DEFAULT_SUGGESTIONS = 8


@bp.record_once
def _warm_suggestions(setup_state) -> None:
    """Build the suggestion vocabulary in the background as the app starts (each worker), so that
    the first keystroke does not wait for it."""
    app = setup_state.app
    if app.testing:
        return

    def warm() -> None:
        try:
            app.extensions["finsearch"].engine().suggest("", 1)
        except IndexMissing:  # the service has said so once; the first search after the index appears builds them
            return
        except Exception:  # a background thread: log whatever stops it; requests retry
            log.warning("suggestions not prepared at start; the first request builds them", exc_info=True)

    threading.Thread(target=warm, name="warm-suggestions", daemon=True).start()


def _engine():
    return current_app.extensions["finsearch"].engine()


@dataclass(frozen=True)
class TrendState:
    """A trends request as it travels in URLs (strings, trimmed)."""

    terms: tuple[str, ...] = ()
    date_from: str = ""
    date_to: str = ""
    categories: tuple[str, ...] = ()
    papers: tuple[str, ...] = ()
    interval: str = ""  # "": chosen from the span
    mode: str = "count"
    scale: str = ""  # "shared": one scale for every term, even when one dwarfs another

    @classmethod
    def from_args(cls, args, keep_empty: bool) -> TrendState:
        def many(name):
            return tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v and v.strip()))
        terms = tuple(t.strip() for t in args.getlist("q"))
        return cls(terms=terms if keep_empty else tuple(t for t in terms if t),
                   date_from=(args.get("from") or "").strip(), date_to=(args.get("to") or "").strip(),
                   categories=many("category"), papers=many("paper"),
                   interval=(args.get("interval") or "").strip().lower(),
                   mode=(args.get("mode") or "count").strip().lower(),
                   scale=(args.get("scale") or "").strip().lower())

    def params(self, with_display: bool = True) -> list[tuple[str, str]]:
        pairs = [("q", t) for t in self.terms] + [("from", self.date_from), ("to", self.date_to)]
        pairs += [("category", c) for c in self.categories] + [("paper", p) for p in self.papers]
        pairs += [("interval", self.interval)]
        if with_display:  # how the page draws it: not the data's
            pairs += [("mode", self.mode if self.mode != "count" else ""), ("scale", self.scale)]
        return [(k, v) for k, v in pairs if v]

    def url(self, endpoint: str, with_display: bool = True, **changes) -> str:
        query = urlencode(replace(self, **changes).params(with_display))
        return url_for(endpoint) + (f"?{query}" if query else "")

    def result(self) -> TrendResult:
        if self.mode not in MODES:
            raise SearchError("bad_mode", "mode", value=self.mode[:40], choices=list(MODES))
        return _engine().trends(make_trend_request(self.terms, self.date_from, self.date_to, self.categories,
                                                   self.papers, self.interval))

    def search_href(self, term: str, period: Period | None = None) -> str:
        date_from, date_to = ((period.start.isoformat(), period.end.isoformat()) if period
                              else (self.date_from, self.date_to))
        return search_url(SearchState(q=term, date_from=date_from, date_to=date_to, categories=self.categories,
                                      papers=self.papers))


@bp.app_context_processor
def _helpers():
    return {"trends_url": trends_url}


def trends_url(state: SearchState) -> str:
    """The trend of a search's query under its filters."""
    return TrendState(terms=(state.q,), date_from=state.date_from, date_to=state.date_to,
                      categories=state.categories, papers=state.papers).url("trends.page")


def _refuse_unknown(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise SearchError("unknown_param", unknown[0][:40], value=", ".join(unknown)[:80], choices=sorted(allowed))


@bp.get("/trends")
def page():
    state = TrendState.from_args(request.args, keep_empty=False)
    if any(not value.strip() for _, value in request.args.items(multi=True)):
        # The form sends its five boxes and every option, empty or not: the address keeps what was asked.
        return redirect(state.url("trends.page"))
    error, result, charts = "", None, None
    if state.terms:
        try:
            result = state.result()
            charts = trend_chart.build(result, state.mode == "share", state.search_href, state.search_href,
                                       shared_scale=state.scale == SHARED_SCALE)
        except SearchError as problem:
            error = describe(problem)
    service = current_app.extensions["finsearch"]
    context = {
        "trend": state, "result": result, "charts": charts, "error": error, "stats": service.engine().stats(),
        "own_scale_ratio": trend_chart.OWN_SCALE_RATIO,
        "boxes": list(state.terms[:MAX_TERMS]) + [""] * (MAX_TERMS - len(state.terms[:MAX_TERMS])),
        "intervals": [("", "自动")] + [(i.value, f"按{INTERVAL_LABELS[i]}") for i in Interval],
        "modes": MODES, "period_text": trend_chart.period_text, "interval_names": INTERVAL_LABELS,
    }
    return render_template("trends.html", **context), 400 if error else 200


@bp.get("/trends.csv")
def csv_download():
    state = TrendState.from_args(request.args, keep_empty=False)
    result = state.result()  # a SearchError becomes the error page (400)
    buffer = io.StringIO()
    buffer.write(CSV_BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    terms = [spreadsheet_cell(s.term) for s in result.series]  # -银行 is a query, not a formula
    writer.writerow(["开始", "结束", "全部", *terms, *[f"{t} 占比" for t in terms]])
    shares = [s.shares(result.periods) for s in result.series]
    for i, period in enumerate(result.periods):
        writer.writerow([period.start.isoformat(), period.end.isoformat(), period.total,
                         *[s.counts[i] for s in result.series], *[f"{share[i]:.6f}" for share in shares]])
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="trends.csv"'})


@bp.get("/api/trends")
def api_trends():
    _refuse_unknown(TREND_PARAMS)
    state = TrendState.from_args(request.args, keep_empty=True)
    return jsonify(trends_to_json(state.result()))


@bp.get("/api/suggest")
def api_suggest():
    _refuse_unknown(SUGGEST_PARAMS)
    started = time.perf_counter()
    text = request.args.get("q") or ""
    limit_text = (request.args.get("limit") or "").strip()
    if limit_text and not limit_text.isdigit():
        raise SearchError("bad_integer", "limit", value=limit_text[:40])
    suggestions = _engine().suggest(text.lstrip(), int(limit_text) if limit_text else DEFAULT_SUGGESTIONS)
    response = jsonify(suggestions_to_json(suggestions))
    response.headers["Server-Timing"] = f"suggest;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response
