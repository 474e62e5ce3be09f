"""Spelling correction, measured: for each misspelling of benchmarks/misspellings.tsv, is the first
query the search offers when it finds nothing the term that was meant?

    .venv/bin/python -m benchmarks.spelling [--index DIR | --archive data/posts] [--misspellings FILE]

Prints the first-suggestion precision per kind of slip and overall, and the misspellings it got
wrong; writes the same as JSON to benchmarks/results/spelling.json. A misspelling that finds posts
(it is a string of the archive after all) is reported, and counts as wrong: the search offers
nothing for it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from finsearch.search import SearchEngine, SearchRequest

REPO = Path(__file__).resolve().parents[1]
MISSPELLINGS = REPO / "benchmarks" / "misspellings.tsv"
RESULTS = REPO / "benchmarks" / "results"


@dataclass(frozen=True)
class Outcome:
    set: str  # 调试 (seen while tuning) or 新写 (written after)
    kind: str
    typo: str
    meant: str
    offered: str  # the first suggestion ("" for none)
    found: int  # posts the typo itself finds

    @property
    def right(self) -> bool:
        return self.offered == self.meant


def read_misspellings(path: Path = MISSPELLINGS) -> list[tuple[str, str, str, str]]:
    """(set, kind, typo, meant) of each line."""
    rows = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            written, kind, typo, meant = line.split("\t")
            rows.append((written, kind, typo, meant))
    return rows


def measure(engine: SearchEngine, misspellings: list[tuple[str, str, str, str]]) -> list[Outcome]:
    engine.suggest("", 1)  # the vocabulary spelling draws on, built as a web worker builds it at start
    outcomes = []
    for written, kind, typo, meant in misspellings:
        result = engine.search(SearchRequest(query=typo))
        offered = result.suggestions[0].query if result.suggestions else ""
        outcomes.append(Outcome(written, kind, typo, meant, offered, result.articles))
    return outcomes


def precision(outcomes: list[Outcome]) -> float:
    return sum(o.right for o in outcomes) / len(outcomes) if outcomes else 0.0


def report(outcomes: list[Outcome]) -> dict:
    by_kind: defaultdict[str, list[Outcome]] = defaultdict(list)
    by_set: defaultdict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
        by_set[outcome.set].append(outcome)
    return {
        "misspellings": len(outcomes),
        "first_suggestion_precision": round(precision(outcomes), 4),
        "by_set": {written: {"misspellings": len(found), "precision": round(precision(found), 4)}
                   for written, found in by_set.items()},
        "by_kind": {kind: {"misspellings": len(found), "precision": round(precision(found), 4)}
                    for kind, found in by_kind.items()},
        "wrong": [{"set": o.set, "kind": o.kind, "typo": o.typo, "meant": o.meant, "offered": o.offered, "found": o.found}
                  for o in outcomes if not o.right],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--index", type=Path, help="an index to search (default: data/posts, indexed into a temporary folder)")
    where.add_argument("--archive", type=Path, default=REPO / "data" / "posts", help="posts to index first")
    parser.add_argument("--misspellings", type=Path, default=MISSPELLINGS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index
        if index is None:
            from finsearch.indexer import build_index
            index = Path(scratch) / "index"
            build_index(args.archive, index, progress=False)
        engine = SearchEngine(index)
        summary = report(measure(engine, read_misspellings(args.misspellings)))
        engine.close()
    print(f"{'':<6} {'misspellings':>12} {'precision':>10}")
    for group, figures in [*summary["by_set"].items(), *summary["by_kind"].items()]:
        print(f"{group:<6} {figures['misspellings']:>12} {figures['precision']:>10.3f}")
    print(f"{'all':<6} {summary['misspellings']:>12} {summary['first_suggestion_precision']:>10.3f}")
    for wrong in summary["wrong"]:
        print(f"wrong: {wrong['typo']} → {wrong['offered'] or '(nothing)'} (meant {wrong['meant']}"
              f"{', finds ' + str(wrong['found']) + ' posts' if wrong['found'] else ''})")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "spelling.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
