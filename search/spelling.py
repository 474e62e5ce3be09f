"""Spelling correction for a query that finds nothing: the words a reporter most likely meant.

Chinese is typed through a pinyin input method, so the usual slip is a character that sounds the
same (供应练金融 for 供应链金融), or nearly (zh/z, ch/c, sh/s, n/l, -ng/-n: what a southern speaker
or a fast typist swaps); then a character too many or too few, or two swapped. The words it may
have been are those the index knows (search.suggest.Vocabulary: the suggestions' words and the
bodies' frequent ones). A candidate costs by the kind of slip and the characters it changes; among
equals the word more posts use wins. A run inside a longer typed word (央行降淮) is corrected in
place when the whole is no word.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator

from finsearch.analysis import fold, is_cjk, simplify
from finsearch.analysis.segmenter import segmenter
from finsearch.search.suggest import Vocabulary, full_pinyin

MAX_CORRECTIONS = 3
MIN_CHARS = 2  # a single character is no word to correct
MIN_EDIT_CHARS = 3  # a two-character word one edit away from another is a guess, not a correction
# The cost of each kind of slip (lower: more likely), plus CHANGED_CHAR for each character changed.
SAME_SOUND, CONFUSED_SOUND, EDITED = 1.0, 2.0, 3.0
CHANGED_CHAR = 0.1
PART_OF_WORD = 0.5  # added when only a run inside the typed word is corrected
# The longest run of jieba words corrected inside a typed word: a slip spoils a word or two, and
# a pasted headline has dozens of runs, each a lookup of every character's sounds.
MAX_PART_WORDS = 3
# Added for a word that drops a typed character: it is in what was typed (and offered as a shorter
# run anyway), so one that adds or changes a character is the likelier correction.
DROPPED_CHAR = 0.2
# Sounds that are swapped: initials, then finals.
CONFUSED_INITIALS = {"zh": ("z",), "z": ("zh",), "ch": ("c",), "c": ("ch",), "sh": ("s",), "s": ("sh",),
                     "n": ("l",), "l": ("n", "r"), "r": ("l",), "f": ("h",), "h": ("f",)}
CONFUSED_FINALS = {"ang": "an", "an": "ang", "eng": "en", "en": "eng", "ing": "in", "in": "ing"}


def corrections(vocabulary: Vocabulary, typed: str, limit: int = MAX_CORRECTIONS) -> list[str]:
    """Up to `limit` words `typed` most likely meant, best first; [] for a word the index knows,
    or one with nothing near it."""
    text = fold(simplify(typed.strip()))
    if len(text) < MIN_CHARS or text in vocabulary.known or not any(is_cjk(ch) for ch in text):
        return []
    costs: dict[str, float] = {}
    for word, cost in _whole(vocabulary, text):
        costs[word] = min(cost, costs.get(word, cost))
    if not costs:
        for word, cost in _in_part(vocabulary, text):
            costs[word] = min(cost, costs.get(word, cost))
    return sorted(costs, key=lambda word: (costs[word], -vocabulary.known.get(word, 0), word))[:limit]


def _whole(vocabulary: Vocabulary, text: str) -> Iterator[tuple[str, float]]:
    """Words near all of `text`, with their cost."""
    for number in vocabulary.spelled(full_pinyin(text)):  # several characters, all sounding the same
        word = vocabulary.words[number]
        yield word, SAME_SOUND + CHANGED_CHAR * _changed(word, text)
    sounds = _sounds(vocabulary)
    for at, char in enumerate(text):  # one character for another of the same or a confused sound
        readings = _readings(char)
        for base, spoken in ((SAME_SOUND, readings), (CONFUSED_SOUND, _confused(readings) - readings)):
            for sound in spoken:
                for other in sounds.get(sound, ()):
                    word = text[:at] + other + text[at + 1:]
                    if other != char and word in vocabulary.known:
                        yield word, base + CHANGED_CHAR
    if len(text) >= MIN_EDIT_CHARS:
        for word in _edits(vocabulary, text):
            yield word, EDITED + CHANGED_CHAR + (DROPPED_CHAR if len(word) < len(text) else 0)


def _in_part(vocabulary: Vocabulary, text: str) -> Iterator[tuple[str, float]]:
    """`text` with one run of its jieba words corrected (the run itself no word)."""
    pieces = list(segmenter().cut(text))
    for start in range(len(pieces)):
        for end in range(start + 1, min(start + MAX_PART_WORDS, len(pieces)) + 1):
            run = "".join(pieces[start:end])
            if run == text or len(run) < MIN_CHARS or run in vocabulary.known:
                continue
            before, after = "".join(pieces[:start]), "".join(pieces[end:])
            for word, cost in _whole(vocabulary, run):
                yield before + word + after, cost + PART_OF_WORD


def _edits(vocabulary: Vocabulary, text: str) -> Iterator[str]:
    """Known words one character away from `text`: one too many or two swapped; and among the
    suggestions' words (found by what comes before the slip), one missing or one other."""
    for at in range(len(text)):
        dropped = text[:at] + text[at + 1:]
        if dropped in vocabulary.known:
            yield dropped
        if at + 1 < len(text):
            swapped = text[:at] + text[at + 1] + text[at] + text[at + 2:]
            if swapped in vocabulary.known:
                yield swapped
    for at in range(1, len(text)):
        low, high = vocabulary.key_range(text[:at])
        for row in range(low, high):
            word = vocabulary.keys[row]
            if vocabulary.by_pinyin[row] or word == text:
                continue
            if len(word) == len(text) + 1 and word[at + 1:] == text[at:]:  # one missing at `at`
                yield word
            elif len(word) == len(text) and word[at + 1:] == text[at + 1:]:  # one other at `at`
                yield word


def _changed(word: str, text: str) -> int:
    return sum(a != b for a, b in zip(word, text)) + abs(len(word) - len(text))


@functools.cache
def _readings(char: str) -> frozenset[str]:
    """The toneless readings of a character (银: yin; 行: xing, hang, heng)."""
    from pypinyin import Style, pinyin  # as in search.suggest: loaded when a correction is first looked for

    return frozenset(pinyin(char, style=Style.NORMAL, heteronym=True)[0]) if is_cjk(char) else frozenset()


def _confused(readings: frozenset[str]) -> set[str]:
    """The readings with one sound swapped for one often confused with it."""
    variants = set()
    for reading in readings:
        initial = reading[:2] if reading[:2] in CONFUSED_INITIALS else reading[:1]
        variants |= {other + reading[len(initial):] for other in CONFUSED_INITIALS.get(initial, ())}
        variants |= {reading[:-len(final)] + other for final, other in CONFUSED_FINALS.items()
                     if reading.endswith(final) and len(reading) > len(final)}
    return variants


@functools.lru_cache(maxsize=1)  # the current generation's
def _sounds(vocabulary: Vocabulary) -> dict[str, tuple[str, ...]]:
    """Each reading -> the characters of the known words that have it."""
    chars = {char for word in vocabulary.known for char in word if is_cjk(char)}
    sounds: defaultdict[str, list[str]] = defaultdict(list)
    for char in sorted(chars):
        for reading in _readings(char):
            sounds[reading].append(char)
    return {reading: tuple(found) for reading, found in sounds.items()}
