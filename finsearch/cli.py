"""`finsearch`: index a news archive, search it, serve it.

Exit codes: 0 success, 2 bad usage or query, 3 a run refused (the delete guard, a disk too
full: nothing changed), 4 a reindex that found damaged files and repaired them from the archive,
1 any other failure (with a one-line message on stderr).
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import html
import json
import logging
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED, EXIT_REPAIRED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_OUTPUT_CLOSED = 141  # as a shell reports a program SIGPIPE stopped
EXIT_CODES_HELP = ("Exit codes: 0 success; 1 failure (no index, index busy, a damaged file, ...); 2 bad usage or "
                   "query; 3 refused, nothing changed: the archive is missing, empty or unreadable, the run would "
                   "delete more than the allowed share of the index, or the disk is too full; 4 (reindex) the index "
                   "had damaged files, named on stderr, and was repaired from the archive: check the disk.")
_TAG = re.compile(r"<[^>]+>")

log = logging.getLogger("finsearch")


class UsageError(Exception):
    """Bad arguments: exit code 2."""


class OutputFailed(Exception):
    """The command's output file could not be written: exit code 1, and no such file is left."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Known args only: a query word like -银行 ("without 银行") looks like an option to argparse.
    args, extras = parser.parse_known_args(argv)
    _take_query_words(parser, args, extras)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose > 1:
        # Ours only: a library's debug messages (markdown-it logs every rule it tries) would drown them.
        logging.getLogger("finsearch").setLevel(logging.DEBUG)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("finsearch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of the output stopped reading (`finsearch search … | head`): it has what it
        # wanted, so no message; the rest goes nowhere, not into a second error at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OUTPUT_CLOSED
    except Exception as error:
        return _failed(error)


def _failed(error: Exception) -> int:
    """The exit code of a failed command, after its one-line message (the trace only with -v)."""
    # Imported on failure only: a search or `stats` never loads the indexer.
    from finsearch.indexer import BuildFailed, DiskFull, IndexBusy, IndexMissing, NothingToRollBack, RunRefused
    from finsearch.search import SearchError
    if isinstance(error, SearchError):
        from finsearch.messages import describe
        print(f"finsearch: {describe(error)}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, UsageError):
        print(f"finsearch: {error}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, RunRefused):
        print(f"finsearch: refused: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if isinstance(error, (BuildFailed, DiskFull, IndexBusy, IndexMissing, NothingToRollBack, OutputFailed)):
        print(f"finsearch: {error}", file=sys.stderr)
        return EXIT_FAILURE
    log.debug("failure", exc_info=True)
    print(f"finsearch: {type(error).__name__}: {error}", file=sys.stderr)
    return EXIT_FAILURE


def build_parser() -> argparse.ArgumentParser:
    from finsearch.search.types import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE
    parser = argparse.ArgumentParser(
        prog="finsearch",
        description="Full-text search for an archive of Chinese financial news (Jekyll _posts).",
        epilog="The index location is --index, else $FINSEARCH_INDEX, else ~/.local/share/finsearch/index. "
               + EXIT_CODES_HELP)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log progress (-vv: and finsearch's debug messages, such as each build step's time)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    index = commands.add_parser("index", help="build the index from scratch",
                                description="Read every post of ARCHIVE (recursively) and build a new index. "
                                            "Searches keep using the old index until the new one is complete. "
                                            "Bad posts are reported by file and reason, and never stop the run. "
                                            "An archive that is missing, empty or yields no readable post is "
                                            "refused with exit code 3 (an empty index is never published).",
                                epilog=EXIT_CODES_HELP)
    index.add_argument("archive", type=Path, help="folder of Jekyll posts (e.g. _posts)")
    _index_option(index)
    index.add_argument("--procs", type=int, default=None,
                       help="writer processes (default: one per 1,000 posts, at most one per CPU and 4)")
    index.add_argument("--json", action="store_true", help="print the report as JSON")
    index.set_defaults(run=run_index)

    reindex = commands.add_parser("reindex", help="apply what changed in the archive (the nightly job)",
                                  description="Find posts added, changed and deleted since the last run and "
                                              "apply just those. A file whose size and modification time are those "
                                              "recorded when it was indexed is taken as unchanged without being "
                                              "read; the others are checksummed, and reindexed if their bytes "
                                              "changed. --verify checksums every file (a weekly run: it also finds "
                                              "an edit that kept the size and the time). A full build if there is "
                                              "no index yet or with --full. Searches keep answering from the "
                                              "previous state until the new one is published (`finsearch rollback` "
                                              "returns to the previous one); an index built with other analysis is "
                                              "rebuilt in full by itself. A second run while one is writing exits "
                                              "at once with code 1. The delete guard: a run whose archive is "
                                              "missing, empty or unreadable, or that would delete more than 5% of "
                                              "the documents, changes nothing and exits with code 3.",
                                  epilog=EXIT_CODES_HELP)
    reindex.add_argument("archive", type=Path, help="folder of Jekyll posts (e.g. _posts)")
    _index_option(reindex)
    reading = reindex.add_mutually_exclusive_group()
    reading.add_argument("--full", action="store_true", help="rebuild from scratch")
    reading.add_argument("--verify", action="store_true",
                         help="checksum every post file, not only those whose size or mtime changed (slower: "
                              "reads the whole archive; for a weekly run)")
    reindex.add_argument("--procs", type=int, default=None, help="writer processes for a full build")
    reindex.add_argument("--json", action="store_true",
                         help="print the report as one JSON object (on failure too: error, code, timestamp)")
    deletes = reindex.add_mutually_exclusive_group()
    deletes.add_argument("--max-delete", type=float, default=None, metavar="PERCENT",
                         help="refuse to delete more than PERCENT of the documents (default 5)")
    deletes.add_argument("--allow-deletes", action="store_true",
                         help="apply deletions whatever their share (an empty archive is still refused)")
    reindex.set_defaults(run=run_reindex)

    rollback = commands.add_parser("rollback", help="go back to the previous generation of the index",
                                   description="Point the index back at the generation the last index/reindex "
                                               "replaced, or with --to at any generation `finsearch generations` "
                                               "lists, in one atomic step (searches switch over by themselves). "
                                               "The target's files are checked against their checksums first; a "
                                               "damaged generation is refused. Without --to only one step back: a "
                                               "second rollback is refused.")
    _index_option(rollback)
    rollback.add_argument("--to", type=int, default=None, metavar="GEN",
                          help="the generation number to go back to (see finsearch generations)")
    rollback.set_defaults(run=run_rollback)

    generations = commands.add_parser(
        "generations", help="list the generations of the index that are kept",
        description="The generations kept for rollback (the last 3 published, and any a reader still holds), "
                    "newest first: number, when built, documents, size, and which is current.")
    _index_option(generations)
    generations.add_argument("--json", action="store_true", help="print one JSON object")
    generations.set_defaults(run=run_generations)

    check = commands.add_parser(
        "check", help="check every file of the index against its checksums",
        description="Read every file of every kept generation and compare it with the size and checksum its "
                    "manifest records. Names each damaged file; exit code 1 if any is damaged. The nightly "
                    "reindex repairs a damaged current generation from the archive.",
        epilog=EXIT_CODES_HELP)
    _index_option(check)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(run=run_check)

    replicate = commands.add_parser(
        "replicate", help="publish the current generation of one index in another (a read replica)",
        description="Copy the current generation of SOURCE (the writer's index, a shared mount of it or an "
                    "`rsync -aH` copy of it) into DEST, verify it against its manifest's file list and open it, "
                    "then publish it there in one atomic step: a `finsearch serve` on DEST switches over by "
                    "itself. Files DEST already has are hard-linked, not copied. DEST keeps the generation it "
                    "replaced (`finsearch rollback --index DEST`). Nothing to do if DEST already serves it. "
                    "Exit codes: 1 SOURCE has no index or DEST is being written; 3 refused, DEST unchanged: "
                    "the source generation or its copy is incomplete, or built by another finsearch.",
        epilog=EXIT_CODES_HELP)
    replicate.add_argument("source", type=Path, help="the index to copy from (its `current` generation)")
    replicate.add_argument("dest", type=Path, help="the replica's index directory (what its `finsearch serve` reads)")
    replicate.add_argument("--json", action="store_true",
                           help="print the outcome as one JSON object (on failure too: error, code, timestamp)")
    replicate.set_defaults(run=run_replicate)

    search = commands.add_parser("search", help="search the index",
                                 description="Search the index. Query syntax: words (all required), "
                                             "\"exact phrase\", OR, -word or NOT word, (groups), title:word, "
                                             "body:word. A first page that is not full is followed by related "
                                             "coverage (相关报道, as on the web page): posts with most of the "
                                             "query's words but not all, each with the words it lacks.")
    _query_options(search)
    search.add_argument("--limit", type=int, default=DEFAULT_PAGE_SIZE, metavar="N",
                        help=f"hits per page, 1-{MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})")
    search.add_argument("--page", type=int, default=1, metavar="N", help=f"page number, 1-{MAX_PAGE} (default 1)")
    search.add_argument("--json", action="store_true",
                        help="print one JSON object: /api/search's, with /api/related's as \"related\"")
    search.set_defaults(run=run_search)

    export = commands.add_parser("export", help="write every hit of a search as CSV or JSON Lines",
                                 description="Every post the search matches (reprints included, one row each), "
                                             "in the search's order: id, date, paper, categories, title, url, "
                                             "snippet (plain text), story (the id of the story's first post), "
                                             "day and time (local, as a spreadsheet reads them), headline; "
                                             "--fields picks the columns (body: the whole text). CSV is UTF-8 "
                                             "with a BOM, for Excel, its cells guarded against formulas. "
                                             "Streamed: memory does not grow with the number of hits.")
    _query_options(export)
    export.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="csv (default) or jsonl")
    export.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="write to FILE (default: standard output)")
    export.add_argument("--fields", default=None, metavar="COLUMNS",
                        help="the columns, comma-separated, in order (default: id,date,paper,categories,title,url,"
                             "snippet,story,day,time,headline; body, the whole text, only when named)")
    export.set_defaults(run=run_export)

    stats = commands.add_parser("stats", help="show what the index holds")
    _index_option(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(run=run_stats)

    serve = commands.add_parser("serve", help="serve the web UI and JSON API",
                                description="Serve the search page and the JSON API with gunicorn.")
    _index_option(serve)
    serve.add_argument("--host", default=None, help="address to listen on (default $FINSEARCH_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default $FINSEARCH_PORT or 8000)")
    serve.add_argument("--workers", type=int, default=None, help="worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=None,
                       help="threads per worker (default 4): requests waiting on a client or on the searcher")
    serve.add_argument("--heavy-requests", type=int, default=None, metavar="N",
                       help="exports and trends at once across the workers (default 1 per 2 workers); "
                            "one more is answered 429 with Retry-After")
    serve.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                       help="gunicorn's worker timeout (default 30); the app answers 503 itself after 80%% of it")
    serve.set_defaults(run=run_serve)
    return parser


def _query_options(parser: argparse.ArgumentParser) -> None:
    """The query and filters, the same for `search` and `export`."""
    from finsearch.search.types import Sort
    parser.add_argument("query", nargs="?", help="the query (quote it in the shell; a query starting with - "
                                                 "also works, e.g. -银行, or after --); without one, every "
                                                 "post, newest first")
    _index_option(parser)
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD[THH:MM]",
                        help="published on or after this day (or minute)")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD[THH:MM]",
                        help="published on or before this day (or minute)")
    parser.add_argument("--category", action="append", default=[], metavar="C",
                        help="only this category (repeat for several)")
    parser.add_argument("--paper", action="append", default=[], metavar="P",
                        help="only this paper, e.g. 解放日报 (repeat for several)")
    parser.add_argument("--stock", action="append", default=[], metavar="CODE",
                        help="only posts that mention this listed company (its name or its code), given by its "
                             "code, e.g. 600519 (repeat for several: any of them)")
    parser.add_argument("--first", action="store_true",
                        help="only first reports (首发): each story's earliest post, not the reprints that followed")
    parser.add_argument("--sort", choices=[sort.value for sort in Sort], default=Sort.RELEVANCE.value)
    parser.add_argument("--literal", action="store_true",
                        help="only what was typed: don't also search aliases (央行 → 中国人民银行)")


def _take_query_words(parser: argparse.ArgumentParser, args, extras: list[str]) -> None:
    """Words argparse did not know (-银行: "without 银行") join the query; anything else is an error."""
    if not hasattr(args, "query"):
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return
    words = [args.query] if args.query is not None else []
    for extra in extras:
        # "-银行" or "-美联储" is a query word; "--limt" or "-x" is a mistyped option.
        if not extra.startswith("-") or extra.startswith("--") or (len(extra) == 2 and extra[1].isascii()):
            parser.error(f"unrecognized arguments: {extra}")
        words.append(extra)
    args.query = " ".join(words)  # none: the empty query, every post newest first (as on the web)


def _index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, default=None, metavar="DIR",
                        help="index directory (default: $FINSEARCH_INDEX or ~/.local/share/finsearch/index)")


def run_index(args) -> int:
    from finsearch.indexer import build_index, resolve_root
    _check_build_args(args)
    root = resolve_root(args.index)
    with _json_failure("index", root, args.json):
        report = build_index(args.archive, root, procs=args.procs, progress=sys.stderr.isatty() and not args.json)
        _prepare_for_searches(root)
    _print_report(report, {"indexed": report.indexed, "generation": report.generation}, args.json,
                  f"indexed {report.indexed} posts into {report.index} in {report.seconds:.1f} s "
                  f"({report.recovered} problems recovered, {report.skipped} posts skipped)")
    return EXIT_OK


def run_reindex(args) -> int:
    from finsearch.indexer import DEFAULT_MAX_DELETE_PERCENT, reindex, resolve_root
    _check_build_args(args)
    if args.max_delete is not None and not 0 <= args.max_delete <= 100:
        raise UsageError("--max-delete must be a percentage between 0 and 100")
    max_delete = 100.0 if args.allow_deletes else (
        DEFAULT_MAX_DELETE_PERCENT if args.max_delete is None else args.max_delete)
    root = resolve_root(args.index)
    with _json_failure("reindex", root, args.json):
        report = reindex(args.archive, root, full=args.full, procs=args.procs,
                         progress=sys.stderr.isatty() and not args.json, max_delete=max_delete, verify=args.verify)
        _prepare_for_searches(root)
    why = f" ({report.full_reason})" if report.full_reason else ""
    _print_report(report, report.counts(), args.json,
                  f"{'full rebuild' + why if report.full else 'reindex'}: {report.added} added, "
                  f"{report.updated} updated, {report.deleted} deleted, {report.skipped} skipped, "
                  f"{report.recovered} recovered, {report.unchanged} unchanged; "
                  f"{report.checksummed} files checksummed{' (--verify)' if report.verify else ''}; "
                  f"segments {report.segments_before} -> {report.segments_after}; "
                  f"generation {report.generation}; {report.seconds:.1f} s")
    if report.repaired:
        print(f"finsearch: the index had damaged files, left out and indexed again from the archive: "
              f"{'; '.join(report.repaired)}. Check the disk.", file=sys.stderr)
        return EXIT_REPAIRED
    return EXIT_OK


def _prepare_for_searches(root: Path) -> None:
    """Ready the generation just published for its first search in any process (the companies'
    mentions and the suggestion vocabulary, into the cache folder): the run that publishes pays for
    it, not the next query."""
    from finsearch.search import prepare_generation
    log.info("prepared the current generation for searches in %.1f s", prepare_generation(root))


def run_rollback(args) -> int:
    from finsearch.indexer import resolve_root, rollback
    root = resolve_root(args.index)
    left, now = rollback(root, args.to)
    _prepare_for_searches(root)
    print(f"rolled back: current is {now.name} again (was {left.name})")
    return EXIT_OK


def run_generations(args) -> int:
    import datetime as dt

    from finsearch.indexer import list_generations, resolve_root
    root = resolve_root(args.index)
    found = list_generations(root)
    if not found:
        raise _no_index(root)
    if args.json:
        print(json.dumps({"index": str(root), "generations": [
            {"generation": g.number, "name": g.name, "created": g.created, "documents": g.documents,
             "size_bytes": g.size_bytes, "current": g.current, "previous": g.previous, "in_use": g.held}
            for g in found]}, ensure_ascii=False))
        return EXIT_OK
    for g in found:
        created = dt.datetime.fromtimestamp(g.created).strftime("%Y-%m-%d %H:%M") if g.created else "?"
        marks = ", ".join(m for m, on in (("current", g.current), ("previous", g.previous), ("in use", g.held)) if on)
        print(f"{g.number:>6}  {created}  {g.documents if g.documents is not None else '?':>9} documents  "
              f"{g.size_bytes / 2**20:8.1f} MiB  {g.name}{f'  ({marks})' if marks else ''}")
    return EXIT_OK


def run_check(args) -> int:
    from finsearch.indexer import check_index, resolve_root
    root = resolve_root(args.index)
    checks = check_index(root)
    if not checks:
        raise _no_index(root)
    bad = [c for c in checks if c.damage or c.problem]
    if args.json:
        print(json.dumps({"index": str(root), "ok": not bad, "generations": [
            {"generation": c.generation.number, "name": c.generation.name, "current": c.generation.current,
             "problem": c.problem, "damaged": [{"file": d.file, "problem": d.problem} for d in c.damage]}
            for c in checks]}, ensure_ascii=False))
    else:
        for c in checks:
            state = "whole" if not (c.damage or c.problem) else "DAMAGED" if c.damage else "unreadable"
            print(f"generation {c.generation.number} ({c.generation.name}{', current' if c.generation.current else ''})"
                  f": {state}")
            for damage in c.damage:
                print(f"  {damage.file} {damage.problem}")
            if c.problem:
                print(f"  {c.problem}")
    for c in bad:
        print(f"finsearch: generation {c.generation.number} ({c.generation.name}) is "
              + (f"damaged: {', '.join(d.file for d in c.damage)}" if c.damage else c.problem or ""), file=sys.stderr)
    return EXIT_FAILURE if bad else EXIT_OK


def _no_index(root: Path) -> Exception:
    from finsearch.indexer import IndexMissing
    return IndexMissing(f"no index at {root} (build one with: finsearch index ARCHIVE --index {root})")


def run_replicate(args) -> int:
    from finsearch.indexer import now_iso, replicate
    source, dest = args.source.expanduser(), args.dest.expanduser()
    with _json_failure("replicate", dest, args.json):
        report = replicate(source, dest)
        if report.published:
            _prepare_for_searches(dest)
    if args.json:
        print(json.dumps({"ok": True, "timestamp": now_iso(), "index": str(report.index), **report.counts(),
                          "seconds": round(report.seconds, 2)}, ensure_ascii=False))
    elif report.published:
        print(f"replicated {report.build} (generation {report.generation}) from {source} into {report.index}: "
              f"{report.copied} files copied ({report.bytes_copied / 2**20:.1f} MiB), {report.linked} linked; "
              f"{report.seconds:.1f} s")
    else:
        print(f"{report.index} already serves {report.build} (generation {report.generation}); nothing to do")
    return EXIT_OK


@contextlib.contextmanager
def _json_failure(command: str, root: Path, as_json: bool) -> Iterator[None]:
    """With --json, a failed run prints its JSON object too (then fails as usual)."""
    try:
        yield
    except Exception as error:
        if as_json:
            from finsearch.indexer import failure, now_iso
            print(json.dumps({**failure(command, error), "index": str(root), "timestamp": now_iso()},
                             ensure_ascii=False))
        raise


def _print_report(report, counts: dict, as_json: bool, summary: str) -> None:
    """Every bad post by file and reason, then the summary (or all of it as one JSON object)."""
    from finsearch.indexer import now_iso
    problems = sorted(report.problems, key=lambda p: (not p.skipped, p.path))
    if as_json:
        print(json.dumps({"ok": True, "timestamp": now_iso(), "index": str(report.index), **counts,
                          "recovered": report.recovered, "skipped": report.skipped,
                          "seconds": round(report.seconds, 2),
                          "problems": [{"path": p.path, "reason": p.reason, "skipped": p.skipped}
                                       for p in problems]}, ensure_ascii=False))
        return
    for problem in problems:
        print(f"{'skipped' if problem.skipped else 'recovered'}: {problem.path}: {problem.reason}")
    print(summary)


def _check_build_args(args) -> None:
    # A missing or wrong archive is the delete guard's (exit code 3), not a usage error.
    if args.procs is not None and args.procs < 1:
        raise UsageError("--procs must be at least 1")


def run_search(args) -> int:
    from finsearch.messages import notice_text, reason_text
    from finsearch.render import page_label, related_to_json, result_to_json
    from finsearch.search import SearchEngine, make_request
    request = make_request(args.query, args.date_from, args.date_to, args.category, args.paper,
                           args.sort, args.page, args.limit, "1" if args.literal else "", args.stock,
                           "1" if args.first else "")
    engine = SearchEngine(args.index)
    result = engine.search(request, with_facets=args.json)  # the text shows no facets
    related = engine.related(request)  # 相关报道: none unless the first page is not full (search.related)
    if args.json:
        print(json.dumps({**result_to_json(result), "related": related_to_json(related)}, ensure_ascii=False))
        return EXIT_OK
    color = sys.stdout.isatty()
    if result.notice:
        print(f"注意：{notice_text(result.notice)}")
    if result.expanded and not request.literal:
        searched = "、".join(alias for _, aliases in result.expanded for alias in aliases)
        print(f"同时搜索了：{searched}（只搜输入的词：--literal）")
    if result.suggestions:
        offers = "；".join(f"{s.query}（{reason_text(s)}，{s.articles} 篇）" for s in result.suggestions)
        print(f"没有结果。可以试试：{offers}")
    merged = f"（{result.articles} 篇，相同报道合并）" if result.articles > result.total else ""
    counted = f"共 {result.total} 条结果" if request.query.strip() else f"最新文章，共 {result.total} 条"
    print(f"{counted}{merged}，{page_label(request.page, result.pages)}（{result.seconds * 1000:.0f} ms）")
    first = (request.page - 1) * request.page_size
    for number, hit in enumerate(result.hits, start=first + 1):
        _print_hit(number, hit, color)
    if related.hits:
        print(f"\n相关报道（未包含全部检索词）：以下文章只含“{request.query}”的部分词语，可能是同一新闻的其他报道。")
        for number, item in enumerate(related.hits, start=1):
            _print_hit(number, item.hit, color, item.missing)
    return EXIT_OK


def _print_hit(number: int, hit, color: bool, missing: tuple[str, ...] | None = None) -> None:
    """A hit as `search` prints it; with `missing`, a post of related coverage and the words it lacks."""
    from finsearch.render import first_report_line, missing_line
    print(f"\n{number}. {_terminal(hit.title_html, color)}")
    print(f"   {hit.date:%Y-%m-%d %H:%M}  {hit.paper}  {'/'.join(hit.categories)}  id {hit.id}")
    print(f"   {_terminal(hit.snippet, color)}")
    if hit.url:
        print(f"   {hit.url}")
    if missing is not None:
        print(f"   {missing_line(missing)}")
    if hit.reprints:
        print(f"   另有 {len(hit.reprints)} 家报道：" + "、".join(
            f"{r.paper} {r.date:%Y-%m-%d %H:%M} (id {r.id}{'，措辞不同' if r.near else ''})" for r in hit.reprints))
    first_line = first_report_line(hit)
    if first_line:
        print(f"   {first_line}")


def run_export(args) -> int:
    from finsearch.search import EXPORTERS, SearchEngine, export_columns, make_request
    request = make_request(args.query, args.date_from, args.date_to, args.category, args.paper, args.sort,
                           literal="1" if args.literal else "", stocks=args.stock, first="1" if args.first else "")
    columns = export_columns(args.fields)
    hits = SearchEngine(args.index).iter_hits(request)  # a bad request fails before the file is opened
    if args.output is None:
        sys.stdout.writelines(EXPORTERS[args.format](hits, columns))
        return EXIT_OK
    # Written beside the file and renamed when whole: a failed export leaves no file that looks complete.
    partial = args.output.with_name(f".{args.output.name}.partial-{os.getpid()}")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as out:  # the csv module writes its own line ends
            out.writelines(EXPORTERS[args.format](hits, columns))
        os.replace(partial, args.output)
    except OSError as error:
        raise OutputFailed(f"cannot write {args.output}: {error.strerror or error}; no file was left") from None
    finally:
        partial.unlink(missing_ok=True)
    return EXIT_OK


def run_stats(args) -> int:
    from finsearch.render import stats_to_json
    from finsearch.search import SearchEngine
    stats = SearchEngine(args.index).stats()
    if args.json:
        print(json.dumps(stats_to_json(stats), ensure_ascii=False))
        return EXIT_OK
    span = (f"{stats.first_date:%Y-%m-%d} – {stats.last_date:%Y-%m-%d}" if stats.first_date else "–")
    print(f"index:      {stats.location}")
    print(f"documents:  {stats.documents}")
    print(f"segments:   {stats.segments}")
    print(f"size:       {stats.size_bytes / 2**20:.1f} MiB")
    print(f"dates:      {span}")
    print("categories: " + ", ".join(f"{f.value} ({f.count})" for f in stats.categories))
    print("papers:     " + ", ".join(f"{f.value} ({f.count})" for f in stats.papers))
    return EXIT_OK


def run_serve(args) -> int:
    from finsearch.webui import DEFAULT_HOST, env_port
    from finsearch.webui.server import WORKER_TIMEOUT, serve
    host = args.host or os.environ.get("FINSEARCH_HOST") or DEFAULT_HOST
    port = args.port if args.port is not None else env_port()
    if _port_in_use(host, port):  # gunicorn would retry for 5 s and log a page of errors
        print(f"finsearch: port {port} on {host} is already in use (another server?); choose one with --port",
              file=sys.stderr)
        return EXIT_FAILURE
    try:
        serve(index_dir=args.index, host=args.host, port=args.port, workers=args.workers,
              timeout=WORKER_TIMEOUT if args.timeout is None else args.timeout, threads=args.threads,
              heavy_requests=args.heavy_requests)
    except ValueError as error:  # a count below 1, a timeout of 0
        raise UsageError(str(error)) from None
    return EXIT_OK


def _port_in_use(host: str, port: int) -> bool:
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _terminal(fragment: str, color: bool) -> str:
    """An escaped HTML snippet as terminal text, matches in bold red on a terminal."""
    if color:
        fragment = fragment.replace("<mark>", "\033[1;31m").replace("</mark>", "\033[0m")
    return html.unescape(_TAG.sub("", fragment))


if __name__ == "__main__":
    sys.exit(main())
