"""Search as you type: completions of the word being typed, from the index's own vocabulary.

The vocabulary is every word of the titles (jieba's words, as indexed) plus the finance
dictionary the analyzer loads, each with the number of posts that have it as a word in the title
or the body (the larger of Whoosh's two document frequencies: a lower bound of what a search for
it finds, since a search also matches inside longer words). Each word is found by its own prefix
and by the prefix of its pinyin initials (gylj → 供应链金融). The keys are one sorted list built
once per index generation, so a suggestion is two bisections and a top-k over the range.
"""
from __future__ import annotations

import bisect
import functools
import logging
import re
import time
from dataclasses import dataclass

import numpy as np
from pypinyin import Style, lazy_pinyin

from finsearch.analysis import fold, is_cjk, simplify
from finsearch.analysis.segmenter import USER_DICT
from finsearch.search.types import MAX_QUERY_CHARS, SearchError
from finsearch.storage import BODY, TITLE, doc_frequencies, field_terms

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 20
MIN_WORD_CHARS = 2  # a single character completes nothing useful
# What may stand before the word being typed and stays in the suggestion: a field, a minus, a quote.
_LEAD = re.compile(r"^((?:title:|body:|标题[:：]|正文[:：])?[-\"“(（]*)")
_HAS_LETTER = re.compile(r"[a-z]")


@dataclass(frozen=True)
class Completion:
    text: str  # the whole query with the word completed: what the box should hold
    word: str  # the completed word
    count: int  # posts with the word in the title or body
    by: str  # "prefix" or "pinyin": how the typed text matched


def _keepable(word: str) -> bool:
    """Words of two or more characters that are Chinese or hold a Latin letter (not 2026, 0.5%)."""
    if len(word) < MIN_WORD_CHARS:
        return False
    return any(is_cjk(ch) for ch in word) or bool(_HAS_LETTER.search(word))


@functools.lru_cache(maxsize=1 << 18)  # shared by every generation: a reindex adds few new words
def pinyin_initials(word: str) -> str:
    """供应链金融 → gylj; Latin parts stay whole (ETF基金 → etfjj); "" without Chinese."""
    if not any(is_cjk(ch) for ch in word):
        return ""
    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER)).lower()


def dictionary_words() -> list[str]:
    """The finance dictionary's words (folded, as the index holds them)."""
    lines = USER_DICT.read_text(encoding="utf-8").splitlines()
    return [fold(line.split()[0]) for line in lines if line.strip() and not line.startswith("#")]


class Vocabulary:
    """The sorted keys of one index generation's words."""

    def __init__(self, words: list[str], counts: list[int]):
        self.words = words
        self.counts = np.array(counts, dtype=np.int64)
        self.number_of = {word: number for number, word in enumerate(words)}
        keys: list[tuple[str, int, bool]] = []  # (key, word number, by pinyin)
        for number, word in enumerate(words):
            keys.append((word, number, False))
            initials = pinyin_initials(word)
            if initials and initials != word:
                keys.append((initials, number, True))
        keys.sort()
        self.keys = [k for k, _, _ in keys]
        self.numbers = np.array([n for _, n, _ in keys], dtype=np.int64)
        self.by_pinyin = np.array([p for _, _, p in keys], dtype=bool)

    @classmethod
    def build(cls, reader) -> Vocabulary:
        """From a Whoosh reader: title words and dictionary words, with their document counts."""
        started = time.perf_counter()
        title_counts: dict[bytes, int] = {}
        for keys, dfs in field_terms(reader, TITLE):
            for key, df in zip(keys, dfs.tolist()):
                title_counts[key] = title_counts.get(key, 0) + df
        words = sorted(w for w in {*(key.decode("utf-8") for key in title_counts), *dictionary_words()}
                       if _keepable(w))
        encoded = [w.encode("utf-8") for w in words]  # sorted too: UTF-8 keeps code point order
        body_counts = doc_frequencies(reader, BODY, encoded)
        counts = [max(title_counts.get(key, 0), int(body)) for key, body in zip(encoded, body_counts)]
        kept = [(w, c) for w, c in zip(words, counts) if c > 0]  # a dictionary word no post uses
        vocabulary = cls([w for w, _ in kept], [c for _, c in kept])
        log.info("suggestions: %d words, %d keys in %.2f s", len(vocabulary.words), len(vocabulary.keys),
                 time.perf_counter() - started)
        return vocabulary

    def suggest(self, text: str, limit: int) -> tuple[Completion, ...]:
        """The `limit` most frequent words completing the last word of `text` (not the word itself)."""
        if len(text) > MAX_QUERY_CHARS:
            raise SearchError(f"查询太长（{len(text)} 字），请不超过 {MAX_QUERY_CHARS} 字")
        if not 1 <= limit <= MAX_SUGGESTIONS:
            raise SearchError(f"建议条数应在 1 到 {MAX_SUGGESTIONS} 之间")
        if not text or text[-1].isspace():  # nothing being typed
            return ()
        head, _, last = text.rpartition(" ")
        found_lead = _LEAD.match(last)  # always matches (all of it is optional)
        lead = found_lead.group(1) if found_lead else ""
        typed = fold(simplify(last[len(lead):]))
        if not typed:
            return ()
        low = bisect.bisect_left(self.keys, typed)
        high = bisect.bisect_left(self.keys, typed + "\U0010ffff", low)
        if low == high:
            return ()
        rows = self.numbers[low:high]
        numbers = np.unique(rows)
        numbers = numbers[numbers != self.number_of.get(typed, -1)]  # the typed word completes nothing
        if not numbers.size:
            return ()
        by_prefix = np.isin(numbers, rows[~self.by_pinyin[low:high]])
        counts = self.counts[numbers]
        top = np.argpartition(-counts, limit - 1)[:limit] if limit < numbers.size else np.arange(numbers.size)
        ranked = sorted(top.tolist(), key=lambda i: (-counts[i], len(self.words[numbers[i]]), self.words[numbers[i]]))
        prefix = f"{head} " if head else ""
        found = []
        for i in ranked:
            word = self.words[numbers[i]]
            found.append(Completion(text=f"{prefix}{lead}{word}", word=word, count=int(counts[i]),
                                    by="prefix" if by_prefix[i] else "pinyin"))
        return tuple(found)


def suggestions_to_json(suggestions: tuple[Completion, ...]) -> list[dict]:
    """The JSON contract of `GET /api/suggest`."""
    return [{"text": s.text, "word": s.word, "count": s.count, "by": s.by} for s in suggestions]
