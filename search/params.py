"""Requests from user-typed strings: shared by the CLI and the web API (finsearch.render writes the
results out)."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from finsearch.analysis import halfwidth
from finsearch.search.types import DEFAULT_PAGE_SIZE, MAX_QUERY_CHARS, SearchError, SearchRequest, Sort
from finsearch.storage import local_naive

# A day, or a day and a time to the hour, minute or second ("T" or a space between), with an
# optional UTC offset; without one the time is the site's (+08:00).
_BOUND = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}(?::\d{2}(?::\d{2})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def parse_bound(text: str | None, name: str) -> dt.date | dt.datetime | None:
    """A date bound as typed: a dt.date for a day, a site-local naive dt.datetime for a time."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if not _BOUND.fullmatch(text):
            raise ValueError(text)
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        return local_naive(moment) if moment.tzinfo else moment
    except (ValueError, OverflowError):  # OverflowError: in the site's time it falls outside the calendar
        raise SearchError("bad_date", name, value=text[:40]) from None


_STOCK_CODE = re.compile(r"\d{6}")


def stock_code(text: str) -> str:
    """A `stock=` value as a code (full-width digits too: ６００５１９)."""
    code = halfwidth(text.strip())
    if not _STOCK_CODE.fullmatch(code):
        raise SearchError("bad_stock", "stock", value=text[:40])
    return code


def parse_int(text, name: str, default: int) -> int:
    if text is None or str(text).strip() == "":
        return default
    try:
        return int(str(text).strip())
    except ValueError:
        raise SearchError("bad_integer", name, value=str(text)[:40]) from None


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def parse_flag(text, name: str) -> bool:
    value = str(text if text is not None else "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise SearchError("bad_flag", name, value=value[:40])
    return value in _TRUE


def make_request(query: str | None = "", date_from: str | None = None, date_to: str | None = None,
                 categories: Iterable[str] = (), papers: Iterable[str] = (),
                 sort: str | None = None, page=None, size=None, literal=None, stocks: Iterable[str] = (),
                 first=None) -> SearchRequest:
    """A SearchRequest from strings as a user typed them; raises SearchError with a message."""
    query = query or ""
    if len(query.strip()) > MAX_QUERY_CHARS:  # refused here too, to name the parameter
        raise SearchError("query_too_long", "q", length=len(query.strip()), limit=MAX_QUERY_CHARS)
    try:
        sort_value = Sort((sort or Sort.RELEVANCE.value).strip().lower())
    except ValueError:
        raise SearchError("bad_sort", "sort", value=str(sort)[:40], choices=[s.value for s in Sort]) from None
    if not query.strip() and sort_value.by_score:
        sort_value = Sort.NEWEST  # no words to rank by: newest first, and say so
    return SearchRequest(
        query=query,
        date_from=parse_bound(date_from, "from"),
        date_to=parse_bound(date_to, "to"),
        categories=tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip())),
        papers=tuple(dict.fromkeys(p.strip() for p in papers if p and p.strip())),
        sort=sort_value,
        page=parse_int(page, "page", 1),
        page_size=parse_int(size, "size", DEFAULT_PAGE_SIZE),
        literal=parse_flag(literal, "literal"),
        stocks=tuple(dict.fromkeys(stock_code(code) for code in stocks if code and code.strip())),
        first_only=parse_flag(first, "first"),
    )
