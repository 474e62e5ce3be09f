"""Results as programs and people read them: the JSON contract of the API (`finsearch search --json`
and `finsearch stats --json` print /api/search's and /api/stats's objects), and the lines the pages
and the command line show of a result. The engine returns values and codes; they are written out
here, once for the web and the CLI (the codes in finsearch.messages' words).
"""
from __future__ import annotations

from finsearch.messages import notice_text, reason_text
from finsearch.search import Hit, IndexStats, RelatedResult, Reprint, SearchResult
from finsearch.search.suggest import Completion
from finsearch.search.trends import TrendResult

NO_PAPER = "（无来源）"  # a post without a paper, in the 首发 line


def page_label(page: int, pages: int) -> str:
    """Where a page is, for people: 第 2/14 页, or that it is past the last one."""
    return f"第 {page}/{pages} 页" if page <= pages else f"第 {page} 页超出范围（共 {pages} 页）"


def first_report_line(hit: Hit) -> str:
    """Who had the story first and when each other paper followed: 财联社首发 · 东财滚动 +2 分钟 · 同花顺
    +1 小时 5 分钟 (each paper once, at its earliest post shown; papers out at the same second as the
    first report share it: 东财滚动、财联社同时首发); "" for a story of one paper."""
    first = hit.first_report
    if first is None:
        return ""
    together: dict[str, None] = {first.paper: None}
    followed: dict[str, int] = {}
    posts = [(hit.date, hit.paper, hit.lag_minutes), *((r.date, r.paper, r.lag_minutes) for r in hit.reprints)]
    for date, paper, lag in sorted(posts, key=lambda post: post[0]):
        if paper not in together and paper not in followed:
            if date == first.date:
                together[paper] = None
            else:
                followed[paper] = lag
    if len(together) == 1 and not followed:
        return ""
    papers = "、".join(paper or NO_PAPER for paper in together)
    return " · ".join([f"{papers}{'同时首发' if len(together) > 1 else '首发'}",
                       *(f"{paper or NO_PAPER} {lag_text(lag)}" for paper, lag in followed.items())])


def missing_line(missing: tuple[str, ...]) -> str:
    """What a post of related coverage (相关报道) lacks of the query: 未包含：听取、方案, or that it has
    every word but not as typed."""
    return f"未包含：{'、'.join(missing)}" if missing else "各词都有，但不是原样连在一起"


def lag_text(minutes: int) -> str:
    """+2 分钟, +1 小时 5 分钟, +3 天; 同一分钟 for none."""
    if minutes <= 0:
        return "同一分钟"
    if minutes < 60:
        return f"+{minutes} 分钟"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"+{hours} 小时" + (f" {rest} 分钟" if rest else "")
    return f"+{minutes // (24 * 60)} 天"


def result_to_json(result: SearchResult) -> dict:
    """The JSON contract of `finsearch search --json` and `GET /api/search`."""
    request = result.request
    return {
        "query": request.query,
        "total": result.total,
        "articles": result.articles,
        "page": request.page,
        "size": request.page_size,
        "pages": result.pages,
        "sort": request.sort.value,
        "took_ms": round(result.seconds * 1000, 1),
        "notice": notice_text(result.notice),
        "notice_code": result.notice.value if result.notice else "",
        "literal": request.literal,
        "stock": list(request.stocks),
        "first": request.first_only,
        "expanded": [{"term": term, "aliases": list(aliases)} for term, aliases in result.expanded],
        "suggestions": [{"query": s.query, "literal": s.literal, "articles": s.articles, "reason": reason_text(s),
                         "reason_code": s.reason.value} for s in result.suggestions],
        "hits": [hit_to_json(hit) for hit in result.hits],
        "facets": {
            "category": [{"value": f.value, "count": f.count} for f in result.facets.categories],
            "paper": [{"value": f.value, "count": f.count} for f in result.facets.papers],
            "month": [{"value": f.value, "count": f.count} for f in result.facets.months],
            "stock": [{"value": f.value, "count": f.count, "name": f.label} for f in result.facets.stocks],
            "first": [{"value": "1", "count": result.facets.first_reports}],
        },
    }


def hit_to_json(hit: Hit) -> dict:
    """A hit of /api/search (and of the related coverage of /api/related)."""
    return {
        "id": hit.id,
        "title": hit.title,
        "headline": hit.headline,
        "story": hit.story,
        "date": hit.date.isoformat(),
        "category": hit.categories[0] if hit.categories else "",
        "categories": list(hit.categories),
        "paper": hit.paper,
        "url": hit.url,
        "snippet": hit.snippet,
        "reprints": [reprint_to_json(r) for r in hit.reprints],
        "first": hit.first,
        "lag_minutes": hit.lag_minutes,
        "first_report": ({"id": hit.first_report.id, "paper": hit.first_report.paper,
                          "date": hit.first_report.date.isoformat()} if hit.first_report else None),
    }


def related_to_json(result: RelatedResult) -> dict:
    """The JSON contract of `GET /api/related`: the related coverage (相关报道) under a results page
    that is not full; posts holding most of the query's words, not all, each with those it lacks."""
    return {
        "query": result.request.query,
        "words": list(result.words),
        "took_ms": round(result.seconds * 1000, 1),
        "timed_out": result.timed_out,
        "hits": [{**hit_to_json(related.hit), "missing": list(related.missing)} for related in result.hits],
    }


def reprint_to_json(reprint: Reprint) -> dict:
    """A story's other post, as a hit's `reprints` and an article's `same_story` list it."""
    return {"id": reprint.id, "paper": reprint.paper, "date": reprint.date.isoformat(), "near": reprint.near,
            "first": reprint.first, "lag_minutes": reprint.lag_minutes}


def stats_to_json(stats: IndexStats) -> dict:
    return {
        "index": stats.location,
        "documents": stats.documents,
        "segments": stats.segments,
        "size_bytes": stats.size_bytes,
        "first_date": stats.first_date.isoformat() if stats.first_date else None,
        "last_date": stats.last_date.isoformat() if stats.last_date else None,
        "category": [{"value": f.value, "count": f.count} for f in stats.categories],
        "paper": [{"value": f.value, "count": f.count} for f in stats.papers],
    }


def trends_to_json(result: TrendResult) -> dict:
    """The JSON contract of `GET /api/trends`."""
    request = result.request
    periods = result.periods
    return {
        "terms": list(request.terms),
        "interval": result.interval.value,
        "from": periods[0].start.isoformat() if periods else None,
        "to": periods[-1].end.isoformat() if periods else None,
        "took_ms": round(result.seconds * 1000, 1),
        "periods": [{"start": p.start.isoformat(), "end": p.end.isoformat(), "total": p.total,
                     "days": p.span.days, "covered_days": p.span.covered} for p in periods],
        "series": [{"term": s.term, "total": s.total, "counts": list(s.counts),
                    "shares": [round(x, 6) for x in s.shares(periods)], "notice": notice_text(s.notice),
                    "notice_code": s.notice.value if s.notice else ""}
                   for s in result.series],
    }


def suggestions_to_json(suggestions: tuple[Completion, ...]) -> list[dict]:
    """The JSON contract of `GET /api/suggest`."""
    return [{"text": s.text, "word": s.word, "count": s.count, "by": s.by, "label": s.label} for s in suggestions]
