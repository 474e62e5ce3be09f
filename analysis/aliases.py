"""Aliases: other names of what a query word names, searched along with it.

Three sources:
- `aliases.txt` (shipped with the package, extended by users): groups of names;
- `stock_codes.tsv` (shipped): A-share codes and names, confirmed in the real wire archive
  (benchmarks/stock_codes.py), so a code finds its company in any archive;
- stock names and their codes, learned from the archive where a post writes
  `贵州茅台（600519）`, `贵州茅台(600519.SH)` or `贵州茅台600519.SH` (`stock_mentions`
  finds them at index time; the indexer stores them with the index).
"""
from __future__ import annotations

import functools
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

from finsearch.analysis.normalize import CJK, fold, simplify
from finsearch.analysis.segmenter import finance_words, segmenter, words_tagged

log = logging.getLogger(__name__)

ALIAS_FILE = resources.files("finsearch.analysis") / "aliases.txt"
STOCK_TABLE = resources.files("finsearch.analysis") / "stock_codes.tsv"
ONE_WAY = ">"  # in aliases.txt: short forms before it, full names after it

# A name right before a code: (600519), （600519）, (600519.SH) or 600519.SH. Matched in
# folded text (full-width brackets fold to ASCII, letters to lower case).
_MENTION = re.compile(rf"(?P<name>[{CJK}a-z*]{{2,16}})(?:\((?P<code>\d{{6}})(?:\.(?:sh|sz|bj))?\)"
                      rf"|(?P<bare>\d{{6}})\.(?:sh|sz|bj)(?![a-z]))")
# What stands before a name in a sentence, not in it: 涨停的比亚迪, 上市公司天阳科技.
_CONTEXT = re.compile("^.*(?:的|是|为|对|向|在|与|和|及|或|称|据|即|了|至|被|将|从|由|等|如|其|家|只|"
                      "公司|旗下|龙头|包括|其中|涨停|跌停|上涨|下跌|大涨|大跌|成分股|概念股|个股)")
NAME_CHARS = 4  # most A-share names; a longer run without context words is cut to this by words
MIN_CHARS, MIN_CJK = 3, 2  # a shorter "name" is a word cut off its context (科技, 通信)
# A name that is an everyday word of jieba's dictionary (太阳能, 中关村) would make its code find
# every post using the word; the finance dictionary's company names (比亚迪) are meant as names.
COMMON_WORD_FREQ = 100
# A name counts as a stock's when most posts naming it with a code give that code (not a
# generic word placed before several codes, 成份指数(000688) and 成份指数(000300)).
DOMINANT_SHARE = 0.8
# jieba's parts of speech of everyday words (nouns, verbs, adjectives, idioms): a name that is
# one (新能源(001248), 股票代码(301328)) names a topic in most posts that use it, not a company.
# Proper names (nr ns nt nz), short forms (j), words jieba does not know and the names of the
# shipped stock table (jieba tags some of them n: 分众传媒, 水井坊) stay names.
EVERYDAY_TAGS = ("n", "v", "vn", "a", "an", "ad", "d", "l", "i")


def stock_mentions(text: str) -> set[tuple[str, str]]:
    """The (name, code) pairs `text` writes as a name followed by its stock code."""
    folded = fold(text)
    pairs = set()
    for m in _MENTION.finditer(folded):
        code = m.group("code") or m.group("bare")
        name = _name(text[m.start("name"):m.end("name")])
        if name:
            pairs.add((name, code))
    return pairs


def _name(run: str) -> str:
    """The stock name at the end of `run` (the characters before a code), or ''."""
    name = _CONTEXT.sub("", run)
    if len(name) > NAME_CHARS and not re.search("[a-zA-Z]", name):
        # No context word to cut at: keep the last words that make a name's length.
        kept = ""
        for word in reversed(list(segmenter().cut(name))):
            if len(kept) >= NAME_CHARS - 1:
                break
            kept = word + kept
        name = kept
    cjk = sum(1 for ch in name if re.match(f"[{CJK}]", ch))
    if len(name) < MIN_CHARS or cjk < MIN_CJK or name.endswith("指数"):  # an index's name is not a stock's
        return ""
    if segmenter().FREQ.get(name, 0) >= COMMON_WORD_FREQ and name not in finance_words():
        return ""
    return name


def learned_pairs(mentions: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (name, code) pairs to trust, from every post's mentions (one per post)."""
    mentions = list(mentions)
    by_name: defaultdict[str, Counter] = defaultdict(Counter)
    for name, code in mentions:
        by_name[fold(name)][code] += 1
    names = {fold(name): name for name, _ in mentions}
    pairs = []
    for key, codes in by_name.items():
        code, count = codes.most_common(1)[0]
        if count >= DOMINANT_SHARE * sum(codes.values()) and not _everyday_word(names[key]):
            pairs.append((names[key], code))
    return sorted(pairs)


def _everyday_word(name: str) -> bool:
    return name in words_tagged(*EVERYDAY_TAGS) and name not in finance_words() and name not in _shipped_names()


@functools.cache
def _shipped_names() -> frozenset[str]:
    return frozenset(name for name, _ in shipped_stocks())


@functools.lru_cache(maxsize=1 << 16)  # a table asks for each name's key several times, each generation again
def _key(term: str) -> str:
    return "".join(fold(simplify(term)).split())


@dataclass(eq=False)  # compared and hashed by identity: one table per index version
class AliasTable:
    """Each name's other names, in the order to show them."""

    others: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key (folded) -> other names

    def alternatives(self, term: str) -> tuple[str, ...]:
        return self.others.get(_key(term), ())

    def __len__(self) -> int:
        return len(self.others)

    @classmethod
    def build(cls, groups: Iterable[tuple[tuple[str, ...], tuple[str, ...]]],
              stock_pairs: Iterable[tuple[str, str]] = ()) -> AliasTable:
        """From (short forms, full names) groups and (name, code) pairs."""
        others: defaultdict[str, dict[str, None]] = defaultdict(dict)

        def add(term: str, names: Iterable[str]) -> None:
            for name in names:
                if _key(name) != _key(term):
                    others[_key(term)][name] = None
        for short, full in groups:
            for name in short + full:
                add(name, full)  # a short form is searched only when typed
        for name, code in stock_pairs:
            add(name, [code])
            add(code, [name])
        return cls({key: tuple(names) for key, names in others.items()})


def read_groups(text: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The groups of an aliases.txt: (short forms, full names) per line."""
    groups = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        short, _, full = line.rpartition(ONE_WAY) if ONE_WAY in line else ("", "", line)
        group = (tuple(short.split()), tuple(full.split()))
        if len(group[0]) + len(group[1]) < 2 or not group[1]:
            log.warning("aliases.txt line %d: a group needs two names, and full names after %r: %r",
                        number, ONE_WAY, line)
            continue
        groups.append(group)
    return groups


@functools.cache
def shipped_groups() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """The groups of the aliases.txt installed with the package."""
    return tuple(read_groups(ALIAS_FILE.read_text("utf-8")))


@functools.cache
def shipped_stocks() -> tuple[tuple[str, str], ...]:
    """The (name, code) pairs of the stock_codes.tsv installed with the package."""
    pairs = []
    for line in STOCK_TABLE.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, name = line.split("\t")[:2]
            pairs.append((name, code))
    return tuple(pairs)
