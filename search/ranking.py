"""Relevance tiers above the BM25F score: what a reporter expects first.

A post whose title is the query (compared as analysis.near_duplicates.title_key compares titles) comes
first; then posts that have the query in the title; then the rest (a post with only an alias
of a word last among them, by its lower score). Within a tier the score
decides, and among equal scores the newer post (search.collect.sort_keys).
"""
from __future__ import annotations

import numpy as np
from whoosh import query as wq

from finsearch.search.docsets import members
from finsearch.search.query import Literal, Near, literal_query

BODY_ONLY, IN_TITLE, WHOLE_TITLE = 0, 1, 2
# 综合 (Sort.BLEND): news is time-bound. A post's recency halves every BLEND_HALF_LIFE before the
# newest post matched (not the clock: a search of last year blends within last year), and counts
# BLEND_RECENCY against the relevance score's (1 - BLEND_RECENCY), each on a 0..1 scale.
BLEND_HALF_LIFE = 3 * 86_400_000_000  # Whoosh ticks (µs)
BLEND_RECENCY = 0.2


def title_query(q: wq.Query) -> wq.Query:
    """`q` with every literal outside a NOT matched in the title only: the posts that have
    the query in the title. Exclusions stay as they are (they apply to the whole post).

    Only what was typed counts: an alias's match (search.query wraps each in a constant
    score) matches nothing here, so a post with only an alias ranks after every post with
    the typed words, in the title or not."""
    if isinstance(q, Literal):
        return literal_query(q.text, "title") or wq.NullQuery
    if isinstance(q, Near):  # near each other in the title
        return Near([title_query(literal) for literal in q.literals], q.distance)
    if isinstance(q, wq.ConstantScoreQuery):
        return wq.NullQuery
    if isinstance(q, (wq.Not, wq.Every)):
        return q
    if isinstance(q, wq.AndNot):
        return wq.AndNot(title_query(q.a), q.b)
    if isinstance(q, (wq.And, wq.Or)):
        return type(q)([title_query(sub) for sub in q.subqueries])
    return q


def tiers(docs: np.ndarray, in_title: np.ndarray, whole_title: np.ndarray) -> np.ndarray:
    """The tier of each of `docs` (sorted docnums), given the sorted docnums that have the
    query in the title and those whose title is the query."""
    result = np.full(docs.size, BODY_ONLY, dtype=np.int8)
    result[members(in_title, docs)] = IN_TITLE
    result[members(whole_title, docs)] = WHOLE_TITLE
    return result


def recency(dates: np.ndarray, newest: int) -> np.ndarray:
    """1 for a post as new as `newest` (Whoosh ticks), halving every BLEND_HALF_LIFE before it."""
    return np.exp2(-np.maximum(newest - dates, 0) / BLEND_HALF_LIFE)


def blend(scores: np.ndarray, dates: np.ndarray, newest: int) -> np.ndarray:
    """Relevance scores (the best scaled to 1) blended with the posts' recency."""
    best = float(scores.max()) if scores.size else 0.0
    relevance = scores / best if best > 0 else np.zeros(scores.size)
    return (1 - BLEND_RECENCY) * relevance + BLEND_RECENCY * recency(dates, newest)
