"""Rebuilds analysis/stock_codes.tsv, the A-share codes and names shipped with finsearch, from the
real wire archive (../shared/corpus/wire-2026.jsonl.gz).

Every pair is read from the text as the indexer reads it (`贵州茅台（600519）`, by
analysis.aliases.stock_mentions) and checked against 东方财富's own `stocks` field, which tags an
item with the codes it concerns and their exchange (600519.SH):
- a pair the text writes in an item that `stocks` tags with the same code is kept; a code written
  with several names keeps the one most such items give (the longer on a tie: a shorter is more
  likely a name cut off its sentence);
- a code no item confirms so keeps the name the archive pairs it with (analysis.aliases.learned_pairs:
  the name gives this code in most of the items that write it) if `stocks` tags the code elsewhere in
  the archive on its own exchange: it is a listed A-share (the most written of several names, none
  when two are as likely).
A name of more than four Chinese characters besides its ST mark and share class (日下午特力A,
上交所近日就ST中路) is a sentence the reader did not cut, and is left out; so is a name no item
confirms that is part of another company's name (新能源, cut from 立新能源 or 国新能源).

    .venv/bin/python -m benchmarks.stock_codes [--wire FILE] [--output analysis/stock_codes.tsv]
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from finsearch.analysis.aliases import STOCK_TABLE, learned_pairs, stock_mentions

REPO = Path(__file__).resolve().parents[1]
WIRE = REPO.parent / "shared" / "corpus" / "wire-2026.jsonl.gz"
EXCHANGE_OF_FIRST_DIGIT = {"6": "SH", "0": "SZ", "3": "SZ", "4": "BJ", "8": "BJ", "9": "BJ"}
_TAGGED = re.compile(r"(\d{6})\.(SH|SZ|BJ)")
_MARKS = re.compile(r"^\*?ST|[AB]$")  # risk warning before a name, share class after it
_CJK = re.compile(r"[\u4e00-\u9fff]")
NAME_CJK_MAX = 4
HEADER = """\
# A-share codes and names from the real wire archive (2026-05-14…08-22), rebuilt by benchmarks/stock_codes.py:
# code<TAB>name<TAB>items whose text writes the pair<TAB>of them, items whose `stocks` field tags the code too
"""


def tagged_codes(item) -> set[str]:
    """The A-share codes an item's `stocks` field tags, on the exchange their number belongs to."""
    tags = [_TAGGED.fullmatch(tag) for tag in item.get("stocks") or ()]
    return {tag.group(1) for tag in tags if tag and EXCHANGE_OF_FIRST_DIGIT.get(tag.group(1)[0]) == tag.group(2)}


def table(items) -> list[tuple[str, str, int, int]]:
    """(code, name, items writing the pair, of them items tagged with the code), one name per code."""
    written: Counter = Counter()
    confirmed: Counter = Counter()
    listed: set[str] = set()
    for item in items:
        tagged = tagged_codes(item)
        listed |= tagged
        for pair in stock_mentions(f"{item.get('title') or ''}\n{item.get('content') or ''}"):
            written[pair] += 1
            confirmed[pair] += pair[1] in tagged
    by_code: defaultdict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for (name, code), count in confirmed.items():
        if count:
            by_code[code].append((count, len(name), name))
    rows = [(code, name, written[name, code], count)
            for code, names in by_code.items() for count, _, name in [max(names)]]
    learned: defaultdict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for name, code in learned_pairs(pair for pair, count in written.items() for _ in range(count)):
        if code in listed and code not in by_code:
            learned[code].append((written[name, code], len(name), name))
    for code, names in learned.items():
        ranked = sorted(names, reverse=True)
        if len(ranked) == 1 or ranked[0][:2] != ranked[1][:2]:  # two names as likely: neither is kept
            rows.append((code, ranked[0][2], ranked[0][0], 0))
    rows = [row for row in rows if len(_CJK.findall(_MARKS.sub("", row[1]))) <= NAME_CJK_MAX]
    # A name no item confirms that is part of another company's name was most likely cut from it
    # (新能源 of 立新能源 and 国新能源), and is a common word besides: left out.
    names = {row[1] for row in rows}
    return sorted(row for row in rows if row[3] or not any(row[1] in other for other in names - {row[1]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wire", type=Path, default=WIRE)
    parser.add_argument("--output", type=Path, default=Path(str(STOCK_TABLE)))
    args = parser.parse_args(argv)
    if not args.wire.exists():
        print(f"stock_codes: {args.wire} is missing (the shared wire archive)", file=sys.stderr)
        return 2
    with gzip.open(args.wire, "rt", encoding="utf-8") as lines:
        rows = table(json.loads(line) for line in lines)
    text = HEADER + "".join(f"{code}\t{name}\t{written}\t{confirmed}\n" for code, name, written, confirmed in rows)
    args.output.write_text(text, "utf-8")
    print(f"{len(rows)} codes written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
