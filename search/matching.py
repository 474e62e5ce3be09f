"""Parse, match and filter: the steps every search, export, trend count and related list starts with.

`match` parses the request's query (with the generation's aliases unless it is literal),
matches it through the snapshot's cache (search.evaluate) and marks which matches pass each
filter (search.collect); `tiers` ranks a match's documents above their scores (search.ranking).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finsearch.analysis.near_duplicates import title_key
from finsearch.search import ranking
from finsearch.search.collect import Filtered, filter_masks
from finsearch.search.docsets import common
from finsearch.search.query import ParsedQuery, parse_query
from finsearch.search.snapshot import Snapshot
from finsearch.search.types import SearchRequest, Sort


@dataclass(frozen=True)
class Matched:
    """A request parsed, matched and filtered."""

    parsed: ParsedQuery
    docs: np.ndarray  # every match, ascending docnums
    scores: np.ndarray
    passed: Filtered  # which of `docs` pass each filter

    @property
    def kept(self) -> np.ndarray:
        """The matches that pass every filter."""
        return self.docs[self.passed.all]

    @property
    def kept_scores(self) -> np.ndarray:
        return self.scores[self.passed.all]


def match(snap: Snapshot, request: SearchRequest, scored: bool) -> Matched:
    parsed = parse_query(request.query, None if request.literal else snap.aliases)
    found = snap.matches(parsed.query, scored)
    return Matched(parsed, found.docs, found.scores,
                   filter_masks(snap.table, found.docs, request, snap.mentioning(request.stocks)))


def tiers(snap: Snapshot, parsed: ParsedQuery, docs: np.ndarray, sort: Sort) -> np.ndarray | None:
    """The relevance tier (search.ranking) of each of `docs`; None when not sorting by relevance."""
    if not sort.by_score or not parsed.terms or not docs.size:
        return None
    in_title = snap.docs(ranking.title_query(parsed.query))
    title_id = snap.table.title_id(title_key(" ".join(parsed.terms)))
    whole_title = docs[snap.table.title_ids[docs] == title_id] if title_id >= 0 else docs[:0]
    return ranking.tiers(docs, in_title, common(in_title, whole_title))
