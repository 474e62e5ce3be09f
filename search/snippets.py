"""Snippets and highlighting of literal matches, as escaped HTML with <mark>.

Matches are found the way the index matches: literally, in folded text (case
and full/half width), white space between characters ignored. Folding keeps
offsets, so the marks land on the original text. Whoosh's highlighter works
on analyzer tokens, which would mark jieba words or every bigram; we mark the
literal strings the query matched instead.
"""
from __future__ import annotations

import functools
import re
from html import escape

from finsearch.analysis import fold, unit_pattern, unit_runs

SNIPPET_CHARS = 120  # one passage
CONTEXT_CHARS = 24  # shown before the first match of a passage
MAX_PASSAGES = 2
_SENTENCE_START = re.compile(r"(?<=[。！？；!?;\n])")


@functools.lru_cache(maxsize=256)
def _matcher(terms: tuple[str, ...]) -> re.Pattern | None:
    patterns = []
    for term in terms:
        for run in unit_runs(fold(term)):
            # A number or Latin word matches whole units only, as the index does.
            patterns.append((len(run), unit_pattern([unit for unit, _, _ in run])))
    if not patterns:
        return None
    patterns.sort(key=lambda item: -item[0])  # longest first
    return re.compile("|".join(f"(?:{p})" for _, p in patterns))


def match_spans(text: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    matcher = _matcher(tuple(terms))
    if matcher is None or not text:
        return []
    return [m.span() for m in matcher.finditer(fold(text)) if m.end() > m.start()]


def highlight_html(text: str, terms: tuple[str, ...]) -> str:
    """All of `text`, escaped, every match in <mark>."""
    return _marked(text, 0, len(text), match_spans(text, terms))


def snippet_html(text: str, terms: tuple[str, ...]) -> str:
    """The best passage(s) of `text` around the matches, escaped, matches in <mark>."""
    spans = match_spans(text, terms)
    if not spans:
        end = min(len(text), SNIPPET_CHARS)
        return escape(_flat(text[:end])) + ("…" if end < len(text) else "")
    folded = fold(text)
    passages: list[tuple[int, int]] = []
    seen_texts: set[str] = set()
    candidates = sorted(
        ((_passage_score(spans, folded, s), s) for s in _passage_starts(text, spans)),
        key=lambda item: (-item[0][0], -item[0][1], item[1]))
    for _, start in candidates:
        end = min(len(text), start + SNIPPET_CHARS)
        end = max([end] + [b for a, b in spans if a < end < b])  # never cut a match in two
        if any(start < b and a < end for a, b in passages):
            continue
        inside = {folded[a:b] for a, b in spans if start <= a and b <= end}
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


def _passage_starts(text: str, spans):
    """A passage starts a little before a match, at a sentence start if one is near."""
    for a, _ in spans:
        start = max(0, a - CONTEXT_CHARS)
        boundary = [m.start() for m in _SENTENCE_START.finditer(text, start, a)]
        yield boundary[0] if boundary else start


def _passage_score(spans, folded: str, start: int) -> tuple[int, int]:
    end = start + SNIPPET_CHARS
    inside = [folded[a:b] for a, b in spans if start <= a and b <= end]
    return len(set(inside)), len(inside)


def _marked(text: str, start: int, end: int, spans) -> str:
    out = []
    pos = start
    for a, b in spans:
        if b <= pos or a >= end:
            continue
        a, b = max(a, pos), min(b, end)
        out.append(escape(_flat(text[pos:a])))
        out.append(f"<mark>{escape(_flat(text[a:b]))}</mark>")
        pos = b
    out.append(escape(_flat(text[pos:end])))
    return "".join(out)


def _flat(text: str) -> str:
    return text.replace("\n", " ")
