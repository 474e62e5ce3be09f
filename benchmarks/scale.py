"""The scale run of issue 15: the engine at 100k, 250k and 1M posts, against tantivy+jieba.

    .venv/bin/python -m benchmarks.scale [--sizes 100k,250k,1m] [--skip-peer] [--skip-load]
                                         [--skip-reindex] [--archive DIR] [--work DIR]
                                         [--results DIR] [--shared DIR]

For each size, one after the other, on the archive written by ../shared/tools/wire_to_posts.py
(cached in the work dir like run.py's corpora; 100k is run.py's `wire` corpus):

1. full builds, each in a fresh process (`benchmarks.build_one`): the engine, then the peer
   (`benchmarks/tantivy_peer.py`: tantivy 0.27 + jieba in two processes); wall time, ratio
   engine / tantivy, peak RSS and PSS of the whole process tree (run.py's sampler);
2. index bytes per post, and where they go (`benchmarks/index_bytes.py`, into the JSON);
3. queries, one client, warm: benchmarks/queries.py's mix (top 10 + snippets + facets) on the
   engine alone, then the same kinds on the peer (top 10 + snippet, no facets); p50/p95/max of
   all samples pooled;
4. 8 clients on 2 gunicorn workers (`benchmarks/load.py`, wrk), fixed mix then wide: requests/s, p95,
   each worker's peak RSS;
5. the nightly reindex on the engine's index just built, through benchmarks/reindex.py's
   steps on the archive itself (put back at the end): nothing changed (no-op), the same with
   --verify, 1% of posts added as renamed copies and 0.1% changed (+1%).

Prints one table (a column per size, after each size) and writes benchmarks/results/scale-<stamp>.json
(rewritten after each size, so a long run keeps what it measured). `--archive DIR` runs one
given archive instead of the generated sizes (e.g. a copy of data/posts, to try the run out).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmarks.run import (
    DEFAULT_RESULTS,
    DEFAULT_SHARED,
    DEFAULT_WORK,
    MIB,
    REPO,
    count_posts,
    ensure_archive,
    environment,
    measured_build,
    run_queries,
    warm_jieba_caches,
    warm_page_cache,
)

WIRE_TOOL = "tools/wire_to_posts.py"
# size: (the archive's name in the work dir, what it is, wire_to_posts.py's options after OUT)
SIZES = {
    "100k": ("wire", "the 102,775 real wire posts", []),
    "250k": ("wire-4y", "4 years: 251,506 posts", ["--years", "4"]),
    "1m": ("wire-24y-1m", "24 years, at most 1,000,000 posts", ["--years", "24", "-n", "1000000"]),
}
GIB = 2 ** 30


def size_archive(size: str, work: Path, shared: Path) -> Path:
    name, _, options = SIZES[size]
    return ensure_archive(name, WIRE_TOOL, lambda out: [str(out), *options], work, shared)


# -- the steps ---------------------------------------------------------------------

def pooled(samples_s: list[float]) -> dict[str, float | int] | None:
    if not samples_s:
        return None
    ms = np.array(samples_s) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "max_ms": float(ms.max()), "n": len(samples_s)}


def engine_queries(index: Path, repeat: int, warmup: int) -> dict:
    raw = run_queries({"engine": index}, ("engine",), repeat, warmup)
    return {"params": raw["params"], "open_first_query_s": raw["open_first_query_s"]["engine"],
            "pooled": pooled([s for kind in raw["kinds"] for s in kind["engine_s"]]),
            "kinds": {kind["label"]: {"articles": kind["engine_articles"], **(pooled(kind["engine_s"]) or {})}
                      for kind in raw["kinds"]}}


def peer_queries(index: Path, params: dict, repeat: int, warmup: int) -> dict:
    """The engine's mix (its parameters: dates, category, rare word) on the tantivy index."""
    from benchmarks.queries import kinds_of
    kinds = [{**asdict(kind), "label": kind.label,
              "date_from": kind.date_from.isoformat() if kind.date_from else None,
              "date_to": kind.date_to.isoformat() if kind.date_to else None} for kind in kinds_of(params)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as mix:
        json.dump(kinds, mix, ensure_ascii=False)
    try:
        done = subprocess.run([sys.executable, "-m", "benchmarks.tantivy_peer", "queries", str(index),
                               "--mix", mix.name, "--repeat", str(repeat), "--warmup", str(warmup)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    finally:
        os.unlink(mix.name)
    if done.returncode:
        raise SystemExit(f"the tantivy query benchmark failed (exit {done.returncode})")
    raw = json.loads(done.stdout)
    return {"open_first_query_s": raw["open_first_query_s"],
            "pooled": pooled([s for kind in raw["kinds"] for s in kind["samples_s"]]),
            "kinds": {kind["label"]: {"total": kind["total"], **(pooled(kind["samples_s"]) or {})}
                      for kind in raw["kinds"]}}


LOAD_MIXES = ("fixed", "wide")


def _load_mixes(text: str) -> list[str]:
    mixes = [mix.strip() for mix in text.split(",") if mix.strip()]
    if not mixes or any(mix not in LOAD_MIXES for mix in mixes):
        raise argparse.ArgumentTypeError(f"choose from {', '.join(LOAD_MIXES)}")
    return mixes


def load(index: Path, seconds: int, mix: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.load", str(index), "--connections", "8",
                           "--workers", "2", "--seconds", str(seconds), "--mix", mix], cwd=REPO,
                          stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"the load benchmark failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def reindex_figures(archive: Path, index: Path) -> dict:
    """The nightly steps of benchmarks/reindex.py (`on_archive`) on the engine's index just built:
    nothing changed, --verify, 1% added and 0.1% changed, and the archive put back."""
    from benchmarks.reindex import on_archive

    posts, steps = on_archive(archive, index)
    for name, report in steps.items():
        print(f"  reindex {name:<34} {report['wall_seconds']:>8.2f} s", flush=True)
    return {"posts": posts, "steps": steps}


def bench_size(label: str, archive: Path, args, record: dict, save) -> None:
    """Measure one archive into `record`, calling `save()` after each step (a long run keeps
    what it measured if a later step fails)."""
    from benchmarks.index_bytes import print_breakdown, tantivy_breakdown, whoosh_breakdown

    posts = count_posts(archive)
    print(f"\n== {label}: {archive} ({posts:,} post files)", flush=True)
    base = args.work / "indexes" / f"scale-{label}"
    paths = {"engine": base / "engine", "tantivy": base / "tantivy"}
    record.update(size=label, archive=str(archive), post_files=posts, build={})
    warm_jieba_caches()
    warm_page_cache(archive)
    for engine in ("engine",) if args.skip_peer else ("engine", "tantivy"):
        record["build"][engine] = measured_build(engine, archive, paths[engine], args.procs)
        save()

    print("  index bytes ...", flush=True)
    record["index_bytes"] = {"engine": whoosh_breakdown(paths["engine"])}
    if not args.skip_peer:
        record["index_bytes"]["tantivy"] = tantivy_breakdown(paths["tantivy"])
    for report in record["index_bytes"].values():
        print_breakdown(report, record["build"]["engine"]["indexed"])
    save()

    print(f"  queries: {args.warmup} warm-up + {args.repeat} rounds", flush=True)
    record["queries"] = {"engine": engine_queries(paths["engine"], args.repeat, args.warmup)}
    if not args.skip_peer:
        record["queries"]["tantivy"] = peer_queries(paths["tantivy"], record["queries"]["engine"]["params"],
                                                    args.repeat, args.warmup)
    save()
    if not args.skip_load:
        record["load"] = {}
        for mix in args.load_mix:
            print(f"  8 clients, 2 workers, {args.load_seconds} s, {mix} mix ...", flush=True)
            record["load"][mix] = load(paths["engine"], args.load_seconds, mix)
            save()
    if not args.skip_reindex:
        record["reindex"] = reindex_figures(archive, paths["engine"])
        save()


# -- the table -----------------------------------------------------------------------

def _get(record: dict, *keys):
    value = record
    for key in keys:
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return value


def _ratio(a, b):
    return a / b if a is not None and b else None


def _cell(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _step(steps: dict, name: str) -> float | None:
    """The wall seconds of the reindex step named `name` (or, for a name with commas, containing it)."""
    for label, report in steps.items():
        if label == name or ("," in name and name in label):
            return report["wall_seconds"]
    return None


def table_rows(record: dict) -> list[tuple[str, str]]:
    b, q = record.get("build", {}), record.get("queries", {})
    indexed = _get(b, "engine", "indexed")
    e_bytes, t_bytes = _get(b, "engine", "index_bytes"), _get(b, "tantivy", "index_bytes")
    steps = _get(record, "reindex", "steps") or {}

    def per_post(total):
        return total / indexed if total is not None and indexed else None

    def gib(engine, key):
        value = _get(b, engine, key)
        return _cell(value / GIB if value is not None else None, 2)

    def mib_list(values):
        return ", ".join(str(v) for v in values) if values else "–"
    return [
        ("posts indexed (engine / tantivy)", f"{_cell(indexed)} / {_cell(_get(b, 'tantivy', 'indexed'))}"),
        ("build s, engine", _cell(_get(b, "engine", "seconds"), 1)),
        ("build s, tantivy+jieba", _cell(_get(b, "tantivy", "seconds"), 1)),
        ("build ratio engine / tantivy", _cell(_ratio(_get(b, "engine", "seconds"), _get(b, "tantivy", "seconds")), 2)),
        # The CPU ratio moves less than the wall-clock one with what else the machine is doing.
        ("build CPU s, engine / tantivy (ratio)", f"{_cell(_get(b, 'engine', 'cpu_s'), 0)} / "
                                                  f"{_cell(_get(b, 'tantivy', 'cpu_s'), 0)} "
                                                  f"({_cell(_ratio(_get(b, 'engine', 'cpu_s'), _get(b, 'tantivy', 'cpu_s')), 2)})"),
        ("generation prepared for searches s, engine", _cell(_get(b, "engine", "prepare_s"), 1)),
        ("build peak RSS, tree, GiB, engine", gib("engine", "peak_rss_tree_bytes")),
        ("build peak PSS, tree, GiB, engine", gib("engine", "peak_pss_tree_bytes")),
        ("build peak RSS, tree, GiB, tantivy", gib("tantivy", "peak_rss_tree_bytes")),
        ("build peak PSS, tree, GiB, tantivy", gib("tantivy", "peak_pss_tree_bytes")),
        ("index MiB, engine", _cell(e_bytes / MIB if e_bytes else None, 1)),
        ("index MiB, tantivy", _cell(t_bytes / MIB if t_bytes else None, 1)),
        ("index bytes per post, engine", _cell(per_post(e_bytes))),
        ("index bytes per post, tantivy", _cell(per_post(t_bytes))),
        ("index ratio engine / tantivy", _cell(_ratio(e_bytes, t_bytes), 2)),
        ("1 client p50 / p95 / max ms, engine", "{} / {} / {}".format(
            *(_cell(_get(q, "engine", "pooled", k), 1) for k in ("p50_ms", "p95_ms", "max_ms")))),
        ("1 client p50 / p95 / max ms, tantivy", "{} / {} / {}".format(
            *(_cell(_get(q, "tantivy", "pooled", k), 1) for k in ("p50_ms", "p95_ms", "max_ms")))),
        *((f"8 clients, {mix}: req/s / p95 ms / CPU ms a request / workers' peak RSS / own MiB",
           f"{_cell(_get(run, 'requests_per_s'), 1)} / {_cell(_get(run, 'p95_ms'), 1)} / "
           f"{_cell(_get(run, 'worker_cpu_ms_per_request'), 1)} / "
           f"{mib_list(_get(run, 'worker_peak_rss_mib'))} / {mib_list(_get(run, 'worker_anon_mib'))}")
          for mix, run in (_get(record, "load") or {}).items()),
        ("load average at the builds' start", f"{_cell(_get(b, 'engine', 'loadavg_before'), 2)} / "
                                              f"{_cell(_get(b, 'tantivy', 'loadavg_before'), 2)}"),
        ("reindex, no change, s", _cell(_step(steps, "nothing changed"), 1)),
        ("reindex, no change, --verify, s", _cell(_step(steps, "nothing changed, --verify"), 1)),
        ("reindex, +1% (and 0.1% changed), s", _cell(_step(steps, " added, "), 1)),
    ]


def print_table(records: list[dict]) -> None:
    print("\nSCALE  the engine against tantivy 0.27 + jieba (two processes), same run; queries: top 10 + "
          "snippets + facets (tantivy: top 10 + snippet, no facets), one client, warm, all kinds pooled")
    rows = [table_rows(record) for record in records]
    width = max(24, *(len(value) + 2 for row in rows for _, value in row))
    print(f"  {'':38}" + "".join(f"{record['size']:>{width}}" for record in records))
    for index, (label, _) in enumerate(rows[0]):
        print(f"  {label:38}" + "".join(f"{row[index][1]:>{width}}" for row in rows))


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


# -- main --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100k,250k,1m", help=f"comma-separated, of {', '.join(SIZES)}")
    ap.add_argument("--archive", type=Path, default=None,
                    help="one existing archive instead of the generated sizes (named by its folder)")
    ap.add_argument("--skip-peer", action="store_true", help="no tantivy build or queries (no ratios)")
    ap.add_argument("--skip-load", action="store_true", help="no 8-client run (it needs wrk)")
    ap.add_argument("--skip-reindex", action="store_true",
                    help="no nightly reindex steps")
    ap.add_argument("--repeat", type=int, default=30, help="timed rounds of the query mix (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--load-seconds", type=int, default=30, help="length of the 8-client run (default 30)")
    ap.add_argument("--load-mix", type=_load_mixes, default=list(LOAD_MIXES),
                    help="comma-separated load.py mixes, run one after the other: fixed (14 requests, "
                         "the engine's query cache answers repeats) and wide (150, every search a cold "
                         "one); default both")
    ap.add_argument("--procs", type=int, default=None, help="engine writer processes (default: the engine's own)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK,
                    help="cache of generated archives and built indexes (default benchmarks/.work)")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where the JSON goes")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="the shared folder with tools/wire_to_posts.py")
    args = ap.parse_args(argv)
    sizes = [size.strip().lower() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown or not sizes:
        ap.error(f"--sizes: {', '.join(unknown) or 'none given'}: choose from {', '.join(SIZES)}")
    if args.repeat < 1 or args.warmup < 0 or args.load_seconds < 1:
        ap.error("--repeat and --load-seconds must be at least 1, --warmup at least 0")
    if args.archive is not None and not args.archive.is_dir():
        ap.error(f"--archive: {args.archive} is not a folder")
    if not args.skip_load and not shutil.which("wrk"):
        ap.error("the 8-client run needs wrk (apt-get install wrk), or --skip-load")
    if not args.skip_peer:
        try:
            import tantivy  # noqa: F401
        except ImportError:
            ap.error("the peer needs tantivy: make bench-setup (or --skip-peer)")
    args.work, args.results = args.work.resolve(), args.results.resolve()
    os.chdir(REPO)

    runs: list[tuple[str, Path | None]] = (
        [(args.archive.resolve().name, args.archive.resolve())] if args.archive else [(size, None) for size in sizes])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"scale-{stamp}.json"
    result: dict = {"timestamp": stamp, "command": sys.argv,
                    "environment": {**environment(), "tantivy": _version("tantivy")},
                    "sizes": {label: SIZES[label][1] for label, _ in runs if label in SIZES}, "records": []}

    def save() -> None:
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1))

    for label, given in runs:
        archive = given or size_archive(label, args.work, args.shared)
        record: dict = {}
        result["records"].append(record)
        bench_size(label, archive, args, record, save)
        print_table(result["records"])
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
