"""Character normalisation shared by indexing, querying and highlighting.

`fold` maps one character to one character, so offsets in folded text are
offsets in the original; `unit_pattern` matches a folded term in the text as
written (every form of each character), so the highlighter marks the original.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

import numpy as np

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
# The same mapping over the Basic Multilingual Plane's code points, for long texts: str.translate
# looks each character up in a dict, which for a post's body costs far more than one numpy gather.
_FOLD_CODES = np.arange(0x10000, dtype=np.uint32)
_FOLD_CODES[list(_FOLD)] = list(_FOLD.values())
FOLD_BY_CODES = 128  # characters from which the gather is the faster way

# One "unit" of literal matching, what a reader sees as one piece: a CJK
# character, a number (decimals whole: 3.5), a Latin word, or a percent sign.
# A change between letters and digits is a boundary (沪深300ETF is 沪 深 300 etf,
# PMI49.5 is pmi 49.5, 11% is 11 %), but a number is never cut inside (13 is not
# a unit of 113 or 13.5) and a word never (etf is not a unit of etfs).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
NUMBER = r"[0-9]+(?:\.[0-9]+)*"
UNIT = re.compile(rf"[{CJK}]|{NUMBER}|[a-z]+|%")
# Units are adjacent when nothing but white space separates them; punctuation
# ends a run, so 金融、科技 is not the term 金融科技.
_SPACE = re.compile(r"\s*")
_RUN = re.compile(rf"(?:{UNIT.pattern})(?:{_SPACE.pattern}(?:{UNIT.pattern}))*")
_CJK_ONLY = re.compile(rf"[{CJK}]+")


def halfwidth(text: str) -> str:
    """Full-width ASCII forms to half-width, same length as `text`."""
    return text.translate(_HALF_TABLE)


@functools.lru_cache(maxsize=8)  # indexing folds a post's title and body several times (fields, signature)
def fold(text: str) -> str:
    """Half-width, lower-case form of `text`, same length as `text`."""
    if len(text) < FOLD_BY_CODES:
        return text.translate(_FOLD_TABLE)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    folded = _FOLD_CODES[np.minimum(codes, 0xFFFF)]
    beyond = codes > 0xFFFF  # no fold maps them: kept as they are
    if beyond.any():
        folded[beyond] = codes[beyond]
    return folded.tobytes().decode("utf-32-le", "surrogatepass")


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
    return [list(zip(units, starts, ends, strict=True)) for units, starts, ends, _ in unit_spans(folded)]


# a run's units, their starts, their ends, and which of them are Latin/number units (by index)
Run = tuple[list[str], Sequence[int], Sequence[int], list[int]]


def unit_spans(folded: str) -> Iterator[Run]:
    """unit_runs as parallel lists (the indexer's form: no tuple per unit)."""
    for run in _RUN.finditer(folded):
        text, start = run.group(), run.start()
        if _CJK_ONLY.fullmatch(text):  # most runs: a unit a character, none Latin
            yield list(text), range(start, start + len(text)), range(start + 1, start + len(text) + 1), []
        else:
            found = list(UNIT.finditer(folded, start, run.end()))
            units = [m.group() for m in found]
            # a unit is either one CJK character or ASCII
            latin = [index for index, unit in enumerate(units) if unit.isascii()]
            yield units, [m.start() for m in found], [m.end() for m in found], latin


def is_cjk(unit: str) -> bool:
    return len(unit) == 1 and not unit.isascii()


def unit_pattern(units: list[str]) -> str:
    """A regex matching the run of folded `units` in text as written, where they are the
    text's own units (white space between them allowed), not part of a longer number or
    word. Each character matches in any form that folds to it, so the text need not be
    folded first (a long post is searched at regex speed)."""
    pattern = r"\s*".join(_written(unit) for unit in units)
    return _not_before(_kind(units[0])) + pattern + _not_after(_kind(units[-1]))


@functools.cache
def _folds_to() -> dict[str, str]:
    """Every character that folds to another, listed under what it folds to (a -> aAａＡ)."""
    chars = "".join(map(chr, range(0x10000)))
    table: dict[str, str] = {}
    for raw, folded in zip(chars, fold(chars), strict=True):
        if raw != folded:
            table[folded] = table.get(folded, folded) + raw
    return table


def _any_form(folded_chars: str) -> str:
    """A regex class of every character that folds to one of `folded_chars`."""
    table = _folds_to()
    return "[" + "".join(re.escape(form) for char in folded_chars for form in table.get(char, char)) + "]"


def _written(unit: str) -> str:
    """A folded unit as a regex on text as written."""
    return "".join(_any_form(char) if char in _folds_to() else re.escape(char) for char in unit)


# What may not stand right before / after a unit of each kind for it to be one of the
# text's own units: a number is not cut out of a longer one (13 of 113 or 13.5), a word
# not out of a longer word (etf of etfs).
@functools.cache
def _not_before(kind: str) -> str:
    digit = _any_form("0123456789")
    return {"digit": rf"(?<!{digit})(?<!{digit}{_any_form('.')})",
            "latin": rf"(?<!{_any_form('abcdefghijklmnopqrstuvwxyz')})"}.get(kind, "")


@functools.cache
def _not_after(kind: str) -> str:
    digit = _any_form("0123456789")
    return {"digit": rf"(?!{digit})(?!{_any_form('.')}{digit})",
            "latin": rf"(?!{_any_form('abcdefghijklmnopqrstuvwxyz')})"}.get(kind, "")


def _kind(unit: str) -> str:
    if unit[0].isdigit():
        return "digit"
    return "latin" if unit[0].isascii() and unit[0].isalpha() else "other"
