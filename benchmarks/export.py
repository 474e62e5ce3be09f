"""The export of every hit of a search (what /export.csv and `finsearch export` stream): time and
peak memory, for growing numbers of rows, so that memory not growing with the hits shows.

    .venv/bin/python -m benchmarks.export INDEX_DIR [--query Q] [--format csv|jsonl] [--rows 1000,10000]

For each row count (the first N rows of the export, plus all of them) two passes over a fresh
engine-cache state: one timed (no tracing), one under tracemalloc, whose peak counts every Python
and numpy allocation made by the export (the ordered docnums, one batch of stored fields,
snippets, the text chunks). Rows are written to os.devnull. Also the process's peak RSS (VmHWM).
Prints a table and one JSON object.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

from benchmarks.run import proc_kib_field
from finsearch.search import EXPORTERS, SearchEngine, make_request


def export_rows(engine: SearchEngine, query: str, fmt: str, rows: int | None) -> int:
    """Export the first `rows` rows (None: all) to os.devnull; the number written."""
    hits = engine.iter_hits(make_request(query))
    if rows is not None:
        hits = itertools.islice(hits, rows)
    counted = 0

    def counting():
        nonlocal counted
        for hit in hits:
            counted += 1
            yield hit
    with open(os.devnull, "w", encoding="utf-8") as out:
        out.writelines(EXPORTERS[fmt](counting()))
    return counted


def measure(engine: SearchEngine, query: str, fmt: str, rows: int | None) -> dict:
    engine.search(make_request(query))  # the match is cached, as after the results page
    gc.collect()
    started = time.perf_counter()
    written = export_rows(engine, query, fmt, rows)
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    export_rows(engine, query, fmt, rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": written, "seconds": round(seconds, 3), "rows_per_s": round(written / seconds) if seconds else None,
            "peak_traced_mib": round(peak / 2**20, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path, help="an index directory (finsearch index …)")
    parser.add_argument("--query", default="", help="the search to export (default: the empty query, every post)")
    parser.add_argument("--format", choices=sorted(EXPORTERS), default="csv")
    parser.add_argument("--rows", default="1000,10000", help="row counts to measure besides all (comma-separated)")
    args = parser.parse_args(argv)
    engine = SearchEngine(args.index)
    total = engine.search(make_request(args.query)).articles
    counts: list[int | None] = [n for n in (int(v) for v in args.rows.split(",") if v) if n < total]
    counts.append(None)
    results = [measure(engine, args.query, args.format, rows) for rows in counts]
    print(f"export of {args.query or '(every post)'!r} as {args.format}: {total:,} rows in all")
    print(f"{'rows':>10} {'seconds':>9} {'rows/s':>9} {'peak traced MiB':>16}")
    for r in results:
        print(f"{r['rows']:>10,} {r['seconds']:>9.3f} {r['rows_per_s'] or 0:>9,} {r['peak_traced_mib']:>16.2f}")
    peak_rss = proc_kib_field(os.getpid(), "status", "VmHWM")  # bytes
    print(f"process peak RSS: {peak_rss / 2**20:.0f} MiB" if peak_rss else "process peak RSS: unknown")
    print(json.dumps({"index": str(args.index), "query": args.query, "format": args.format, "total": total,
                      "runs": results, "peak_rss_bytes": peak_rss}, ensure_ascii=False))
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
