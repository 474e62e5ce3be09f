"""The search state as it travels in URLs: the same parameter names as the JSON API.

    q, from, to, category (repeatable), paper (repeatable), stock (repeatable), first, sort, page, size, literal
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from finsearch.search import DEFAULT_PAGE_SIZE, SearchError, SearchRequest, Sort, make_request
from finsearch.search.params import parse_flag

DEFAULT_SIZE = str(DEFAULT_PAGE_SIZE)  # as it is written in a URL
PARAMS = ("q", "from", "to", "category", "paper", "stock", "first", "sort", "page", "size",
          "literal")  # every other name is unknown


def unknown_params(args) -> list[str]:
    """The parameter names in `args` that are not ours (e.g. `query` for `q`), in order."""
    return [name for name in dict.fromkeys(args.keys()) if name not in PARAMS]


def require_known(args, also: tuple[str, ...] = ()) -> None:
    """Raises SearchError (code "unknown_param") for the first parameter that is not ours (nor in `also`)."""
    unknown = [name for name in unknown_params(args) if name not in also]
    if unknown:
        raise SearchError("unknown_param", unknown[0][:40], value=unknown[0][:40], choices=list(PARAMS + also))


def _one(args, name: str) -> str:
    return (args.get(name) or "").strip()


@dataclass(frozen=True)
class SearchState:
    """What the user asked, as strings, exactly as they were in the URL (trimmed)."""

    q: str = ""
    date_from: str = ""
    date_to: str = ""
    categories: tuple[str, ...] = ()
    papers: tuple[str, ...] = ()
    stocks: tuple[str, ...] = ()  # codes
    first: str = ""  # "1": only first reports (首发)
    sort: str = ""
    page: str = ""
    size: str = ""
    literal: str = ""  # "1": no aliases

    @classmethod
    def from_args(cls, args) -> SearchState:
        def many(name):
            return tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v and v.strip()))
        return cls(q=_one(args, "q"), date_from=_one(args, "from"), date_to=_one(args, "to"),
                   categories=many("category"), papers=many("paper"), stocks=many("stock"), first=_one(args, "first"),
                   sort=_one(args, "sort").lower(),
                   page=_one(args, "page"), size=_one(args, "size"), literal=_one(args, "literal"))

    def request(self) -> SearchRequest:
        """A validated SearchRequest; raises search.SearchError with a message for the user."""
        request = make_request(self.q, self.date_from, self.date_to, self.categories, self.papers,
                               self.sort, self.page, self.size, self.literal, self.stocks, self.first)
        if request.date_to == dt.date.max:  # "until the end of time" is no bound at all
            request = replace(request, date_to=None)
        return request

    # -- links ------------------------------------------------------------

    def params(self) -> list[tuple[str, str]]:
        """The non-default parameters, in a stable order."""
        pairs = [("q", self.q)]
        pairs += [("from", self.date_from), ("to", self.date_to)]
        pairs += [("category", c) for c in self.categories]
        pairs += [("paper", p) for p in self.papers]
        pairs += [("stock", code) for code in self.stocks]
        pairs += [("first", "" if self.first in ("", "0") else self.first)]
        pairs += [("sort", "" if self.sort == Sort.RELEVANCE.value else self.sort),
                  ("page", "" if self.page == "1" else self.page),
                  ("size", "" if self.size == DEFAULT_SIZE else self.size),
                  ("literal", "" if self.literal in ("", "0") else self.literal)]
        return [(k, v) for k, v in pairs if v]

    def query_string(self) -> str:
        return urlencode(self.params())

    def feed(self) -> SearchState:
        """What a feed of this search depends on: the query and filters (a feed is newest first,
        one page)."""
        return replace(self, sort="", page="", size="")

    def export(self) -> SearchState:
        """What an export of this search depends on: every hit, so no page."""
        return replace(self, page="", size="")

    def but(self, **changes) -> SearchState:
        """A copy with some fields changed; any change but a page change goes back to page 1."""
        if "page" not in changes:
            changes["page"] = ""
        return replace(self, **changes)

    def toggle_category(self, value: str) -> SearchState:
        return self.but(categories=_toggle(self.categories, value))

    def toggle_paper(self, value: str) -> SearchState:
        return self.but(papers=_toggle(self.papers, value))

    def toggle_stock(self, code: str) -> SearchState:
        return self.but(stocks=_toggle(self.stocks, code))

    @property
    def first_only(self) -> bool:
        try:
            return parse_flag(self.first, "first")
        except SearchError:
            return False

    @property
    def is_literal(self) -> bool:
        try:
            return parse_flag(self.literal, "literal")
        except SearchError:
            return False

    @property
    def has_filters(self) -> bool:
        return bool(self.date_from or self.date_to or self.categories or self.papers or self.stocks or self.first_only)

    def without_filters(self) -> SearchState:
        return self.but(date_from="", date_to="", categories=(), papers=(), stocks=(), first="")


def _toggle(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value) if value in values else values + (value,)
