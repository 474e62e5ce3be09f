"""Search as you type: completions of the word being typed, from the index's own vocabulary.

The vocabulary is every word of the titles (jieba's words, as indexed) plus the finance dictionary
the analyzer loads, each with the number of posts that have it as a word in the title or the body
(the larger of Whoosh's two document frequencies: a lower bound of what a search for it finds,
since a search also matches inside longer words), and the stock codes of the shipped table and of
the archive that some post names (by code or company), shown with their company. Each word is
found by its own prefix, by the prefix of its pinyin initials (gylj → 供应链金融) and of its full
pinyin (ningde → 宁德时代). The keys are one sorted list built once per index generation, so a
suggestion is two bisections and a top-k over the range.

With words typed before the one being completed (央行 降), the completions are ranked by how many
posts the search for those words finds that also hold the completion (降息, 降准 before 降雨), then
by their own counts.
"""
from __future__ import annotations

import bisect
import functools
import importlib.metadata
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh import query as wq

from finsearch.analysis import fold, is_cjk, simplify
from finsearch.analysis.segmenter import finance_entries
from finsearch.search.docsets import sorted_distinct
from finsearch.search.evaluate import IndexView, evaluate
from finsearch.search.generation_cache import GenerationCache, digest, packed, unpacked
from finsearch.search.types import MAX_QUERY_CHARS, SearchError
from finsearch.storage import BODY, TITLE, doc_frequencies, field_terms

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 20
VOCABULARY_FORMAT = 1  # of the cached vocabulary: bump when what it holds changes
MIN_WORD_CHARS = 2  # a single character completes nothing useful
# Completions ranked by the words typed before: this many of the most frequent are weighed.
CONTEXT_CANDIDATES = 64
# Spelling correction (search.spelling) also knows the Chinese words of the bodies used in this many
# posts: a word a reporter may have meant, though not one to complete to.
SPELLING_MIN_DOCS = 3
# What may stand before the word being typed and stays in the suggestion: a field, a minus, a quote.
_LEAD = re.compile(r"^((?:title:|body:|标题[:：]|正文[:：])?[-\"“(（]*)")
_HAS_LETTER = re.compile(r"[a-z]")
PREFIX, PINYIN = "prefix", "pinyin"
CODE = "code"  # a stock code, found by its digits and shown with its company

# (words typed before, candidate words) -> posts the search for the former finds that hold each
Together = Callable[[str, list[str]], list[int]]


@dataclass(frozen=True)
class Completion:
    text: str  # the whole query with the word completed: what the box should hold
    word: str  # the completed word
    count: int  # posts with the word in the title or body (a code: with the code or its company)
    by: str  # "prefix", "pinyin" or "code": how the typed text matched
    label: str = ""  # shown beside the word: a stock code's company


def _keepable(word: str) -> bool:
    """Words of two or more characters that are Chinese or hold a Latin letter (not 2026, 0.5%)."""
    if len(word) < MIN_WORD_CHARS or not word.isprintable():
        return False
    return any(is_cjk(ch) for ch in word) or bool(_HAS_LETTER.search(word))


@functools.lru_cache(maxsize=1 << 18)  # shared by every generation: a reindex adds few new words
def _pinyin(word: str) -> tuple[str, str]:
    """(initials, full pinyin) of a word with Chinese in it, Latin parts whole; ("", "") without."""
    if not any(is_cjk(ch) for ch in word):
        return "", ""
    from pypinyin import lazy_pinyin  # here: its dictionaries take most of a second to load, and a search needs none

    pieces = lazy_pinyin(word)  # a syllable per Chinese character, other runs as they are
    initials, at = [], 0
    for piece in pieces:
        if word.startswith(piece, at):  # a run kept as written
            initials.append(piece)
            at += len(piece)
        else:
            initials.append(piece[:1])
            at += 1
    return "".join(initials).lower(), "".join(pieces).lower()


def pinyin_initials(word: str) -> str:
    """供应链金融 → gylj; Latin parts stay whole (ETF基金 → etfjj); "" without Chinese."""
    return _pinyin(word)[0]


def full_pinyin(word: str) -> str:
    """宁德时代 → ningdeshidai (no tones); "" without Chinese."""
    return _pinyin(word)[1]


def _lookup_keys(words: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each word under itself and under its pinyin (full and initials), sorted by key: the keys, the
    number of each key's word, and whether the key is pinyin."""
    keys: list[tuple[str, int, bool]] = []
    for number, word in enumerate(words):
        keys.append((word, number, False))
        for spelled in dict.fromkeys(_pinyin(word)):
            if spelled and spelled != word:
                keys.append((spelled, number, True))
    keys.sort()
    return ([k for k, _, _ in keys], np.array([n for _, n, _ in keys], dtype=np.int64),
            np.array([p for _, _, p in keys], dtype=bool))


def _pinyin_version() -> str:
    """pypinyin's version: the pinyin keys a cached vocabulary holds are its output."""
    try:
        return importlib.metadata.version("pypinyin")
    except importlib.metadata.PackageNotFoundError:
        return ""


def dictionary_words() -> list[str]:
    """The finance dictionary's words (folded, as the index holds them)."""
    return [fold(word) for word, _ in finance_entries()]


class Vocabulary:
    """The sorted keys of one index generation's words."""

    def __init__(self, words: list[str], counts: Sequence[int] | np.ndarray, labels: dict[str, str],
                 known: dict[str, int], keys: tuple[list[str], np.ndarray, np.ndarray] | None = None):
        """`known`: every word spelling may correct to, with its posts; `keys`: the lookup keys (made
        from `words` when not given)."""
        self.words = words
        self.counts = np.asarray(counts, dtype=np.int64)
        self.number_of = {word: number for number, word in enumerate(words)}
        self.labels = labels  # word -> what to show beside it (a code's company)
        self.known = known
        # (key, word number, by pinyin), by key: each word under itself and its pinyin
        self.keys, self.numbers, self.by_pinyin = keys if keys is not None else _lookup_keys(words)

    @classmethod
    def of(cls, stocks: Sequence[tuple[str, str]], manifest: dict[str, Any], cache: GenerationCache,
           build: Callable[[], Vocabulary]) -> Vocabulary:
        """The vocabulary of the generation `manifest` describes: read from the index's `cache`, else
        made by `build` (no reader is opened for a file already made) and kept there for the next
        process (search.generation_cache)."""
        key = digest(manifest, VOCABULARY_FORMAT, sorted(stocks), dictionary_words(), _pinyin_version())
        return cls.from_arrays(cache.arrays("vocabulary", key, lambda: build().arrays()))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"words": packed(self.words), "counts": self.counts,
                "label_words": packed(list(self.labels)), "label_texts": packed(list(self.labels.values())),
                "known_words": packed(list(self.known)),
                "known_counts": np.fromiter(self.known.values(), dtype=np.int64, count=len(self.known)),
                "keys": packed(self.keys), "numbers": self.numbers, "by_pinyin": self.by_pinyin}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Vocabulary:
        return cls(unpacked(arrays["words"]), arrays["counts"],
                   dict(zip(unpacked(arrays["label_words"]), unpacked(arrays["label_texts"]))),
                   dict(zip(unpacked(arrays["known_words"]), arrays["known_counts"].tolist())),
                   (unpacked(arrays["keys"]), arrays["numbers"], arrays["by_pinyin"]))

    @classmethod
    def build(cls, reader, stocks: Iterable[tuple[str, str]] = ()) -> Vocabulary:
        """From a Whoosh reader: title words and dictionary words, with their document counts, and
        the codes of `stocks` ((name, code) pairs) that some post names."""
        started = time.perf_counter()
        title_counts: dict[bytes, int] = {}
        for keys, dfs in field_terms(reader, TITLE):
            for key, df in zip(keys, dfs.tolist()):
                title_counts[key] = title_counts.get(key, 0) + df
        words = {w for w in {*(key.decode("utf-8") for key in title_counts), *dictionary_words()} if _keepable(w)}
        company = {code: fold(name) for name, code in stocks}
        counted = sorted(words | set(company) | set(company.values()))
        encoded = [w.encode("utf-8") for w in counted]  # sorted too: UTF-8 keeps code point order
        body_counts = doc_frequencies(reader, BODY, encoded)
        count_of = {w: max(title_counts.get(key, 0), int(body)) for w, key, body in zip(counted, encoded, body_counts)}
        for code, name in company.items():  # a code's search finds its company's posts too
            count_of[code] = max(count_of[code], count_of[name])
        kept = sorted(w for w in words | set(company) if count_of[w] > 0)  # a word no post uses is no help
        counts = [count_of[w] for w in kept]
        vocabulary = cls(kept, counts, {code: name for name, code in stocks
                                        if code in count_of and count_of[code] > 0 and name.isprintable()},
                         {**_frequent_body_words(reader), **dict(zip(kept, counts))})
        log.info("suggestions: %d words, %d keys in %.2f s", len(vocabulary.words), len(vocabulary.keys),
                 time.perf_counter() - started)
        return vocabulary

    def key_range(self, key: str) -> tuple[int, int]:
        """The rows of the keys that start with `key`."""
        low = bisect.bisect_left(self.keys, key)
        return low, bisect.bisect_left(self.keys, key + "\U0010ffff", low)

    def spelled(self, key: str) -> list[int]:
        """The numbers of the words whose full pinyin (or initials) is `key` exactly."""
        if not key:  # no sound (digits, Latin): every key would start with it
            return []
        low = bisect.bisect_left(self.keys, key)
        high = bisect.bisect_right(self.keys, key, low)
        return sorted({int(self.numbers[row]) for row in range(low, high) if self.by_pinyin[row]})

    def suggest(self, text: str, limit: int, together: Together | None = None) -> tuple[Completion, ...]:
        """The `limit` best words completing the last word of `text` (not the word itself): most
        frequent first, or with words before it, most often found with them (`together`)."""
        if len(text) > MAX_QUERY_CHARS:
            raise SearchError("query_too_long", "q", length=len(text), limit=MAX_QUERY_CHARS)
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise SearchError("bad_limit", "limit", limit=MAX_SUGGESTIONS)
        if not text or text[-1].isspace():  # nothing being typed
            return ()
        head, _, last = text.rpartition(" ")
        found_lead = _LEAD.match(last)  # always matches (all of it is optional)
        lead = found_lead.group(1) if found_lead else ""
        typed = fold(simplify(last[len(lead):]))
        if not typed:
            return ()
        low, high = self.key_range(typed)
        if low == high:
            return ()
        rows = self.numbers[low:high]
        numbers = sorted_distinct(rows)
        numbers = numbers[numbers != self.number_of.get(typed, -1)]  # the typed word completes nothing
        if not numbers.size:
            return ()
        by_prefix = np.isin(numbers, rows[~self.by_pinyin[low:high]])
        counts = self.counts[numbers]
        ranked = self._ranked(numbers, counts, head.strip(), limit, together)
        prefix = f"{head} " if head else ""
        found = []
        for i in ranked:
            word = self.words[numbers[i]]
            label = self.labels.get(word, "")
            by = CODE if label else PREFIX if by_prefix[i] else PINYIN
            found.append(Completion(text=f"{prefix}{lead}{word}", word=word, count=int(counts[i]), by=by, label=label))
        return tuple(found)

    def _ranked(self, numbers: np.ndarray, counts: np.ndarray, head: str, limit: int,
                together: Together | None) -> list[int]:
        """Indexes into `numbers` of the `limit` best completions, best first."""
        wanted = CONTEXT_CANDIDATES if head and together else limit
        top = np.argpartition(-counts, wanted - 1)[:wanted] if wanted < numbers.size else np.arange(numbers.size)
        words = [self.words[numbers[i]] for i in top.tolist()]
        found_with = together(head, words) if head and together else [0] * len(words)
        order = sorted(range(len(words)), key=lambda j: (-found_with[j], -counts[top[j]], len(words[j]), words[j]))
        return [int(top[j]) for j in order[:limit]]


def _frequent_body_words(reader) -> dict[str, int]:
    """The bodies' Chinese words of two characters or more in SPELLING_MIN_DOCS posts or more."""
    found: dict[str, int] = {}
    for keys, dfs in field_terms(reader, BODY):
        # A word in fewer than two posts of a segment rarely reaches the threshold across segments.
        for row in np.flatnonzero(dfs >= 2).tolist():
            word = keys[row].decode("utf-8")
            if len(word) >= MIN_WORD_CHARS and all(is_cjk(ch) for ch in word):
                found[word] = found.get(word, 0) + int(dfs[row])
    return {word: count for word, count in found.items() if count >= SPELLING_MIN_DOCS}


def found_together(view: IndexView, docs: np.ndarray, words: list[str]) -> list[int]:
    """How many of `docs` (sorted docnums) hold each of `words` in the title or body."""
    return [evaluate(view, wq.Or([wq.Term(TITLE, word), wq.Term(BODY, word)]), scored=False, within=docs).docs.size
            if docs.size else 0 for word in words]
