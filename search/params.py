"""Requests from user-typed strings, and results as JSON: shared by the CLI and the web API."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from finsearch.search.types import IndexStats, SearchError, SearchRequest, SearchResult, Sort


def parse_day(text: str | None, name: str) -> dt.date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SearchError(f"{name} 不是有效日期（应为 YYYY-MM-DD）：{text[:40]}") from None


def parse_int(text, name: str, default: int) -> int:
    if text is None or str(text).strip() == "":
        return default
    try:
        return int(str(text).strip())
    except ValueError:
        raise SearchError(f"{name} 应为整数：{str(text)[:40]}") from None


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def parse_flag(text, name: str) -> bool:
    value = str(text if text is not None else "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise SearchError(f"{name} 应为 1 或 0：{value[:40]}")
    return value in _TRUE


def make_request(query: str | None = "", date_from: str | None = None, date_to: str | None = None,
                 categories: Iterable[str] = (), papers: Iterable[str] = (),
                 sort: str | None = None, page=None, size=None, literal=None) -> SearchRequest:
    """A SearchRequest from strings as a user typed them; raises SearchError with a message."""
    try:
        sort_value = Sort((sort or Sort.RELEVANCE.value).strip().lower())
    except ValueError:
        raise SearchError(f"排序方式应为 relevance、newest 或 oldest：{str(sort)[:40]}") from None
    return SearchRequest(
        query=query or "",
        date_from=parse_day(date_from, "from"),
        date_to=parse_day(date_to, "to"),
        categories=tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip())),
        papers=tuple(dict.fromkeys(p.strip() for p in papers if p and p.strip())),
        sort=sort_value,
        page=parse_int(page, "page", 1),
        page_size=parse_int(size, "size", 10),
        literal=parse_flag(literal, "literal"),
    )


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
        "notice": result.notice,
        "literal": request.literal,
        "expanded": [{"term": term, "aliases": list(aliases)} for term, aliases in result.expanded],
        "suggestions": [{"query": s.query, "literal": s.literal, "articles": s.articles, "reason": s.reason}
                        for s in result.suggestions],
        "hits": [{
            "id": hit.id,
            "title": hit.title,
            "date": hit.date.isoformat(),
            "category": hit.categories[0] if hit.categories else "",
            "categories": list(hit.categories),
            "paper": hit.paper,
            "url": hit.url,
            "snippet": hit.snippet,
            "reprints": [{"id": r.id, "paper": r.paper, "date": r.date.isoformat()} for r in hit.reprints],
        } for hit in result.hits],
        "facets": {
            "category": [{"value": f.value, "count": f.count} for f in result.facets.categories],
            "paper": [{"value": f.value, "count": f.count} for f in result.facets.papers],
            "month": [{"value": f.value, "count": f.count} for f in result.facets.months],
        },
    }


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
