"""Whoosh tokenizers: jieba words (for ranking) and unit bigrams (for literal matching).

Both fold full-width forms and case first (one character to one character), so
the offsets they report are offsets in the stored text.

Each tokenizer is one generator of plain (text, position, start, end) tuples,
read two ways: as Whoosh tokens (queries, Whoosh's own indexing path) and as a
term -> positions table (`term_positions`, what the bulk indexer writes), which
skips the per-token object Whoosh's chain needs.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from whoosh.analysis import Token, Tokenizer

from finsearch.analysis.normalize import fold, unit_runs
from finsearch.analysis.segmenter import segmenter

TermTuple = tuple[str, int, int, int]  # text, position, start char, end char


def has_word_char(text: str) -> bool:
    return text.isalnum() or any(ch.isalnum() for ch in text)


class _TupleTokenizer(Tokenizer):
    def tuples(self, folded: str) -> Iterator[TermTuple]:
        raise NotImplementedError

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, pos, start, end in self.tuples(fold(value)):
            token.text = token.original = text
            token.boost = 1.0
            token.stopped = False
            token.pos, token.startchar, token.endchar = start_pos + pos, start_char + start, start_char + end
            yield token

    def term_positions(self, value: str) -> dict[str, list[int]]:
        """Every term of `value` with its positions, as Whoosh's formats would count them."""
        table: defaultdict[str, list[int]] = defaultdict(list)
        for text, pos, _, _ in self.tuples(fold(value)):
            table[text].append(pos)
        return table


class JiebaTokenizer(_TupleTokenizer):
    """jieba's search mode: every word, plus the dictionary words inside long words.

    Unlike jieba's own ChineseTokenizer, positions count words (the words inside
    a word share its position), and single Latin letters are kept (上行e链).
    """

    def tuples(self, folded: str) -> Iterator[TermTuple]:
        seg = segmenter()
        freq = seg.FREQ
        start = pos = 0
        for word in seg.cut(folded):
            end = start + len(word)
            if has_word_char(word):
                # For a word longer than 2 (3) characters, its 2-grams (3-grams)
                # that are dictionary words come first, as in jieba's search mode.
                for n in (2, 3):
                    for i in range(len(word) - n + 1 if len(word) > n else 0):
                        if freq.get(word[i:i + n]):
                            yield word[i:i + n], pos, start + i, start + i + n
                yield word, pos, start, end
                pos += 1
            start = end


def gram_terms(run: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The terms of one run of adjacent units, as (text, start, end).

    Adjacent units pair up into bigrams; a run of one unit is a term by itself.
    A literal string matches where its bigrams stand at consecutive positions.
    """
    if len(run) == 1:
        return list(run)
    return [(a + b, sa, eb) for (a, sa, _), (b, _, eb) in zip(run, run[1:])]


class GramTokenizer(_TupleTokenizer):
    """Bigrams of adjacent units, plus every Latin/number unit on its own.

    A run of units gets consecutive positions; runs are kept a position apart so
    no phrase spans two runs.
    """

    def tuples(self, folded: str) -> Iterator[TermTuple]:
        pos = 0
        for run in unit_runs(folded):
            for index, (unit, start, end) in enumerate(run):
                # Latin/number units are searched as single terms (ETF, 600519);
                # a unit is either one CJK character or ASCII.
                if unit.isascii():
                    yield unit, pos + index, start, end
                if index + 1 < len(run):
                    yield unit + run[index + 1][0], pos + index, start, run[index + 1][2]
            pos += len(run) + 1
