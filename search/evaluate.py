"""Every match of a query and its score, computed over whole posting lists with numpy.

Whoosh's matchers walk the query tree one document at a time in Python; here each
leaf becomes a sorted array of docnums with their scores, AND intersects, OR
unites, NOT subtracts. The documents matched are Whoosh's, and so are the
scores: BM25F with Whoosh's statistics (idf, average field length, the length
byte of each document), the constants of ConstantScoreQuery, 1.0 for Every and
for a NOT inside AND/OR, summed where Whoosh's matchers sum. Except where Whoosh
errs (tests/test_evaluate.py): its AndNotMatcher lets some excluded documents
through, and an AND over literals (AndMaybe queries) drops the words' score of
some documents, depending on how its matchers happened to skip.

Two shortcuts keep phrases (literal strings on the gram fields) cheap, both
exact:
- a phrase of CJK bigrams needs only every other bigram: two bigrams two
  positions apart imply the one between them (consecutive positions are in one
  run of units), so the most frequent bigrams are often not read at all;
- a document whose word field holds the whole phrase as one jieba word contains
  it (a word is a contiguous substring of the text), so only the other
  candidates have their positions checked.
Evaluating a subquery "within" a set of documents lets posting blocks that hold
none of them go undecoded: the words that rank a literal are read only where the
literal matched.
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh.query.qcore import QueryError
from whoosh.scoring import BM25F

from finsearch.analysis import fold, gram_terms, is_cjk, unit_runs
from finsearch.search import deadline
from finsearch.search.docsets import (
    Lookups,
    common,
    distinct,
    members,
    merged,
    rows_of,
    rows_of_each,
    sorted_distinct,
    union,
    unite_by_merging,
)
from finsearch.search.query import FIELDS, Near
from finsearch.storage import Postings, TermEntry, field_lengths, find_term, read_postings, verify_reader

NOT_SCORE = 1.0  # what Whoosh's InverseMatcher scores a document matching a NOT
# Read a term's postings whole (and keep them for the query) when the documents
# wanted are at least 1/8 of its document frequency: few blocks could be skipped.
COMPLETE_READ_RATIO = 8
# A term in at least this many documents is read whole and keeps its decoded postings
# for the index version (FrequentPostings), within this many bytes a process.
FREQUENT_DOCS = 2_000
FREQUENT_BUDGET_BYTES = 256 * 2**20
# Terms whose entries (the segments holding each, and where) an index version remembers.
TERM_ENTRIES = 8_192


@dataclass(frozen=True)
class Matches:
    docs: np.ndarray  # int64 docnums, ascending
    scores: np.ndarray  # float64, one per doc (zeros when not scored)
    same_score: float | None = None  # every doc's score, when they all have one (Matches.constant)

    @classmethod
    def constant(cls, docs: np.ndarray, score: float) -> Matches:
        return cls(docs, np.full(docs.size, score), score)

    def at(self, docs: np.ndarray) -> np.ndarray:
        """The scores of `docs`, a sorted subset of self.docs."""
        return self.scores[rows_of(self.docs, docs)]


NO_MATCHES = Matches(np.empty(0, dtype=np.int64), np.empty(0))


class FrequentPostings:
    """The complete, live, decoded posting lists of frequent terms of one index version;
    the least recently used go first past the byte budget.

    Decoding a frequent word's blocks is most of what a search of it costs (公司: about
    100,000 postings in four fields at 100,000 posts), and a reporter searches the same
    few words again and again, under other filters and sorts. A kept word's BM25 scores
    are kept beside its list once worked out: they depend only on the version. Lists are
    kept in their compact form (Postings.compact); a search that reads one gets its docnums
    widened to int64 (a copy, a small part of decoding) and the rest as kept: halving their
    memory keeps twice as many words.
    """

    def __init__(self, budget: int = FREQUENT_BUDGET_BYTES):
        self._budget = budget
        self._bytes = 0
        # (field, term) -> its compact postings, its bytes and its scores over them (None until asked)
        self._lists: OrderedDict[tuple[str, bytes], tuple[Postings, int, np.ndarray | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, term: TermEntry, positions: bool) -> Postings | None:
        with self._lock:
            entry = self._lists.get((term.field, term.tbytes))
            if entry is None or (positions and entry[0].positions is None):
                return None
            self._lists.move_to_end((term.field, term.tbytes))
        return entry[0].widened(positions)

    def scores(self, term: TermEntry, postings: Postings, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The term's scores over `postings`, its whole live list: kept with the list if this keeps it."""
        key = (term.field, term.tbytes)
        with self._lock:
            entry = self._lists.get(key)
            if entry is not None and entry[2] is not None and entry[2].size == postings.docs.size:
                return entry[2]
        scores = compute()
        scores.flags.writeable = False
        with self._lock:
            entry = self._lists.get(key)
            if entry is not None and entry[2] is None and entry[0].docs.size == postings.docs.size:
                self._lists[key] = (entry[0], entry[1] + scores.nbytes, scores)
                self._bytes += scores.nbytes
                self._shrink()
        return scores

    def put(self, term: TermEntry, postings: Postings) -> None:
        kept = postings.compact()
        arrays = [a for a in (kept.docs, kept.weights, kept.positions, kept.position_starts) if a is not None]
        size = sum(a.nbytes for a in arrays)
        if size > self._budget:
            return
        for array in arrays:  # the weights and positions are shared by every later search
            array.flags.writeable = False
        with self._lock:
            old = self._lists.pop((term.field, term.tbytes), None)
            self._bytes += size - (old[1] if old else 0)
            self._lists[(term.field, term.tbytes)] = (kept, size, None)
            self._shrink()

    def _shrink(self) -> None:
        """The least recently used lists dropped until the rest fit the budget (lock held)."""
        while self._bytes > self._budget:
            _, (_, dropped, _) = self._lists.popitem(last=False)
            self._bytes -= dropped


@dataclass
class IndexView:
    """What evaluation needs of one index version; built once per version."""

    searcher: Any  # a whoosh Searcher of that version, scoring with BM25F (Whoosh is untyped)
    live: np.ndarray  # int64 docnums not deleted, ascending
    word_field_of_gram: dict[str, str]  # gram field -> the word field of the same text
    is_live: np.ndarray = field(init=False)  # bool by docnum
    has_deletions: bool = field(init=False)
    _lengths: dict[str, np.ndarray] = field(init=False, default_factory=dict)
    _bm25_b: dict[str, float] = field(init=False, default_factory=dict)
    frequent: FrequentPostings = field(init=False, default_factory=FrequentPostings)
    _term_entries: OrderedDict[tuple[str, bytes], TermEntry | None] = field(init=False, default_factory=OrderedDict)
    _term_lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    statistics: _Statistics = field(init=False)  # what Whoosh's estimates and idf read, from the entries

    def __post_init__(self) -> None:
        if not isinstance(self.searcher.weighting, BM25F):
            raise TypeError(f"only BM25F scoring is implemented, not {type(self.searcher.weighting).__name__}")
        reader = self.searcher.reader()
        size = reader.doc_count_all()
        self.is_live = np.zeros(size, dtype=bool)
        self.is_live[self.live] = True
        self.has_deletions = self.live.size < size
        self.statistics = _Statistics(self, reader)
        # Check now, on opening, that new segments read fast as Whoosh reads them (cached per segment).
        verify_reader(reader)

    def bm25_b(self, fieldname: str, tbytes: bytes) -> float:
        """BM25F's B for a field (Whoosh's `fieldname_B` option, else B), as its scorer takes it;
        `tbytes`: any term of the field in the index (the scorer looks it up)."""
        if fieldname not in self._bm25_b:
            self._bm25_b[fieldname] = self.searcher.weighting.scorer(self.searcher, fieldname, tbytes).B
        return self._bm25_b[fieldname]

    def term_entry(self, fieldname: str, text: Any) -> TermEntry | None:
        """A term's entry in this version (None if no segment has it)."""
        schema = self.searcher.schema
        if fieldname not in schema:
            return None
        try:
            tbytes = schema[fieldname].to_bytes(text)
        except ValueError:  # not a value of this field
            return None
        return self.term_entry_of_bytes(fieldname, tbytes)

    def term_entry_of_bytes(self, fieldname: str, tbytes: bytes) -> TermEntry | None:
        """`term_entry` of a term's bytes. Looking a term up probes every segment's term table, so
        the most recent TERM_ENTRIES answers are remembered."""
        key = (fieldname, tbytes)
        with self._term_lock:
            if key in self._term_entries:
                self._term_entries.move_to_end(key)
                return self._term_entries[key]
        term = find_term(self.searcher.reader(), fieldname, tbytes)
        with self._term_lock:
            self._term_entries[key] = term
            if len(self._term_entries) > TERM_ENTRIES:
                self._term_entries.popitem(last=False)
        return term

    def doc_frequency(self, fieldname: str, text: Any) -> int:
        """A term's document count in all segments, deleted documents included (Whoosh's)."""
        if isinstance(text, bytes):
            term = self.term_entry_of_bytes(fieldname, text) if fieldname in self.searcher.schema else None
        else:
            term = self.term_entry(fieldname, text)
        return term.doc_frequency if term is not None else 0

    def idf(self, fieldname: str, tbytes: bytes) -> float:
        """Whoosh's idf of a term (its weighting's own formula), from the remembered entry: Whoosh's
        searcher would look the term up in every segment again."""
        return self.searcher.weighting.idf(self.statistics, fieldname, tbytes)

    def lengths(self, fieldname: str) -> np.ndarray:
        """Each document's length of a field, read on first use."""
        if fieldname not in self._lengths:
            self._lengths[fieldname] = field_lengths(self.searcher.reader(), fieldname)
        return self._lengths[fieldname]


class _Statistics:
    """The index reader as Whoosh's query estimates and idf read it (and as the parent searcher
    its weighting asks): document frequencies from the view's remembered term entries, counts
    read once. Whoosh's reader would decode a term block of every segment for each question."""

    def __init__(self, view: IndexView, reader: Any):
        self._view = view
        self.schema = reader.schema
        self._doc_count = reader.doc_count()
        self._doc_count_all = reader.doc_count_all()

    def doc_frequency(self, fieldname: str, text: Any) -> int:
        return self._view.doc_frequency(fieldname, text)

    def doc_count(self) -> int:
        return self._doc_count

    def doc_count_all(self) -> int:
        return self._doc_count_all

    def get_parent(self) -> _Statistics:  # a searcher's weighting asks its parent for the figures
        return self

    def __getattr__(self, name: str) -> Any:  # anything else an estimate asks, the reader answers
        return getattr(self._view.searcher.reader(), name)


def evaluate(view: IndexView, q: wq.Query, scored: bool = True, within: np.ndarray | None = None) -> Matches:
    """Every live document matching `q` (among `within`, sorted docnums, if given), ascending, with
    its score (zeros if not `scored`)."""
    return _Evaluation(view).run(q, within, scored)


class Counter:
    """How many of one set of documents each of several queries matches (the queries a search that
    found nothing tries under its filters): one evaluation for them all, so a term's postings among
    the set are read once, however many of the queries hold it."""

    def __init__(self, view: IndexView, within: np.ndarray):
        self._evaluation = _Evaluation(view)
        self._within = within

    def count(self, q: wq.Query) -> int:
        return int(self._evaluation.run(q, self._within, False).docs.size)


class _Evaluation:
    """One query's evaluation; remembers the complete posting lists it has read."""

    def __init__(self, view: IndexView):
        self.view = view
        self.reader = view.searcher.reader()
        self.schema = self.reader.schema
        # term -> its postings read so far, and among which documents (None: all)
        self._read: dict[TermEntry, tuple[Postings, np.ndarray | None]] = {}
        self._lookups = Lookups(view.is_live.size)

    def run(self, q: wq.Query, within: np.ndarray | None, scored: bool) -> Matches:
        """The matches of `q` among `within` (sorted docnums; None: all documents)."""
        deadline.check()  # between parts of the query: nothing is half done here
        if q is wq.NullQuery:
            return NO_MATCHES
        if isinstance(q, wq.Term):
            return self._term(q, within, scored)
        if isinstance(q, wq.Phrase):
            return self._phrase(q, within, scored)
        if isinstance(q, wq.Every) and q.fieldname in (None, "", "*"):
            return Matches.constant(self._all(within), q.boost)
        if isinstance(q, wq.ConstantScoreQuery):
            return Matches.constant(self.run(q.child, within, False).docs, q.score)
        if isinstance(q, wq.Not):
            return Matches.constant(self._without(self._all(within), q.query), NOT_SCORE)
        if isinstance(q, Near):
            return self._near(q, within, scored)
        if _is_plain_wrapper(q):
            return self.run(q.child, within, scored)
        if isinstance(q, wq.AndNot):
            a = self.run(q.a, within, scored)
            docs = self._without(a.docs, q.b)
            return Matches(docs, a.at(docs))
        if isinstance(q, wq.AndMaybe):
            a = self.run(q.a, within, scored)
            if not scored or not a.docs.size:
                return a
            b = self.run(q.b, a.docs, True)
            if b.docs.size == a.docs.size:  # B matched within A: every one of A (a word query's usual case)
                return Matches(a.docs, a.scores + b.scores)
            scores = a.scores.copy()
            scores[rows_of(a.docs, b.docs)] += b.scores
            return Matches(a.docs, scores)
        if isinstance(q, wq.Require):
            a = self.run(q.a, within, scored)
            docs = self.run(q.b, a.docs, False).docs
            return Matches(docs, a.at(docs))
        if isinstance(q, wq.And):
            return self._boosted(q, self._and(q.subqueries, within, scored))
        if isinstance(q, wq.Or) and not q.scale:
            return self._boosted(q, self._or(q.subqueries, within, scored))
        raise QueryError(f"query type not supported by the evaluator: {type(q).__name__}")

    # -- compound queries ---------------------------------------------------

    def _and(self, subqueries, within, scored) -> Matches:
        if not subqueries:
            return NO_MATCHES
        positive = [q for q in subqueries if not isinstance(q, wq.Not)]
        negative = [q.query for q in subqueries if isinstance(q, wq.Not)]
        # Smallest first: each next subquery is evaluated among the survivors only.
        positive.sort(key=lambda q: q.estimate_size(self.view.statistics))
        parts = []
        docs = within
        for q in positive:
            part = self.run(q, docs, scored)
            parts.append(part)
            docs = part.docs
            if not docs.size:
                return NO_MATCHES
        if not positive:
            docs = self._all(within)
        for q in negative:
            docs = self._without(docs, q)
        scores = np.zeros(docs.size)
        if scored:
            for part in parts:
                scores += part.at(docs)
            scores += NOT_SCORE * len(negative)
        return Matches(docs, scores)

    def _or(self, subqueries, within, scored) -> Matches:
        parts = [Matches.constant(self._without(self._all(within), q.query), NOT_SCORE)
                 if isinstance(q, wq.Not) else self.run(q, within, scored) for q in subqueries]
        if not parts:
            return NO_MATCHES
        size = self.view.is_live.size
        found = [part.docs for part in parts]
        if unite_by_merging(sum(map(len, found)), size):
            docs = merged(found)
            scores = np.zeros(docs.size)
            if scored:
                for part, rows in zip(parts, rows_of_each(docs, found)):
                    scores[rows] += part.scores
            return Matches(docs, scores)
        # Many matches: marked, and their scores summed (in the same order), in arrays of the
        # index's size; a pass over those costs less than sorting and searching the matches.
        same = {part.same_score for part in parts}
        if scored and len(same) == 1 and None not in same and len(parts) < 256:
            # One score for every part (a word's literal fields): how many parts match a doc is its score.
            times = np.zeros(size, dtype=np.uint8)
            for part in parts:
                times[part.docs] += 1
            docs = np.flatnonzero(times != 0)  # numpy finds a bool array's nonzero ones the quickest
            # k parts' sum, added one at a time as below (the same floats): 0, s, s + s, ...
            sums = np.cumsum(np.concatenate(([0.0], np.full(len(parts), same.pop()))))
            return Matches(docs, sums[times[docs]])
        marked = np.zeros(size, dtype=bool)
        for part in parts:
            marked[part.docs] = True
        docs = np.flatnonzero(marked)
        if not scored:
            return Matches(docs, np.zeros(docs.size))
        summed = np.zeros(size)
        for part in parts:
            summed[part.docs] += part.scores
        return Matches(docs, summed[docs])

    def _near(self, q: Near, within, scored) -> Matches:
        """The AND of the literals, kept where each stands within `q.distance` units of the next in
        one field: positions in a gram field count units, a run of units a position apart from the
        next (so a punctuation mark between counts as one unit)."""
        together = self._and(q.literals, within, scored)
        docs = together.docs
        for first, second in itertools.pairwise(q.literals):
            if not docs.size:
                break
            close = [self._near_in_field(gram_field, first.text, second.text, q.distance, docs)
                     for _, gram_field in FIELDS[first.scope] if (_, gram_field) in FIELDS[second.scope]]
            docs = merged(close) if close else docs[:0]
        return Matches(docs, together.at(docs))

    def _near_in_field(self, gram_field: str, first: str, second: str, distance: int,
                       docs: np.ndarray) -> np.ndarray:
        """Those of `docs` where `first` and `second` stand within `distance` units in `gram_field`."""
        starts_a, units_a = self._occurrences(gram_field, first, docs)
        starts_b, units_b = self._occurrences(gram_field, second, docs)
        if not starts_a.size or not starts_b.size:
            return docs[:0]
        # A may start from `distance + units_a` before B's start (A first) to `distance + units_b`
        # after it (B first); keys are (doc << _DOC_SHIFT | position), so the window stays in one doc.
        low = np.searchsorted(starts_a, starts_b - (distance + units_a))
        high = np.searchsorted(starts_a, starts_b + (distance + units_b), side="right")
        return distinct(starts_b[high > low] >> _DOC_SHIFT)  # keys ascend, so their docs do

    def _occurrences(self, gram_field: str, text: str, docs: np.ndarray) -> tuple[np.ndarray, int]:
        """Where a literal's first run of units starts in `docs` (sorted start keys), and its units."""
        run = unit_runs(fold(text))[0]
        terms = [gram for gram, _, _ in gram_terms(run)]
        starts = None
        for offset, gram in enumerate(terms):
            term = self._find(gram_field, gram)
            if term is None:
                return NO_MATCHES.docs, len(run)
            keys = _start_keys(offset, self._postings(term, docs, positions=True), docs)
            starts = keys if starts is None else common(starts, keys)
        return (starts if starts is not None else NO_MATCHES.docs), len(run)

    @staticmethod
    def _boosted(q: wq.CompoundQuery, matches: Matches) -> Matches:
        # Whoosh applies a compound's boost only when it has several subqueries.
        if q.boost == 1.0 or len(q.subqueries) < 2:
            return matches
        return Matches(matches.docs, matches.scores * q.boost)

    def _without(self, docs: np.ndarray, excluded: wq.Query) -> np.ndarray:
        if not docs.size:
            return docs
        return docs[~members(self.run(excluded, docs, False).docs, docs)]

    def _all(self, within: np.ndarray | None) -> np.ndarray:
        if within is None:
            return self.view.live
        return within[self.view.is_live[within]] if self.view.has_deletions else within

    # -- leaves -------------------------------------------------------------

    def _term(self, q: wq.Term, within, scored) -> Matches:
        term = self._find(q.fieldname, q.text)
        if term is None:
            return NO_MATCHES
        if scored and term.doc_frequency >= FREQUENT_DOCS:
            # Scored over its whole list once for the version (the list is read whole anyway).
            whole = self._postings(term, None)
            scores = self.view.frequent.scores(term, whole, lambda: self._term_scores(term, whole))
            rows = np.flatnonzero(self._lookups.members(within, whole.docs)) if within is not None else slice(None)
            return Matches(whole.docs[rows], scores[rows] * q.boost)
        postings = self._postings(term, within)
        if not scored:
            return Matches(postings.docs, np.zeros(postings.docs.size))
        return Matches(postings.docs, self._term_scores(term, postings) * q.boost)

    def _term_scores(self, term: TermEntry, postings: Postings) -> np.ndarray:
        fieldname = term.field
        weights = postings.weights.astype(np.float64, copy=False)  # a kept list's are float32 (exact)
        if not self.schema[fieldname].scorable:
            return weights  # Whoosh's WeightScorer
        searcher = self.view.searcher
        weighting = searcher.weighting
        idf = self.view.idf(fieldname, term.tbytes)
        avgfl = searcher.avg_field_length(fieldname) or 1
        b = self.view.bm25_b(fieldname, term.tbytes)
        k1 = weighting.K1
        tf, fl = weights, self.view.lengths(fieldname)[postings.docs]
        # whoosh.scoring.bm25, in the same order of operations (the same floats)
        return idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * fl / avgfl)))

    def _phrase(self, q: wq.Phrase, within, scored) -> Matches:
        fieldname = q.fieldname
        if fieldname not in self.schema:
            return NO_MATCHES
        fmt = self.schema[fieldname].format
        if not fmt or not fmt.supports("positions"):
            raise QueryError(f"Phrase search: {fieldname!r} field has no positions")
        found = [self._find(fieldname, word) for word in q.words]
        terms = [t for t in found if t is not None]
        if not terms or len(terms) < len(found):
            return NO_MATCHES
        dfs = [t.doc_frequency for t in terms]
        # A scored phrase sums the scores of all its terms, so it reads them all.
        needed = range(len(terms)) if scored else self._phrase_cover(fieldname, q.words, dfs)
        candidates, confirmed, read = within, np.empty(0, dtype=np.int64), {}
        starts = np.empty(0, dtype=np.int64)  # where the phrase can start in unconfirmed candidates: _start_keys
        for step, i in enumerate(sorted(needed, key=lambda i: dfs[i])):  # rarest first: fewer blocks
            read[i] = self._postings(terms[i], candidates, positions=True)
            candidates = read[i].docs
            if step == 0:
                confirmed = self._confirmed_by_word(fieldname, q.words, candidates)
            else:  # positions rule candidates out before the next, more frequent, bigram is read
                if step == 1:
                    unconfirmed = candidates[~members(confirmed, candidates)]
                    first, second = read.items()
                    starts = common(_start_keys(*first, unconfirmed), _start_keys(*second, unconfirmed))
                else:
                    starts = common(starts, _start_keys(i, read[i], distinct(starts >> _DOC_SHIFT)))
                candidates = union(common(confirmed, candidates), distinct(starts >> _DOC_SHIFT))
            if not candidates.size:
                return NO_MATCHES
        docs = candidates
        if not scored:
            return Matches(docs, np.zeros(docs.size))
        scores = np.zeros(docs.size)
        for i, postings in read.items():
            rows = rows_of(postings.docs, docs)
            scores += self._term_scores(terms[i], postings)[rows]
        return Matches(docs, scores * q.boost)

    def _phrase_cover(self, fieldname: str, words, dfs: list[int]) -> list[int]:
        """The indexes of the bigrams to read: all of them, or on a gram field with
        CJK in every bigram, the first, the last and no two apart by more than two,
        with the fewest postings in all.

        Consecutive positions are always in one run (runs are a position apart), so
        bigrams at p and p+2 fix the units at p..p+3, hence the bigram at p+1. A
        CJK character is a unit by itself, so a bigram with one says which units it
        is made of (two Latin units could also be one unit: "ab" or "a b").
        """
        if fieldname not in self.view.word_field_of_gram or not all(_has_cjk(w) for w in words):
            return list(range(len(words)))
        # cost[i]: the cheapest cover of bigrams 0..i that includes i
        cost: list[int] = []
        previous: list[int | None] = []
        for i, df in enumerate(dfs):
            options = [j for j in (i - 1, i - 2) if j >= 0]
            best = min(options, key=lambda j: cost[j]) if options else None
            cost.append(df + (cost[best] if best is not None else 0))
            previous.append(best)
        cover: list[int] = []
        at: int | None = len(dfs) - 1
        while at is not None:
            cover.append(at)
            at = previous[at]
        return cover[::-1]

    def _confirmed_by_word(self, fieldname: str, words, candidates: np.ndarray) -> np.ndarray:
        """The candidates whose word field holds the phrase as one word: they contain it."""
        word_field = self.view.word_field_of_gram.get(fieldname)
        if word_field is None or not all(len(w) == 2 and is_cjk(w[0]) and is_cjk(w[1]) for w in words):
            return NO_MATCHES.docs
        word = self._find(word_field, words[0] + "".join(w[1] for w in words[1:]))
        return NO_MATCHES.docs if word is None else self._postings(word, candidates).docs

    # -- posting lists ------------------------------------------------------

    def _find(self, fieldname: str, text) -> TermEntry | None:
        """The term's entry if the index has the term, else None."""
        return self.view.term_entry(fieldname, text)

    def _postings(self, term: TermEntry, within, positions: bool = False) -> Postings:
        """The live postings of a term among `within` (None: all)."""
        deadline.check()  # before a read, never within one or within the cache update after it
        if term in self._read:
            postings, read_within = self._read[term]
            if (postings.positions is not None or not positions) and _covers(read_within, within):
                # Read among these very documents (a Counter's queries share them): nothing to restrict.
                return postings if read_within is within else self._restricted(postings, within)
        read_within = within
        frequent = term.doc_frequency >= FREQUENT_DOCS
        if frequent or (within is not None and within.size * COMPLETE_READ_RATIO >= term.doc_frequency):
            # Read all, for the next use too: nearly every block holds one of the documents, or the
            # term is frequent (skipping its blocks still reads every block's header: a Python step
            # per 64 postings, whatever `within` holds), so its whole list is kept for the version.
            read_within = None
        known = self.view.frequent.get(term, positions) if frequent else None
        if known is not None:
            postings = known
        else:
            postings = read_postings(term, read_within, positions)
            if self.view.has_deletions:
                postings = postings.rows(np.flatnonzero(self.view.is_live[postings.docs]))
            postings = self._restricted(postings, read_within)
            if frequent:
                self.view.frequent.put(term, postings)
        self._read[term] = (postings, read_within)
        return postings if read_within is within else self._restricted(postings, within)

    def _restricted(self, postings: Postings, within: np.ndarray | None) -> Postings:
        if within is None or not postings.docs.size:
            return postings
        return postings.rows(np.flatnonzero(self._lookups.members(within, postings.docs)))


def _covers(read_within: np.ndarray | None, within: np.ndarray | None) -> bool:
    """Whether postings read among `read_within` hold all those among `within`."""
    if read_within is None or read_within is within:
        return True
    if within is None or within.size > read_within.size:
        return False
    return bool(members(read_within, within).all())


# A phrase start as one int64: docnum << _DOC_SHIFT | the position the phrase starts at.
_DOC_SHIFT = 32


def _start_keys(offset: int, postings: Postings, docs: np.ndarray) -> np.ndarray:
    """Where a phrase can start in `docs` (sorted) by the bigram at `offset` in it: each
    position of the bigram in one of them, less the offset, as sorted start keys."""
    here = postings.rows(np.flatnonzero(members(docs, postings.docs)))
    assert here.positions is not None, "postings read without positions"
    starts = here.positions - offset
    keys = ((here.docs[here.position_rows()] << _DOC_SHIFT) | starts)[starts >= 0]
    # Ascending and distinct as read (documents ascending, each one's positions ascending); a
    # pass checks it, where np.unique would hash and sort them all.
    return keys if bool((keys[1:] > keys[:-1]).all()) else sorted_distinct(keys)


def _is_plain_wrapper(q: wq.Query) -> bool:
    """A wrapper that matches and scores as its child (e.g. search.query.Literal)."""
    return isinstance(q, wq.WrappingQuery) and type(q).matcher is wq.WrappingQuery.matcher


def _has_cjk(text: str) -> bool:
    return any(is_cjk(ch) for ch in text)

