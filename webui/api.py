"""The JSON API under /api: the same contract as `finsearch search --json` and `finsearch stats --json`.

    GET /api/search?q=&from=&to=&category=&paper=&sort=&page=&size=   -> render.result_to_json
    GET /api/related?(the same parameters)                              -> render.related_to_json
    GET /api/articles/<id>?q=&literal=                                  -> the article; with q, its matches
    GET /api/stats                                                      -> render.stats_to_json

Errors: {"error": message} with 400 (bad parameters, too long a query, an unknown parameter), 404,
503 (no index); a 400 also names the problem for programs: {"error", "code", "param"}.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from finsearch.messages import describe
from finsearch.render import related_to_json, reprint_to_json, result_to_json, stats_to_json
from finsearch.search import SearchError
from finsearch.webui.pages import citation
from finsearch.webui.state import SearchState, require_known

bp = Blueprint("api", __name__)


def _engine():
    return current_app.extensions["finsearch"].engine()


@bp.errorhandler(SearchError)
def _bad_request(error: SearchError):
    return jsonify(error=describe(error), code=error.code, param=error.param), 400


@bp.get("/search")
def search():
    require_known(request.args)
    state = SearchState.from_args(request.args)
    return jsonify(result_to_json(_engine().search(state.request())))


@bp.get("/related")
def related():
    """相关报道 under the results page of the same parameters: empty unless its first page is not
    full and the query is of plain words (search.related)."""
    require_known(request.args)
    state = SearchState.from_args(request.args)
    return jsonify(related_to_json(_engine().related(state.request())))


@bp.get("/articles/<article_id>")
def article(article_id: str):
    require_known(request.args)
    asked = SearchState.from_args(request.args).request()  # q and literal checked as a search's
    shown = _engine().article_page(article_id, asked.query, asked.literal)
    if shown is None:
        return jsonify(error=f"没有这篇文章：{article_id[:60]}", code="article_not_found", param="id"), 404
    found = shown.article
    return jsonify({
        "id": found.id,
        "title": found.title,
        "headline": found.headline,
        "date": found.date.isoformat(),
        "categories": list(found.categories),
        "category": found.categories[0] if found.categories else "",
        "tags": list(found.tags),
        "paper": found.paper,
        "url": found.url,
        "citation": citation(found),
        "paragraphs": list(found.paragraphs),
        "truncated": found.truncated,
        "matches": shown.matches,  # how many matches of q the page marks (null without q)
        "same_story": [reprint_to_json(r) for r in shown.same_story],
        "related": [{"id": hit.id, "title": hit.title, "headline": hit.headline, "date": hit.date.isoformat(),
                     "paper": hit.paper}
                    for hit in shown.related],
    })


@bp.get("/stats")
def stats():
    return jsonify(stats_to_json(_engine().stats()))
