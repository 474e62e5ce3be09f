"""Whoosh tokenizers: jieba words (for ranking) and unit bigrams (for literal matching).

Both fold full-width forms and case first (one character to one character), so
the offsets they report are offsets in the stored text.

Each tokenizer analyses a text into one `Terms` (parallel lists of its tokens),
read two ways: as Whoosh tokens (queries, Whoosh's own indexing path) and as
lists (what the bulk indexer writes), which skips the per-token object
Whoosh's chain needs.
"""
from __future__ import annotations

from typing import NamedTuple

from whoosh.analysis import Token, Tokenizer

from finsearch.analysis import native
from finsearch.analysis.normalize import fold, unit_spans
from finsearch.analysis.segmenter import segmenter


class Terms(NamedTuple):
    """A text's tokens: text, position (in words or units), start and end character.

    A stable sort by position gives the token order (the bulk indexer needs no order).
    """

    texts: list[str]
    positions: list[int]
    starts: list[int]
    ends: list[int]


def has_word_char(text: str) -> bool:
    return text.isalnum() or any(ch.isalnum() for ch in text)


class _ListTokenizer(Tokenizer):
    def analyse(self, folded: str) -> Terms:
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        texts, poses, starts, ends = self.analyse(fold(value))
        for i in sorted(range(len(texts)), key=poses.__getitem__):
            text, pos, start, end = texts[i], poses[i], starts[i], ends[i]
            token.text = token.original = text
            token.boost = 1.0
            token.stopped = False
            token.pos, token.startchar, token.endchar = start_pos + pos, start_char + start, start_char + end
            yield token


class JiebaTokenizer(_ListTokenizer):
    """jieba's search mode: every word, plus the dictionary words inside long words.

    Unlike jieba's own ChineseTokenizer, positions count words (the words inside
    a word share its position), and single Latin letters are kept (上行e链).
    """

    def analyse(self, folded: str) -> Terms:
        seg = segmenter()
        freq = seg.FREQ
        compiled = native.compiled()  # a build's, checked against the loop below
        if compiled is not None:
            return Terms(*compiled.word_terms(list(seg.cut(folded)), freq))
        terms = Terms([], [], [], [])
        texts, positions, starts, ends = terms
        start = pos = 0
        for word in seg.cut(folded):
            size = len(word)
            if has_word_char(word):
                if size > 2:
                    # The 2-grams (and, past 3 characters, 3-grams) inside a long word
                    # that are dictionary words come first, as in jieba's search mode.
                    for n in (2, 3) if size > 3 else (2,):
                        for i in range(size - n + 1):
                            if freq.get(word[i:i + n]):
                                texts.append(word[i:i + n])
                                positions.append(pos)
                                starts.append(start + i)
                                ends.append(start + i + n)
                texts.append(word)
                positions.append(pos)
                starts.append(start)
                ends.append(start + size)
                pos += 1
            start += size
        return terms


def gram_terms(run: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The terms of one run of adjacent units, as (text, start, end).

    Adjacent units pair up into bigrams; a run of one unit is a term by itself.
    A literal string matches where its bigrams stand at consecutive positions.
    """
    if len(run) == 1:
        return list(run)
    return [(a + b, sa, eb) for (a, sa, _), (b, _, eb) in zip(run, run[1:])]


class GramTokenizer(_ListTokenizer):
    """Bigrams of adjacent units, plus every Latin/number unit on its own.

    A run of units gets consecutive positions; runs are kept a position apart so
    no phrase spans two runs.
    """

    def analyse(self, folded: str) -> Terms:
        compiled = native.compiled()  # a build's, checked against the loop below
        if compiled is not None:
            return Terms(*compiled.gram_terms(folded))
        terms = Terms([], [], [], [])
        texts, positions, starts, ends = terms
        pos = 0
        for units, unit_starts, unit_ends, singles in unit_spans(folded):
            count = len(units)
            # Latin/number units are searched as single terms too (ETF, 600519)
            if singles:
                texts += [units[index] for index in singles]
                positions += [pos + index for index in singles]
                starts += [unit_starts[index] for index in singles]
                ends += [unit_ends[index] for index in singles]
            texts += [a + b for a, b in zip(units, units[1:])]
            positions += range(pos, pos + count - 1)
            starts += unit_starts[:-1]
            ends += unit_ends[1:]
            pos += count + 1
        return terms
