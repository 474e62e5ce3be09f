"""Where the engine spends its time: cProfile of a small build and of a few queries.

    python -m benchmarks.profile_engine build ARCHIVE [-n 2000] [--top 30]
    python -m benchmarks.profile_engine query INDEX_ROOT [--query 人工智能 ...] [--times 20]

`build` copies the first N posts of ARCHIVE into a temporary folder and builds
them with ONE writer process (`procs=1`), so that all the work happens where
cProfile sees it (with several processes it happens in Whoosh's workers). It
also times the same build with the default processes, for comparison.

`query` opens the engine's index (e.g. benchmarks/.work/indexes/10k/engine),
warms it up, and profiles each query `--times` times (first page, relevance),
emptying the engine's match cache before each, as `queries.py` does.

Both print the top functions by own time and by cumulative time, and can save
the raw profiles with --save DIR (open them with `python -m pstats FILE`).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _report(profile: cProfile.Profile, title: str, top: int, save: Path | None, name: str) -> None:
    print(f"\n=== {title}")
    for key in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(profile, stream=stream).strip_dirs().sort_stats(key)
        stats.print_stats(top)
        text = stream.getvalue()
        start = text.find("   ncalls")
        print(f"--- by {key}")
        print(text[start:] if start >= 0 else text)
    if save:
        save.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(save / f"{name}.prof")


def profile_build(archive: Path, n: int, top: int, save: Path | None) -> None:
    from finsearch.indexer.build import build_index, default_procs
    from finsearch.indexer.ingest import find_posts

    paths = find_posts(archive)[:n]
    with tempfile.TemporaryDirectory(prefix="finsearch-profile-") as tmp:
        sub = Path(tmp) / "posts"
        for path in paths:
            target = sub / Path(path).relative_to(archive)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        from finsearch.analysis.segmenter import segmenter
        segmenter()  # the dictionary load is not the build's concern here
        started = time.perf_counter()
        report = build_index(sub, Path(tmp) / "index-default", progress=False)
        default_s = time.perf_counter() - started
        profile = cProfile.Profile()
        started = time.perf_counter()
        profile.enable()
        build_index(sub, Path(tmp) / "index-one", procs=1, progress=False)
        profile.disable()
        one_s = time.perf_counter() - started
    print(f"{report.indexed} posts: {default_s:.1f} s with {default_procs()} writer processes "
          f"({report.indexed / default_s:.0f} posts/s); {one_s:.1f} s with one process under cProfile")
    _report(profile, f"build of {report.indexed} posts, procs=1", top, save, "build")


def profile_queries(index: Path, queries: list[str], times: int, top: int, save: Path | None) -> None:
    from finsearch.search import SearchEngine, SearchRequest

    engine = SearchEngine(index, match_cache=0)  # every search one the engine has not seen
    for query in queries:
        request = SearchRequest(query=query)
        for _ in range(3):
            engine.search(request)
        profile = cProfile.Profile()
        started = time.perf_counter()
        for _ in range(times):
            profile.enable()
            result = engine.search(request)
            profile.disable()
        per = (time.perf_counter() - started) / times * 1000
        _report(profile, f"query {query!r}: {result.total} hits, {per:.1f} ms per query under cProfile "
                         f"({times} times)", top, save, f"query-{query}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_engine", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = ap.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="profile a build of the first N posts of ARCHIVE")
    build.add_argument("archive", type=Path)
    build.add_argument("-n", type=int, default=2000)
    query = commands.add_parser("query", help="profile queries on a built engine index")
    query.add_argument("index", type=Path, help="the engine's index root")
    query.add_argument("--query", action="append", default=None,
                       help="a query to profile (repeatable; default 金融, 人工智能, ETF)")
    query.add_argument("--times", type=int, default=20)
    for sub in (build, query):
        sub.add_argument("--top", type=int, default=30, help="functions listed (default 30)")
        sub.add_argument("--save", type=Path, default=None, help="also write the .prof files here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "build":
        profile_build(args.archive, args.n, args.top, args.save)
    else:
        profile_queries(args.index, args.query or ["金融", "人工智能", "ETF"], args.times, args.top, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
