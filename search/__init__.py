"""The query side: parse a user's query, match, filter, collect, present (search.engine)."""
from finsearch.search.deadline import SearchTimeout
from finsearch.search.engine import SearchEngine, last_run, prepare_generation
from finsearch.search.export import (
    EXPORT_COLUMNS,
    EXPORT_FORMATS,
    EXPORTERS,
    Export,
    export_columns,
    export_row,
    plain_text,
    spreadsheet_cell,
)
from finsearch.search.params import make_request
from finsearch.search.related import wanted as related_wanted
from finsearch.search.types import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    MAX_QUERY_CHARS,
    Article,
    ArticlePage,
    FacetCount,
    Facets,
    Hit,
    IndexHealth,
    IndexStats,
    Notice,
    Reason,
    RelatedHit,
    RelatedResult,
    Reprint,
    SearchError,
    SearchRequest,
    SearchResult,
    Sort,
    Suggestion,
)
from finsearch.storage import IndexDamaged, IndexIncompatible, IndexMissing

__all__ = ["DEFAULT_PAGE_SIZE", "EXPORTERS", "EXPORT_COLUMNS", "EXPORT_FORMATS", "MAX_PAGE", "MAX_PAGE_SIZE",
           "MAX_QUERY_CHARS", "Article", "ArticlePage", "Export", "FacetCount", "Facets", "Hit", "IndexDamaged",
           "IndexHealth", "IndexIncompatible", "IndexMissing", "IndexStats", "Notice", "Reason", "RelatedHit",
           "RelatedResult", "Reprint", "SearchEngine", "SearchError", "SearchRequest", "SearchResult", "SearchTimeout",
           "Sort", "Suggestion", "export_columns", "export_row", "last_run", "make_request", "plain_text",
           "prepare_generation", "related_wanted", "spreadsheet_cell"]
