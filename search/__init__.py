"""The query side: parse a user's query, filter, rank, count facets, highlight."""
from finsearch.search.engine import SearchEngine
from finsearch.search.types import (MAX_PAGE_SIZE, MAX_QUERY_CHARS, Article, FacetCount, Facets, Hit,
                          IndexStats, Reprint, SearchError, SearchRequest, SearchResult, Sort, Suggestion)
from finsearch.search.params import make_request, result_to_json, stats_to_json
from finsearch.indexer.store import IndexMissing

__all__ = ["MAX_PAGE_SIZE", "MAX_QUERY_CHARS", "Article", "FacetCount", "Facets", "Hit",
           "IndexMissing", "IndexStats", "Reprint", "SearchEngine", "SearchError", "SearchRequest",
           "SearchResult", "Sort", "Suggestion", "make_request", "result_to_json", "stats_to_json"]
