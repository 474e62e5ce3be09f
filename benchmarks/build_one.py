"""One full build in this (fresh) process; prints a JSON report on stdout.

    python -m benchmarks.build_one {engine,baseline,tantivy} ARCHIVE INDEX_DIR [--procs N]

`run.py` starts this in a subprocess for every build, so a build's memory and
CPU figures are its own. The report holds the build's wall time (the build call
only, not the interpreter start) and `getrusage` of this process (RUSAGE_SELF)
and of its waited-for descendants (RUSAGE_CHILDREN: the engine's writer worker
processes; tantivy's jieba worker processes).
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import sys
import time
from pathlib import Path


def _usage(who: int) -> dict:
    r = resource.getrusage(who)
    return {"maxrss_kib": r.ru_maxrss, "user_s": r.ru_utime, "sys_s": r.ru_stime}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("engine", choices=["engine", "baseline", "tantivy"])
    ap.add_argument("archive", type=Path)
    ap.add_argument("index", type=Path, help="index folder (removed first: a full build from nothing)")
    ap.add_argument("--procs", type=int, default=None, help="engine writer processes (default: the engine's own)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    if args.index.exists():
        shutil.rmtree(args.index)
    if args.engine == "engine":
        from finsearch.indexer.build import build_index, default_procs
        from finsearch.storage.generations import current_build
        started = time.perf_counter()
        report = build_index(args.archive, args.index, procs=args.procs, progress=False)
        seconds = time.perf_counter() - started
        out = {"indexed": report.indexed, "skipped": report.skipped, "recovered": report.recovered,
               "procs": args.procs or default_procs(), "data_dir": str(current_build(args.index))}
    elif args.engine == "tantivy":
        from benchmarks import tantivy_peer
        started = time.perf_counter()
        peer = tantivy_peer.build(args.archive, args.index)
        seconds = time.perf_counter() - started
        out = {"indexed": peer.indexed, "skipped": peer.skipped, "recovered": None, "procs": peer.procs,
               "data_dir": str(args.index)}
    else:
        from benchmarks import baseline
        started = time.perf_counter()
        report = baseline.build(args.archive, args.index)
        seconds = time.perf_counter() - started
        out = {"indexed": report.indexed, "skipped": report.skipped, "recovered": None, "procs": 1,
               "data_dir": str(args.index)}
    out.update(seconds=seconds, self=_usage(resource.RUSAGE_SELF), children=_usage(resource.RUSAGE_CHILDREN))
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
