"""Snippets and highlighting of literal matches, as escaped HTML with <mark>.

Matches are found the way the index matches: literally, as in folded text (case
and full/half width), white space between characters ignored; the regex accepts
every form of a character that folds to the query's, so it runs on the text as
written and the marks land on it. Whoosh's highlighter works
on analyzer tokens, which would mark jieba words or every bigram; we mark the
literal strings the query matched instead.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import re
from html import escape

from finsearch.analysis import fold, unit_pattern, unit_runs

SNIPPET_CHARS = 120  # one passage
CONTEXT_CHARS = 24  # shown before the first match of a passage
MAX_PASSAGES = 2
# Matches examined in one text: a snippet needs a few, a page marks a bounded text;
# beyond these, a text is shown unmarked (and a snippet chosen among these).
MAX_MATCHES = 1000
_SENTENCE_START = re.compile(r"(?<=[。！？；!?;\n])")


@functools.lru_cache(maxsize=256)
def _matcher(terms: tuple[str, ...]) -> re.Pattern | None:
    """One regex for the literal strings of `terms`, matching the text as written: what matches
    is what the folded pattern matches in the folded text, so the text need not be folded (a
    long post is searched at regex speed, and only as far as its first MAX_MATCHES matches)."""
    patterns = []
    for term in terms:
        for run in unit_runs(fold(term)):
            # A number or Latin word matches whole units only, as the index does.
            patterns.append((len(run), unit_pattern([unit for unit, _, _ in run])))
    if not patterns:
        return None
    patterns.sort(key=lambda item: -item[0])  # longest first
    return re.compile("|".join(f"(?:{p})" for _, p in patterns))


def match_spans(text: str, terms: tuple[str, ...], limit: int = MAX_MATCHES) -> list[tuple[int, int]]:
    """The first `limit` matches of `terms` in `text`, as (start, end), in order, not overlapping."""
    matcher = _matcher(tuple(terms))
    if matcher is None or not text:
        return []
    spans = (m.span() for m in matcher.finditer(text) if m.end() > m.start())
    return list(itertools.islice(spans, limit))


def highlight_html(text: str, terms: tuple[str, ...]) -> str:
    """All of `text`, escaped, its first MAX_MATCHES matches in <mark>."""
    return _marked(text, 0, len(text), _Spans(match_spans(text, terms)))


def snippet_html(text: str, terms: tuple[str, ...]) -> str:
    """The best passage(s) of `text` around its first MAX_MATCHES matches, escaped, matches in <mark>.

    Linear in the text up to those matches: every window is found by bisection.
    """
    spans = _Spans(match_spans(text, terms))
    if not spans.all:
        end = min(len(text), SNIPPET_CHARS)
        return escape(_flat(text[:end])) + ("…" if end < len(text) else "")
    texts = [fold(text[a:b]) for a, b in spans.all]  # what each match says, to count distinct ones
    passages: list[tuple[int, int]] = []
    seen_texts: set[str] = set()
    candidates = sorted(
        ((_passage_score(spans, texts, s), s) for s in _passage_starts(text, spans)),
        key=lambda item: (-item[0][0], -item[0][1], item[1]))
    for _, start in candidates:
        end = spans.end_outside(min(len(text), start + SNIPPET_CHARS))  # never cut a match in two
        if any(start < b and a < end for a, b in passages):
            continue
        inside = {texts[i] for i in spans.inside(start, end)}
        if passages and inside <= seen_texts:
            continue  # a second passage must show something new
        passages.append((start, end))
        seen_texts |= inside
        if len(passages) == MAX_PASSAGES:
            break
    passages.sort()
    parts = []
    for start, end in passages:
        parts.append(("…" if start > 0 else "") + _marked(text, start, end, spans)
                     + ("…" if end < len(text) else ""))
    return " ".join(parts)


class _Spans:
    """Matches in order, not overlapping (so their starts and ends are both sorted)."""

    def __init__(self, spans: list[tuple[int, int]]):
        self.all = spans
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]

    def inside(self, start: int, end: int) -> range:
        """Indexes of the matches within [start, end)."""
        return range(bisect.bisect_left(self.starts, start), bisect.bisect_right(self.ends, end))

    def touching(self, start: int, end: int) -> range:
        """Indexes of the matches that overlap [start, end)."""
        return range(bisect.bisect_right(self.ends, start), bisect.bisect_left(self.starts, end))

    def end_outside(self, end: int) -> int:
        """`end`, moved past the match it would cut."""
        i = bisect.bisect_left(self.starts, end) - 1
        return max(end, self.ends[i]) if i >= 0 else end


def _passage_starts(text: str, spans: _Spans):
    """A passage starts a little before a match, at a sentence start if one is near."""
    for a in spans.starts:
        start = max(0, a - CONTEXT_CHARS)
        boundary = _SENTENCE_START.search(text, start, a)
        yield boundary.start() if boundary else start


def _passage_score(spans: _Spans, texts: list[str], start: int) -> tuple[int, int]:
    inside = spans.inside(start, start + SNIPPET_CHARS)
    return len({texts[i] for i in inside}), len(inside)


def _marked(text: str, start: int, end: int, spans: _Spans) -> str:
    out = []
    pos = start
    for i in spans.touching(start, end):
        a, b = spans.all[i]
        if b <= pos:
            continue
        a, b = max(a, pos), min(b, end)
        out.append(escape(_flat(text[pos:a])))
        out.append(f"<mark>{escape(_flat(text[a:b]))}</mark>")
        pos = b
    out.append(escape(_flat(text[pos:end])))
    return "".join(out)


def _flat(text: str) -> str:
    return text.replace("\n", " ")
