"""The search API's plain data: what a caller asks, and what it gets back."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from finsearch.search.coverage import Coverage

MAX_QUERY_CHARS = 500
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_PAGE = 1000  # deep pages are a scraper's, not a reader's


class Sort(str, Enum):
    RELEVANCE = "relevance"  # 相关度
    BLEND = "blend"  # 综合: relevance and recency (search.ranking.blend)
    NEWEST = "newest"
    OLDEST = "oldest"

    @property
    def by_score(self) -> bool:
        """Whether the order reads the match's scores (relevance, alone or blended with recency)."""
        return self in (Sort.RELEVANCE, Sort.BLEND)


class SearchError(ValueError):
    """The request cannot be answered as asked.

    `code` names the problem (e.g. "bad_date"), `param` the request parameter at fault ("from",
    "q", …; None when no one parameter is), `details` the values involved (`value`, `limit`,
    `choices`, …). The words people read are the web's and the CLI's (finsearch.messages).
    """

    def __init__(self, code: str, param: str | None = None, **details: Any):
        super().__init__(f"{code} ({param}): {details}" if param else f"{code}: {details}")
        self.code = code
        self.param = param
        self.details = details


class Notice(str, Enum):
    """How a malformed query was read (search.query): said to the user in finsearch.messages' words."""

    DANGLING_OPERATOR = "dangling_operator"  # an AND/OR/NOT at either end, left out
    UNBALANCED_QUOTES = "unbalanced_quotes"  # an unclosed quote: the words searched without quotes
    SYNTAX_ERROR = "syntax_error"  # the parser failed: the words searched without the syntax
    NOTHING_TO_SEARCH = "nothing_to_search"  # no word left to search (`-`, `()`, an emoji)


class Reason(str, Enum):
    """Why a query is suggested when the one asked found nothing (search.zero_results)."""

    CORRECTED = "corrected"  # its words that match nothing, spelt as they were most likely meant
    DROPPED = "dropped"  # without the words that match nothing (or without one word)
    SHORTER = "shorter"  # a shorter run of a one-word query
    ALIAS = "alias"  # a word's alias, for a literal query


@dataclass(frozen=True)
class SearchRequest:
    query: str = ""  # empty: every post (newest first unless sorted otherwise)
    # Inclusive, in the site's time zone: a date covers its whole day; a datetime (site-local,
    # naive) is a bound to the minute: `date_to` covers the whole of its minute.
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    categories: tuple[str, ...] = ()  # any of them
    papers: tuple[str, ...] = ()  # any of them
    stocks: tuple[str, ...] = ()  # codes: posts that mention any of these companies (search.companies)
    first_only: bool = False  # only posts that are their story's first report (首发)
    sort: Sort = Sort.RELEVANCE
    page: int = 1  # from 1
    page_size: int = DEFAULT_PAGE_SIZE
    literal: bool = False  # only what was typed, no aliases (a quoted phrase always is)

    def __post_init__(self) -> None:
        # A caller may name the order as a string ("newest"); the pipeline asks the Sort.
        object.__setattr__(self, "sort", Sort(self.sort))


@dataclass(frozen=True)
class Reprint:
    """The same story published elsewhere: the same title and body, or a near copy of it
    (another paper's wording of the same news: analysis/stories.py)."""

    id: str
    paper: str
    date: dt.datetime
    near: bool = False  # a near copy, not an identical one
    first: bool = False  # the story's first report (首发)
    lag_minutes: int = 0  # after the story's first report, in minutes as the times are shown (07:55 → 07:57: 2)


@dataclass(frozen=True)
class Hit:
    id: str
    title: str  # plain text
    title_html: str  # escaped, with <mark> around matches
    date: dt.datetime  # timezone-aware
    categories: tuple[str, ...]
    paper: str
    url: str
    snippet: str  # escaped HTML: best passage(s), matches in <mark>, gaps as …
    reprints: tuple[Reprint, ...] = ()  # the same story in other posts, shown once as this hit
    headline: str = ""  # what a reader is shown: the title, or a cut wire title's lead (search.headline)
    story: str = ""  # the id of the story's first post: equal for a post and its reprints
    body: str = field(default="", repr=False)  # the whole text, paragraphs a line each (for exports)
    first: bool = True  # the story's first report (首发): its earliest post, `story`
    lag_minutes: int = 0  # after the story's first report, in minutes as the times are shown
    first_report: Reprint | None = None  # the story's first report (this post itself when `first`)


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int
    label: str = ""  # what a reader is shown, when not the value (a stock code's company name)


@dataclass(frozen=True)
class Facets:
    categories: tuple[FacetCount, ...] = ()
    papers: tuple[FacetCount, ...] = ()
    months: tuple[FacetCount, ...] = ()  # "YYYY-MM", oldest first
    stocks: tuple[FacetCount, ...] = ()  # listed companies by code, labelled with the name (search.companies)
    first_reports: int = 0  # posts that are their story's first report (首发), under the other filters


@dataclass(frozen=True)
class Suggestion:
    """A query that finds something where the one asked found nothing."""

    query: str
    literal: bool  # search it literally (no aliases), as the request that found nothing did
    articles: int  # posts it finds under the same filters
    reason: Reason
    # The words the reason names: those corrected or dropped, the shorter run, (the word, its alias).
    words: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    total: int  # stories: reprints of one story count once
    hits: tuple[Hit, ...]
    facets: Facets
    seconds: float
    notice: Notice | None = None  # how a malformed query was read
    articles: int = 0  # posts matched, reprints included (what the facets count)
    # (word typed, its aliases): searched too, unless request.literal (then: what could be)
    expanded: tuple[tuple[str, tuple[str, ...]], ...] = ()
    suggestions: tuple[Suggestion, ...] = ()  # when nothing matched: queries that would match
    timeline: tuple[FacetCount, ...] = ()  # posts per day ("YYYY-MM-DD") of all matches, when asked for
    hourly: tuple[FacetCount, ...] = ()  # posts per hour ("YYYY-MM-DDTHH"), asked for and the dates a day or two
    stats: IndexStats | None = None  # the generation the result was read from

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.request.page_size))


@dataclass(frozen=True)
class RelatedHit:
    """A post of related coverage (相关报道, search.related): it holds most of the query's words, not all."""

    hit: Hit  # its `reprints`: its story's other posts among the related ones
    # The query's words it lacks, those of one character only when it lacks no longer one (none: it
    # has them all, though not as typed).
    missing: tuple[str, ...]


@dataclass(frozen=True)
class RelatedResult:
    """Related coverage under a results page that is not full (empty when the page is, or the
    query is not of plain words, or is literal): separate from the page's SearchResult."""

    request: SearchRequest
    hits: tuple[RelatedHit, ...]
    words: tuple[str, ...]  # the query's words it looked for
    seconds: float
    timed_out: bool = False  # it ran past its time (search.related.RELATED_SECONDS): none shown


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    date: dt.datetime
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    paper: str
    url: str
    paragraphs: tuple[str, ...]  # the first ones of a long post (search.engine.MAX_ARTICLE_CHARS)
    truncated: bool = False  # True: the post goes on beyond `paragraphs`
    path: str = ""
    headline: str = ""  # what a reader is shown: the title, or a cut wire title's lead (search.headline)


@dataclass(frozen=True)
class IndexStats:
    location: str
    documents: int
    segments: int
    size_bytes: int
    first_date: dt.datetime | None
    last_date: dt.datetime | None
    categories: tuple[FacetCount, ...] = field(default_factory=tuple)
    papers: tuple[FacetCount, ...] = field(default_factory=tuple)
    generation: int = 0  # the generation's number
    build: str = ""  # its folder name: the same on the writer and every replica
    created: float | None = None  # when it was built, epoch seconds
    category_labels: tuple[tuple[str, str], ...] = ()  # (category, its paper's name): cailianshe → 财联社
    coverage: Coverage | None = None  # the days the archive has posts for (a chart's gaps are no data)


@dataclass(frozen=True)
class IndexHealth:
    """What monitoring asks of the index (/healthz)."""

    stats: IndexStats  # the generation being served
    problem: str = ""  # not healthy: e.g. a newer generation that cannot be opened, and why
    damaged: tuple[str, ...] = ()  # the damaged files the problem names


@dataclass(frozen=True)
class ArticlePage:
    """An article page: the article, the query's matches marked, its story and related stories."""

    article: Article
    title_html: str  # escaped, the query's matches in <mark>
    paragraphs_html: tuple[str, ...]
    matches: int | None  # marked matches in title and paragraphs; None without a query
    same_story: tuple[Reprint, ...]
    related: tuple[Hit, ...]
    stats: IndexStats  # the generation it was read from
