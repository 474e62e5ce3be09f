"""Sorted arrays of distinct numbers looked up in one another, the step under every AND, filter and
score gather: docnums, and a phrase's (document, position) keys.

A binary search per value (np.searchsorted) costs a cache miss per step; for many docnums an
array indexed by docnum answers each in one step and costs one pass to fill. Frequent words
(公司 matches about a third of an archive) make both sides large, so the choice is made per call.
Keys span far more than any array could, so they are always searched; numpy's own set
operations (np.intersect1d, np.unique) sort or hash what is already sorted.

np.unique itself is not used at search time (ruff bans it outside a few build steps): since
numpy 2.3 it hashes the values before sorting the distinct ones, ten to twenty times a sort's
cost on docnums; `sorted_distinct` and `merged` are the sort-based equivalents.
"""
from __future__ import annotations

import numpy as np

# From this many values looked up, an array indexed by value is quicker than binary searches,
# for values below DENSE_BOUND (docnums; not keys).
DENSE_LOOKUP = 4_096
DENSE_BOUND = 1 << 28
# Sets are united by marking them in an array of the index's size when they hold at least this
# share of it (`unite_by_merging`).
UNION_BY_MASK = 10


def rows_of(docs: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """Where each of `subset` (sorted, every one of them in `docs`) stands in the sorted `docs`."""
    return rows_of_each(docs, [subset])[0]


def rows_of_each(docs: np.ndarray, subsets: list[np.ndarray]) -> list[np.ndarray]:
    """`rows_of` for several subsets of one `docs`, with one array indexed by value for all of them."""
    if sum(subset.size for subset in subsets) < DENSE_LOOKUP or docs[-1] >= DENSE_BOUND:
        return [np.searchsorted(docs, subset) for subset in subsets]
    rows = np.empty(int(docs[-1]) + 1, dtype=np.intp)  # only the places of `docs` are read back
    rows[docs] = np.arange(docs.size)
    return [rows[subset] for subset in subsets]


def members(within: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Which of `docs` (sorted) are in `within` (sorted), as a mask over `docs`."""
    if not within.size or not docs.size:
        return np.zeros(docs.size, dtype=bool)
    if docs.size < DENSE_LOOKUP or max(within[-1], docs[-1]) >= DENSE_BOUND:
        at = np.searchsorted(within, docs)
        inside = at < within.size
        inside[inside] = within[at[inside]] == docs[inside]
        return inside
    return _marked(within, max(int(within[-1]), int(docs[-1])) + 1)[docs]


def _marked(values: np.ndarray, size: int) -> np.ndarray:
    """A mask of `size` with the places of `values` set."""
    marked = np.zeros(size, dtype=bool)
    marked[values] = True
    return marked


class Lookups:
    """`members` for one evaluation, which looks up many lists among the same few sets (a
    Counter's filtered posts, a conjunction's survivors): each large set is marked once, in an
    array of the index's size, and kept with its mark for the evaluation's life."""

    def __init__(self, bound: int):
        self._bound = bound  # every docnum is below it
        self._marks: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(set) -> (set, its mark)

    def members(self, within: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """Which of `docs` (sorted docnums) are in `within` (sorted docnums), as a mask over `docs`."""
        kept = self._marks.get(id(within))
        if kept is None or kept[0] is not within:
            if docs.size < DENSE_LOOKUP or not within.size or self._bound >= DENSE_BOUND:
                return members(within, docs)
            self._marks[id(within)] = kept = (within, _marked(within, self._bound))
        return kept[1][docs]


def common(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both sorted arrays of distinct values, sorted."""
    if a.size < b.size:
        a, b = b, a  # the fewer looked up among the more
    return b[members(a, b)]


def unite_by_merging(count: int, bound: int) -> bool:
    """Whether `count` docnums (all below `bound`) are united quicker by merging their sorted runs
    than by marking them in an array of `bound` values: numpy finds the marks of a sparse array
    with a branch for each value."""
    return count < DENSE_LOOKUP or count * UNION_BY_MASK < bound or bound >= DENSE_BOUND


def union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The docnums in either sorted array of distinct docnums, sorted."""
    if not a.size or not b.size:
        return b if not a.size else a
    bound = max(int(a[-1]), int(b[-1])) + 1
    if unite_by_merging(a.size + b.size, bound):
        return merged([a, b])
    marked = _marked(a, bound)
    marked[b] = True
    return np.flatnonzero(marked)


def distinct(ascending: np.ndarray) -> np.ndarray:
    """The distinct values of an ascending array (np.unique without its sort)."""
    if ascending.size < 2:
        return ascending
    return ascending[np.concatenate(([True], ascending[1:] != ascending[:-1]))]


def merged(parts: list[np.ndarray]) -> np.ndarray:
    """The values in any of several sorted arrays of distinct values, sorted and distinct: a stable
    sort (timsort) merges the sorted runs of their concatenation in linear passes."""
    if len(parts) == 1:
        return parts[0]
    return distinct(np.sort(np.concatenate(parts), kind="stable"))


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of an array in any order, ascending (np.unique's answer, by a sort)."""
    return distinct(np.sort(values))
