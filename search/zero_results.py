"""What to offer when a query finds nothing: queries near it that would find something.

In order: the query with its words that match nothing spelt as they were most
likely meant (search.spelling: 供应练金融 → 供应链金融); the query without the
words that match nothing (or without one word, when each matches alone but not
all together); a shorter run of a one-word query (the longest run of its words
that matches); the word's alias that matches most, for a literal query (an
expanded query has searched them all).
Only plain queries (words separated by spaces) get suggestions: one with
operators, quotes or fields says exactly what it wants.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from finsearch.analysis import fold, unit_runs
from finsearch.analysis.aliases import AliasTable
from finsearch.analysis.segmenter import segmenter
from finsearch.search.types import Reason, Suggestion

MAX_SUGGESTIONS = 3
MAX_SHORTER_TRIES = 12  # searches spent looking for a shorter run
MIN_RUN_CHARS = 2  # a single character finds too much to be a suggestion
_NOT_PLAIN = re.compile(r'["“”「」()（）:：]|(?:^|\s)-|\b(?:AND|OR|NOT)\b')

Count = Callable[[str, bool], int]  # (query, literal) -> posts it finds under the request's filters
Correct = Callable[[str], list[str]]  # a word -> the words it was most likely meant to be, best first


def suggestions(text: str, literal: bool, aliases: AliasTable | None, count: Count,
                correct: Correct | None = None) -> tuple[Suggestion, ...]:
    words = text.split()
    if not words or _NOT_PLAIN.search(text):
        return ()
    found: dict[str, Suggestion] = {}

    def offer(query: str, query_literal: bool, reason: Reason, *named: str) -> None:
        if query and query not in found and len(found) < MAX_SUGGESTIONS:
            articles = count(query, query_literal)
            if articles:
                found[query] = Suggestion(query, query_literal, articles, reason, named)

    dead = [w for w in words if not count(w, literal)] if len(words) > 1 else words
    if correct is not None:
        meant = {word: next((c for c in correct(word) if count(c, literal)), None) for word in dead}
        fixed = {word: better for word, better in meant.items() if better}
        if fixed:
            offer(" ".join(fixed.get(w, w) for w in words), literal, Reason.CORRECTED, *fixed)
    if len(words) > 1:
        if dead and len(dead) < len(words):
            offer(" ".join(w for w in words if w not in dead), literal, Reason.DROPPED, *dead)
        if not dead:
            for word in words:
                offer(" ".join(w for w in words if w != word), literal, Reason.DROPPED, word)
    else:
        offered = len(found)
        for run in _shorter_runs(words[0])[:MAX_SHORTER_TRIES]:
            offer(run, literal, Reason.SHORTER, run)
            if len(found) > offered:
                break
    if literal and aliases is not None:
        for word in words:
            best = max(aliases.alternatives(word), key=lambda alias: count(alias, True), default=None)
            if best is not None:
                offer(" ".join(best if w == word else w for w in words), True, Reason.ALIAS, word, best)
    return tuple(found.values())


def _shorter_runs(word: str) -> list[str]:
    """Contiguous runs of `word`'s jieba words (its units if it is one word), longest first."""
    pieces = list(segmenter().cut(word))
    if len(pieces) < 2:
        pieces = [word[start:end] for run in unit_runs(fold(word)) for _, start, end in run]
    runs = {"".join(pieces[i:j]).strip() for i in range(len(pieces)) for j in range(i + 1, len(pieces) + 1)
            if j - i < len(pieces)}
    return sorted((r for r in runs if len(r) >= MIN_RUN_CHARS), key=lambda r: (-len(r), word.find(r)))
