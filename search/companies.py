"""Listed companies and the posts that mention them: the 股票 facet and the `stock=` filter.

A post mentions a company when it writes the company's code or one of its names (600519,
贵州茅台) as a search finds them: literally, in the title or the body. So `stock=600519` keeps
the posts the search for `600519` finds (the code and its names are each other's aliases), but
for a name that is part of another company's (`Companies`).
The companies are the A-share codes of the shipped table and of the (name, code) pairs the
generation's posts write (`Snapshot.stock_pairs`); the funds and ETFs posts also write with a
code (证券ETF（512880）) are not companies.

Which post mentions which company is found once per generation, each company matched against
the index as a search is, into one array of (post, company) rows by docnum: a facet is then a
count over the rows of the hits, and costs the same whatever the number of companies.
"""
from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import query as wq

from finsearch.search.evaluate import IndexView, evaluate
from finsearch.search.generation_cache import GenerationCache, digest
from finsearch.search.query import mention_query
from finsearch.search.types import FacetCount

# A-share stocks: Shanghai 60, 68 (科创板); Shenzhen 00, 30 (创业板); Beijing 43, 83, 87, 92.
# Funds and ETFs (51…, 56…, 58…, 15…, 16…) are not companies.
LISTED_CODE = re.compile(r"(?:00|30|60|68|43|83|87|92)\d{4}")
FACET_SIZE = 30  # companies a 股票 facet lists, most mentioned first (a search can mention hundreds)
FORMAT = 2  # of the cached mentions: bump when what counts as a mention changes


@dataclass(frozen=True)
class Company:
    code: str
    name: str  # shown: the shipped table's, else the shortest the posts write (a longer one often has a
    #            word of its sentence stuck to it: 互动平台提问深南电A)
    names: tuple[str, ...]  # every name it is searched by


class Companies:
    """The listed companies a generation knows, by code.

    A name that is part of another company's name (ST金鸿 of ST金鸿顺, 仁科技 of 利仁科技) is a
    mention only in the posts that do not write that longer name: otherwise the other company's
    posts would count for both.
    """

    def __init__(self, shipped: Iterable[tuple[str, str]], learned: Iterable[tuple[str, str]]):
        """From (name, code) pairs: the shipped table's, then those the posts write."""
        names: defaultdict[str, dict[str, None]] = defaultdict(dict)
        shown: dict[str, str] = {}
        for name, code in shipped:
            if LISTED_CODE.fullmatch(code):
                names[code][name] = None
                shown.setdefault(code, name)
        for name, code in learned:
            if LISTED_CODE.fullmatch(code):
                names[code][name] = None
        self.by_code = {code: Company(code, shown.get(code) or min(found, key=lambda n: (len(n), n)), tuple(found))
                        for code, found in sorted(names.items())}
        self._longer = _longer_names(names)

    def query(self, code: str) -> wq.Query:
        """The posts that mention the company of `code` (any code: its digits alone if unknown)."""
        company = self.by_code.get(code)
        names = company.names if company else ()
        plain = [name for name in names if name not in self._longer]
        return wq.Or([mention_query((code, *plain)),
                      *(wq.AndNot(mention_query((name,)), mention_query(self._longer[name]))
                        for name in names if name in self._longer)])


def _longer_names(names: dict[str, dict[str, None]]) -> dict[str, tuple[str, ...]]:
    """Each name that is part of another company's name: those names."""
    codes_of: defaultdict[str, set[str]] = defaultdict(set)
    for code, found in names.items():
        for name in found:
            codes_of[name].add(code)
    longer: defaultdict[str, dict[str, None]] = defaultdict(dict)
    for name, codes in codes_of.items():
        for start in range(len(name)):
            for end in range(start + 1, len(name) + 1):
                part = name[start:end]
                if part in codes_of and part != name and codes_of[part] - codes:
                    longer[part][name] = None
    return {part: tuple(found) for part, found in longer.items()}


@dataclass(frozen=True)
class Mentions:
    """Which listed companies each post of one generation mentions."""

    codes: tuple[str, ...]  # company number -> code
    names: tuple[str, ...]  # company number -> the name shown
    starts: np.ndarray  # int64 per docnum + 1: doc d's companies are companies[starts[d]:starts[d + 1]]
    companies: np.ndarray  # int32 company numbers, by docnum
    number_of: dict[str, int]  # code -> company number
    mentioning: np.ndarray  # the docnum of each row of `companies`

    @classmethod
    def of(cls, view: IndexView, known: Companies, lock: threading.RLock, manifest: dict[str, Any],
           cache: GenerationCache) -> Mentions:
        """The mentions of the generation `manifest` describes: read from the index's `cache`, else found with
        `build` (and cached for the next process)."""
        key = digest(manifest, FORMAT, [(company.code, company.names) for company in known.by_code.values()])
        arrays = cache.arrays("mentions", key, lambda: cls.build(view, known, lock).arrays())
        return cls.from_arrays(known, arrays["starts"], arrays["companies"])

    @classmethod
    def build(cls, view: IndexView, known: Companies, lock: threading.RLock) -> Mentions:
        """Each company matched against the index, under `lock` one company at a time (searches of
        the same generation go on meanwhile)."""
        docs, numbers = [], []
        for number, code in enumerate(known.by_code):
            with lock:
                found = evaluate(view, known.query(code), scored=False).docs
            docs.append(found)
            numbers.append(np.full(found.size, number, dtype=np.int32))
        all_docs = np.concatenate(docs) if docs else np.empty(0, dtype=np.int64)
        all_numbers = np.concatenate(numbers) if numbers else np.empty(0, dtype=np.int32)
        per_doc = np.bincount(all_docs, minlength=view.is_live.size)
        starts = np.concatenate(([0], np.cumsum(per_doc))).astype(np.int64)
        return cls.from_arrays(known, starts, all_numbers[np.lexsort((all_numbers, all_docs))])

    @classmethod
    def from_arrays(cls, known: Companies, starts: np.ndarray, companies: np.ndarray) -> Mentions:
        codes = tuple(known.by_code)
        mentioning = np.repeat(np.arange(starts.size - 1), np.diff(starts))
        return cls(codes, tuple(known.by_code[code].name for code in codes), starts, companies,
                   {code: number for number, code in enumerate(codes)}, mentioning)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"starts": self.starts, "companies": self.companies}

    def counts(self, docs: np.ndarray, keep: Iterable[str] = ()) -> tuple[FacetCount, ...]:
        """The companies `docs` mention, each with how many of them do, most first (FACET_SIZE of
        them, and those of `keep`, the codes asked for, whatever their count); labelled by name."""
        if docs.size * 4 < self.companies.size:
            first, last = self.starts[docs], self.starts[docs + 1]
            lengths = last - first
            # Every row of each doc: its first row, then one more per row.
            rows = np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
            counted = np.bincount(self.companies[rows], minlength=len(self.codes))
        else:  # most docs: a pass over every mention costs less than gathering theirs
            wanted = np.zeros(self.starts.size - 1, dtype=bool)
            wanted[docs] = True
            counted = np.bincount(self.companies[wanted[self.mentioning]], minlength=len(self.codes))
        mentioned = np.flatnonzero(counted)
        shown = mentioned[np.lexsort((mentioned, -counted[mentioned]))][:FACET_SIZE].tolist()
        shown += [self.number_of[code] for code in keep if self.number_of.get(code, -1) not in (-1, *shown)]
        return tuple(FacetCount(self.codes[n], int(counted[n]), self.names[n]) for n in shown)
