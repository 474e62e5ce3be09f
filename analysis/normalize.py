"""Character normalisation shared by indexing, querying and highlighting.

`fold` maps one character to one character, so offsets in folded text are
offsets in the original: the highlighter finds matches in folded text and
marks the original.
"""
from __future__ import annotations

import functools
import re

# Full-width ASCII (Ａ-Ｚ, ０-９, ％ ...) and the ideographic space fold to their
# half-width forms; letters fold to lower case.
_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_HALF[0x3000] = 0x20
_HALF_TABLE = str.maketrans(_HALF)
_FOLD = dict(_HALF)
for _cp in range(ord("A"), ord("Z") + 1):
    _FOLD[_cp] = _cp + 32
for _cp in range(0xFF21, 0xFF3B):  # Ａ-Ｚ
    _FOLD[_cp] = _cp - 0xFEE0 + 32
_FOLD_TABLE = str.maketrans(_FOLD)

# One "unit" of literal matching, what a reader sees as one piece: a CJK
# character, a number (decimals whole: 3.5), a Latin word, or a percent sign.
# A change between letters and digits is a boundary (沪深300ETF is 沪 深 300 etf,
# PMI49.5 is pmi 49.5, 11% is 11 %), but a number is never cut inside (13 is not
# a unit of 113 or 13.5) and a word never (etf is not a unit of etfs).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
NUMBER = r"[0-9]+(?:\.[0-9]+)*"
UNIT = re.compile(rf"[{CJK}]|{NUMBER}|[a-z]+|%")
# What may not stand right before / after a unit of each kind for the unit to be
# one of the text's own units (the highlighter finds matches with these).
_NOT_BEFORE = {"digit": r"(?<![0-9])(?<![0-9]\.)", "latin": r"(?<![a-z])"}
_NOT_AFTER = {"digit": r"(?![0-9])(?!\.[0-9])", "latin": r"(?![a-z])"}
# Units are adjacent when nothing but white space separates them; punctuation
# ends a run, so 金融、科技 is not the term 金融科技.
_SPACE = re.compile(r"\s*")


def halfwidth(text: str) -> str:
    """Full-width ASCII forms to half-width, same length as `text`."""
    return text.translate(_HALF_TABLE)


def fold(text: str) -> str:
    """Half-width, lower-case form of `text`, same length as `text`."""
    return text.translate(_FOLD_TABLE)


@functools.cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def simplify(text: str) -> str:
    """Traditional Chinese to simplified (queries only: the archive is simplified)."""
    return _t2s().convert(text)


def unit_runs(folded: str) -> list[list[tuple[str, int, int]]]:
    """Split folded text into runs of adjacent units as (unit, start, end).

    A run is what a literal term can match inside: `上行e链，5G` gives the runs
    [上, 行, e, 链] and [5g].
    """
    runs: list[list[tuple[str, int, int]]] = []
    run: list[tuple[str, int, int]] = []
    last_end = -1
    for m in UNIT.finditer(folded):
        start = m.start()
        if run and not (start == last_end or _SPACE.fullmatch(folded, last_end, start)):
            runs.append(run)
            run = []
        run.append((m.group(), start, m.end()))
        last_end = m.end()
    if run:
        runs.append(run)
    return runs


def is_cjk(unit: str) -> bool:
    return len(unit) == 1 and not unit.isascii()


def unit_pattern(units: list[str]) -> str:
    """A regex matching the run `units` in folded text where they are the text's own
    units (white space between them allowed), not part of a longer number or word."""
    pattern = r"\s*".join(re.escape(unit) for unit in units)
    return _NOT_BEFORE.get(_kind(units[0]), "") + pattern + _NOT_AFTER.get(_kind(units[-1]), "")


def _kind(unit: str) -> str:
    if unit[0].isdigit():
        return "digit"
    return "latin" if unit[0].isascii() and unit[0].isalpha() else "other"
