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

    Unlike jieba's own ChineseTokenizer, positions count words (the words inside
    a word share its position), and single Latin letters are kept (上行e链).
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        pos = start_pos
        for word, start, end, inner in _search_mode(fold(value)):
            if not has_word_char(word):
                continue
            yield _filled(token, word, pos, start_char + start, start_char + end)
            if not inner:
                pos += 1


def _search_mode(text: str):
    """(word, start, end, inside_another) as jieba.tokenize(mode="search") finds them:
    for a word longer than 2 (3) characters, its 2-grams (3-grams) that are
    dictionary words come first, then the word."""
    seg = segmenter()
    start = 0
    for word in seg.cut(text):
        for n in (2, 3):
            if len(word) > n:
                for i in range(len(word) - n + 1):
                    if seg.FREQ.get(word[i:i + n]):
                        yield word[i:i + n], start + i, start + i + n, True
        yield word, start, start + len(word), False
        start += len(word)


def _filled(token: Token, text: str, pos: int, startchar: int, endchar: int) -> Token:
    """The one reused Token, set for the next term (Whoosh ignores what it didn't ask for)."""
    token.text = token.original = text
    token.boost = 1.0
    token.stopped = False
    token.pos, token.startchar, token.endchar = pos, startchar, endchar
    return token


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
                    yield _filled(token, text, pos + index, start_char + s, start_char + e)
            pos += len(run) + 1
