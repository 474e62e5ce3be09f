"""The search state as it travels in URLs: the same parameter names as the JSON API.

    q, from, to, category (repeatable), paper (repeatable), sort, page, size
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from finsearch.search import SearchRequest, make_request

DEFAULT_SIZE = "10"


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
    sort: str = ""
    page: str = ""
    size: str = ""

    @classmethod
    def from_args(cls, args) -> "SearchState":
        def many(name):
            return tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v and v.strip()))
        return cls(q=_one(args, "q"), date_from=_one(args, "from"), date_to=_one(args, "to"),
                   categories=many("category"), papers=many("paper"), sort=_one(args, "sort").lower(),
                   page=_one(args, "page"), size=_one(args, "size"))

    def request(self) -> SearchRequest:
        """A validated SearchRequest; raises search.SearchError with a message for the user."""
        request = make_request(self.q, self.date_from, self.date_to, self.categories, self.papers,
                               self.sort, self.page, self.size)
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
        pairs += [("sort", "" if self.sort == "relevance" else self.sort),
                  ("page", "" if self.page == "1" else self.page),
                  ("size", "" if self.size == DEFAULT_SIZE else self.size)]
        return [(k, v) for k, v in pairs if v]

    def query_string(self) -> str:
        return urlencode(self.params())

    def but(self, **changes) -> "SearchState":
        """A copy with some fields changed; any change but a page change goes back to page 1."""
        if "page" not in changes:
            changes["page"] = ""
        return replace(self, **changes)

    def toggle_category(self, value: str) -> "SearchState":
        return self.but(categories=_toggle(self.categories, value))

    def toggle_paper(self, value: str) -> "SearchState":
        return self.but(papers=_toggle(self.papers, value))

    @property
    def has_filters(self) -> bool:
        return bool(self.date_from or self.date_to or self.categories or self.papers)

    def without_filters(self) -> "SearchState":
        return self.but(date_from="", date_to="", categories=(), papers=())


def _toggle(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value) if value in values else values + (value,)
