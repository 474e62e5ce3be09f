"""Stories: the posts that tell one piece of news, found once per index generation (by the writer
that publishes it, storage/doc_table.py).

Posts with the same title and body (the STORY column) are one story, whatever their dates.
Near-duplicates join them: posts of *another paper* whose MinHash signatures
(analysis/near_duplicates.py) say they share most of their shingles, published within STORY_WINDOW
of the story's first post. One paper's own near-copies are left apart: on the wire they are
templates with new facts (港股IPO：X递表港交所, the daily 沪深两市成交额突破… or 人民币中间价), not
the same news told twice; for the same reason the window is shorter than a day.

Candidates come from LSH banding: a band is BAND_ROWS consecutive 8-bit minima packed into
one integer key, and posts with an equal key in some band are compared. A candidate pair is merged
when its estimated Jaccard similarity is at least MIN_JACCARD, or when the shorter post is
almost all inside the longer one and they are at most CONTAINMENT_WINDOW apart (MIN_CONTAINMENT:
同花顺 often keeps a flash's first sentence only; a day later the same sentence opens a new
report), and the shorter states no number the longer does not. Posts of different papers with the
same title (as a reader compares titles) within SAME_TITLE_WINDOW are one story whatever their
bodies: one paper keeps a flash's first line, another adds a name's Latin spelling or a source,
and the headline says they are the same news. Each story is led by its earliest
post, and a post joins a story only if it is near that first post itself (not merely near
another member), so a chain of small rewordings cannot drift into another piece of news.
"""
from __future__ import annotations

import hashlib
import logging

import numpy as np

from finsearch.analysis.near_duplicates import MINIMUM_BITS, SIGNATURE_HASHES

log = logging.getLogger(__name__)

TICKS_PER_HOUR = 3_600_000_000  # dates are Whoosh ticks (µs)
STORY_WINDOW = 20 * TICKS_PER_HOUR
CONTAINMENT_WINDOW = 2 * TICKS_PER_HOUR
# Hours, not a day: one paper's daily flash keeps its title (沪深两市成交额突破1万亿) from day to day,
# and two papers' copies of it on two days are two pieces of news.
SAME_TITLE_WINDOW = 3 * TICKS_PER_HOUR
# 3 minima (24 bits) a band, 42 bands: a pair with Jaccard 0.4 (a 同花顺 first sentence of a
# 财联社 flash twice its length) is a candidate 96% of the time, one with 0.05 0.5%.
BAND_ROWS = 3
MIN_JACCARD = 0.6
MIN_CONTAINMENT = 0.8
MIN_SHINGLES = 8  # a text this short (a bare title) says too little to be matched by wording


def fingerprint() -> str:
    """What the stories depend on besides the signatures: stories computed under another are
    computed again."""
    settings = (STORY_WINDOW, CONTAINMENT_WINDOW, SAME_TITLE_WINDOW, BAND_ROWS, MIN_JACCARD, MIN_CONTAINMENT,
                MIN_SHINGLES)
    return hashlib.blake2b(repr(settings).encode(), digest_size=16).hexdigest()


def near_stories(exact: np.ndarray, dates: np.ndarray, papers: np.ndarray, live: np.ndarray,
                 sizes: np.ndarray, numbers: np.ndarray, minima: np.ndarray,
                 title_ids: np.ndarray | None = None) -> np.ndarray:
    """The story number of every document: `exact` (a number per docnum, equal for identical posts)
    with near-duplicate stories merged into the story of their earliest post.

    `papers`: a paper number per docnum; `live`: the docnums to consider (the others keep their
    exact story); `sizes`, `numbers`,
    `minima`: the decoded signatures (indexer.near_duplicates.decode); `title_ids`: equal for
    titles equal as a reader compares them (-1: unknown), None when the index has none.
    """
    heads = _exact_heads(exact, dates, live)
    candidates = heads[sizes[heads] >= MIN_SHINGLES]
    first, second = _candidate_pairs(candidates, dates, minima)
    keep = _similar(first, second, dates, sizes, numbers, minima) & (papers[first] != papers[second])
    first, second = first[keep], second[keep]
    if title_ids is not None:
        same_first, same_second = _same_title_pairs(heads, dates, title_ids)
        other_paper = papers[same_first] != papers[same_second]
        first = np.concatenate((first, same_first[other_paper]))
        second = np.concatenate((second, same_second[other_paper]))
    leader = _leaders(first, second, dates)
    stories = exact.copy()
    if leader:
        follower_story = {int(exact[f]): int(exact[h]) for f, h in leader.items()}
        remap = np.arange(int(exact.max()) + 1, dtype=np.int64)
        remap[list(follower_story)] = list(follower_story.values())
        stories = remap[exact]
    log.info("stories: %d near-duplicate posts joined an earlier story", len(leader))
    return stories


def _exact_heads(exact: np.ndarray, dates: np.ndarray, live: np.ndarray) -> np.ndarray:
    """The earliest live post of each exact story (docnum order breaks ties)."""
    order = live[np.lexsort((live, dates[live], exact[live]))]
    stories = exact[order]
    return np.sort(order[np.concatenate(([True], stories[1:] != stories[:-1]))]) if order.size else order


def _candidate_pairs(docs: np.ndarray, dates: np.ndarray, minima: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (earlier, later) of `docs` within STORY_WINDOW sharing a band key."""
    found = []
    docs_dates = dates[docs]
    # One integer sort key per band: the band's key above each doc's place in (date, docnum) order.
    place = np.empty(docs.size, dtype=np.uint64)
    place[np.lexsort((docs, docs_dates))] = np.arange(docs.size, dtype=np.uint64)
    place_bits = np.uint64(max(int(docs.size - 1).bit_length(), 1))
    assert MINIMUM_BITS * BAND_ROWS + int(place_bits) <= 64, "a band and a place fit one uint64"
    for start in range(0, SIGNATURE_HASHES - BAND_ROWS + 1, BAND_ROWS):
        band = np.zeros(docs.size, dtype=np.uint64)
        for row in range(BAND_ROWS):
            band |= minima[docs, start + row].astype(np.uint64) << np.uint64(MINIMUM_BITS * row)
        order = np.argsort((band << place_bits) | place)
        keys, when, who = band[order], docs_dates[order], docs[order]
        # Within a run of equal keys (sorted by date), pair each post with the ones after it
        # until the window is passed; offset by offset, while any pair is left.
        offset = 1
        while offset < order.size:
            same = (keys[offset:] == keys[:-offset]) & (when[offset:] - when[:-offset] <= STORY_WINDOW)
            if not same.any():
                break
            found.append(np.stack((who[:-offset][same], who[offset:][same])))
            offset += 1
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = np.unique(np.concatenate(found, axis=1), axis=1)  # noqa: TID251 (axis: sorts rows)
    return pairs[0], pairs[1]


def _same_title_pairs(docs: np.ndarray, dates: np.ndarray, title_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (earlier, later) of `docs` with the same known title within SAME_TITLE_WINDOW."""
    docs = docs[title_ids[docs] >= 0]
    order = docs[np.lexsort((docs, dates[docs], title_ids[docs]))]
    titles, when = title_ids[order], dates[order]
    found = []
    offset = 1
    while offset < order.size:
        same = (titles[offset:] == titles[:-offset]) & (when[offset:] - when[:-offset] <= SAME_TITLE_WINDOW)
        if not same.any():
            break
        found.append(np.stack((order[:-offset][same], order[offset:][same])))
        offset += 1
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pairs = np.concatenate(found, axis=1)
    return pairs[0], pairs[1]


def _similar(first: np.ndarray, second: np.ndarray, dates: np.ndarray, sizes: np.ndarray,
             numbers: np.ndarray, minima: np.ndarray) -> np.ndarray:
    """Which candidate pairs are near-duplicates (a bool per pair)."""
    if not first.size:
        return np.zeros(0, dtype=bool)
    # b-bit minima also agree by chance, 1 in 2**MINIMUM_BITS: the share of equal minima is
    # J + (1 - J) * chance, solved for J.
    chance = 2.0 ** -MINIMUM_BITS
    jaccard = np.clip(((minima[first] == minima[second]).mean(axis=1) - chance) / (1 - chance), 0.0, 1.0)
    size_a, size_b = sizes[first], sizes[second]
    # |A ∩ B| = J (|A| + |B|) / (1 + J), over the shorter one's size.
    containment = jaccard * (size_a + size_b) / ((1 + jaccard) * np.minimum(size_a, size_b))
    shorter_numbers = np.where(size_a <= size_b, numbers[first], numbers[second])
    longer_numbers = np.where(size_a <= size_b, numbers[second], numbers[first])
    same_figures = (shorter_numbers & ~longer_numbers) == 0
    close = np.abs(dates[first] - dates[second]) <= CONTAINMENT_WINDOW
    return ((jaccard >= MIN_JACCARD) | ((containment >= MIN_CONTAINMENT) & close)) & same_figures


def _leaders(first: np.ndarray, second: np.ndarray, dates: np.ndarray) -> dict[int, int]:
    """follower -> the earliest post it is near that leads a story (it has no leader itself)."""
    earlier = dates[first] < dates[second]
    earlier |= (dates[first] == dates[second]) & (first < second)
    a = np.where(earlier, first, second)  # the earlier of each pair
    b = np.where(earlier, second, first)
    order = np.lexsort((a, dates[a], b, dates[b]))  # by the later post, then its partners by date
    leader: dict[int, int] = {}
    for later, partner in zip(b[order].tolist(), a[order].tolist(), strict=True):
        if later not in leader and partner not in leader:
            leader[later] = partner
    return leader
