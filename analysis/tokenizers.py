"""Whoosh tokenizers: jieba words (for ranking) and unit bigrams (for literal matching).

Both fold full-width forms and case first (one character to one character), so
the offsets they report are offsets in the stored text.
"""
from __future__ import annotations

from whoosh.analysis import Token, Tokenizer

from analysis.normalize import fold, is_cjk, unit_runs
from analysis.segmenter import segmenter


def has_word_char(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


class JiebaTokenizer(Tokenizer):
    """jieba's search mode: every word, plus the dictionary words inside long words.

    Unlike jieba's own ChineseTokenizer, positions count words (the sub-words of a
    word share its position), and single Latin letters are kept (上行e链).
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        last_start = -1
        for word, start, end in segmenter().tokenize(fold(value), mode="search"):
            if not has_word_char(word):
                continue
            token.text = word
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = word
            if positions:
                # jieba yields a long word's sub-words first, all at or after its start.
                if start > last_start:
                    pos += 1
                    last_start = start
                token.pos = pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def gram_terms(run: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The terms of one run of adjacent units, as (text, start, end).

    Adjacent units pair up into bigrams; a run of one unit is a term by itself.
    A literal string matches where its bigrams stand at consecutive positions.
    """
    if len(run) == 1:
        return list(run)
    return [(a + b, sa, eb) for (a, sa, _), (b, _, eb) in zip(run, run[1:])]


class GramTokenizer(Tokenizer):
    """Bigrams of adjacent units, plus every Latin/number unit on its own.

    A run of units gets consecutive positions; runs are kept a position apart so
    no phrase spans two runs.
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for run in unit_runs(fold(value)):
            terms = gram_terms(run) if len(run) > 1 else []
            # Latin/number units are searched as single terms (ETF, 600519).
            for index, (unit, start, end) in enumerate(run):
                emitted = [(unit, start, end)] if not is_cjk(unit) else []
                if index < len(terms):
                    emitted.append(terms[index])
                for text, s, e in emitted:
                    token.text = text
                    token.boost = 1.0
                    token.stopped = False
                    if keeporiginal:
                        token.original = text
                    if positions:
                        token.pos = pos + index
                    if chars:
                        token.startchar = start_char + s
                        token.endchar = start_char + e
                    yield token
            pos += len(run) + 1
