"""Benchmark the engine against the baseline (jieba's README wiring of Whoosh).

    .venv/bin/python -m benchmarks.run --corpus 10k          # 10,000 long synthetic posts
    .venv/bin/python -m benchmarks.run --corpus wire         # the 102,775 real wire posts
    .venv/bin/python -m benchmarks.run --corpus all
    .venv/bin/python -m benchmarks.run --corpus 10k --queries-only --repeat 50

The machine is shared and noisy, so every figure is taken side by side with the
baseline in the same run and reported with its ratio (engine / baseline). For
each corpus: a full build of each engine (one after the other, each in a fresh
process, memory measured over the whole process tree), then the query mix
(interleaved per round). Prints a table and writes
benchmarks/results/<corpus>-<timestamp>.json. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import unicodedata
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SHARED = REPO.parent / "shared"
DEFAULT_WORK = HERE / ".work"
DEFAULT_RESULTS = HERE / "results"
ENGINES = ("engine", "baseline")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 2 ** 20


# -- corpora ---------------------------------------------------------------

CORPORA = {
    # name: (what, the tool in the shared folder that writes it, the tool's arguments for the folder OUT)
    "10k": ("10,000 long synthetic posts (make_corpus.py -n 10000 --seed 1)", "tools/make_corpus.py",
            lambda out: ["--out", str(out), "-n", "10000", "--seed", "1"]),
    "wire": ("the 102,775 real wire posts (wire_to_posts.py)", "tools/wire_to_posts.py", lambda out: [str(out)]),
}


def require_shared(shared: Path, *needed: str) -> None:
    """Exit with code 2 and one line when the shared folder, or a file needed in it, is missing.

    Only the benchmarks read it (its corpora are too big for the repository); the tests never do.
    """
    for rel in needed:
        if not (shared / rel).exists():
            print(f"benchmarks: {shared / rel} is missing: the benchmark corpora come from the shared folder "
                  f"beside the repository (--shared DIR to name another)", file=sys.stderr)
            raise SystemExit(2)


def ensure_corpus(name: str, work: Path, shared: Path) -> Path:
    """The corpus' archive in the work dir, generated on first use (from the shared folder)."""
    _, tool, tool_args = CORPORA[name]
    return ensure_archive(name, tool, tool_args, work, shared)


def ensure_archive(name: str, tool: str, tool_args, work: Path, shared: Path) -> Path:
    """The archive `name` in the work dir, written on first use by `tool` (a script of the shared
    folder) with `tool_args(OUT)`; a partial archive never gets the name."""
    archive = work / "corpora" / name
    if archive.is_dir():
        return archive
    require_shared(shared, tool)
    partial = archive.with_name(name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(shared / tool), *tool_args(partial)]
    print(f"generating corpus {name} into {archive} ...", flush=True)
    subprocess.run(command, check=True)
    partial.rename(archive)  # only a complete corpus gets the real name
    return archive


def count_posts(archive: Path) -> int:
    from finsearch.indexer.ingest import find_posts
    return len(find_posts(archive))


def warm_page_cache(archive: Path) -> None:
    """Read every post once so neither build pays for a cold disk cache."""
    for path in archive.rglob("*"):
        if path.is_file():
            path.read_bytes()


def warm_jieba_caches() -> None:
    """Let both engines write their jieba dictionary cache before anything is timed."""
    subprocess.run([sys.executable, "-c",
                    "from analysis.segmenter import segmenter; segmenter(); "
                    "import jieba; jieba.initialize()"], check=True, cwd=REPO)


# -- builds ----------------------------------------------------------------

def process_children() -> dict[int, list[int]]:
    """Each running process' children, by parent pid (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def proc_kib_field(pid: int, file: str, key: str) -> int | None:
    """A `key: N kB` line of /proc/PID/FILE (status, smaps_rollup), in bytes; None if absent."""
    with open(f"/proc/{pid}/{file}") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return None


def _process_tree(root: int) -> list[int]:
    children = process_children()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int) -> int:
    try:
        return proc_kib_field(pid, "smaps_rollup", "Pss:") or 0
    except (OSError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    """Samples the summed RSS (every `interval`) and PSS (every PSS_EVERY samples) of a process
    and all its descendants. PSS is read less often: the kernel walks every mapping for it, which
    at 10 reads a second of gigabyte processes cost a third of a core on a 2-core machine."""

    PSS_EVERY = 10

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = self.samples = self.max_procs = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            pids = _process_tree(self.pid)
            self.peak_rss = max(self.peak_rss, sum(_rss(pid) for pid in pids))
            if self.samples % self.PSS_EVERY == 0:
                self.peak_pss = max(self.peak_pss, sum(_pss(pid) for pid in pids))
            self.max_procs = max(self.max_procs, len(pids))
            self.samples += 1
            self.stop.wait(self.interval)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measured_build(engine: str, archive: Path, index: Path, procs: int | None) -> dict:
    command = [sys.executable, "-m", "benchmarks.build_one", engine, str(archive), str(index)]
    if procs and engine == "engine":
        command += ["--procs", str(procs)]
    print(f"  building {engine} ...", end="", flush=True)
    load_before = os.getloadavg()[0]
    commit, dirty = _git("rev-parse", "HEAD"), bool(_git("status", "--porcelain"))  # the code the build runs
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    sampler = TreeSampler(child.pid)
    sampler.start()
    stdout, _ = child.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"the {engine} build failed (exit {child.returncode})")
    report = json.loads(stdout)
    cpu = sum(report[who][k] for who in ("self", "children") for k in ("user_s", "sys_s"))
    out = {
        "indexed": report["indexed"], "skipped": report["skipped"], "procs": report["procs"],
        "seconds": report["seconds"], "process_wall_s": wall,
        "posts_per_s": report["indexed"] / report["seconds"] if report["seconds"] else None,
        "cpu_s": cpu,
        "index_bytes": dir_size(Path(report["data_dir"])),
        "peak_rss_tree_bytes": sampler.peak_rss,
        "peak_pss_tree_bytes": sampler.peak_pss,
        "ru_maxrss_self_bytes": report["self"]["maxrss_kib"] * 1024,
        "ru_maxrss_children_bytes": report["children"]["maxrss_kib"] * 1024,
        "max_processes": sampler.max_procs, "samples": sampler.samples,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg()[0],
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": commit, "git_dirty": dirty,
    }
    if engine == "engine":
        out["prepare_s"] = prepared_for_searches(index)
    print(f" {out['seconds']:.1f} s, {out['indexed']} posts", flush=True)
    return out


def prepared_for_searches(index: Path) -> float:
    """Prepare the engine's new generation as `finsearch index` does once it has published, in a
    process of its own after the build's figures: a later step then opens the index as a server
    finds it. The seconds it took."""
    script = "import sys; from finsearch.search import prepare_generation; print(prepare_generation(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", script, str(index)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                          check=True)
    return float(done.stdout.split()[-1])


def combine_runs(runs: list[dict]) -> dict:
    """One build record from several rounds: the median of each figure, and every round."""
    out = dict(runs[-1])
    for key, value in runs[-1].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(np.median([r[key] for r in runs]))
            if isinstance(value, int):
                out[key] = int(round(out[key]))
    out["rounds"] = len(runs)
    if len(runs) > 1:
        out["runs"] = runs
    return out


def index_paths(work: Path, corpus: str) -> dict[str, Path]:
    base = work / "indexes" / corpus
    return {"engine": base / "engine", "baseline": base / "baseline"}


def index_usable(engine: str, path: Path) -> bool:
    """Whether the index exists and has the fields today's code expects (the schema evolves)."""
    from whoosh import index as whoosh_index
    if engine == "engine":
        from finsearch.storage.schema import make_schema
        path = path / "current"
    else:
        from benchmarks.baseline import make_schema
    if not (path.exists() and whoosh_index.exists_in(str(path))):
        return False
    return sorted(whoosh_index.open_dir(str(path)).schema.names()) == sorted(make_schema().names())


# -- queries ---------------------------------------------------------------

def run_queries(paths: dict[str, Path], engines: tuple[str, ...], repeat: int, warmup: int,
                engine_cache: bool = False) -> dict:
    command = [sys.executable, "-m", "benchmarks.queries", str(paths["engine"])]
    if "baseline" in engines:
        command.append(str(paths["baseline"]))
    command += ["--repeat", str(repeat), "--warmup", str(warmup), "--progress"]
    if engine_cache:
        command.append("--engine-cache")
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"the query benchmark failed (exit {done.returncode})")
    return json.loads(done.stdout)


def _pcts(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    p50, p95, p99 = np.percentile(np.array(samples) * 1000, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "n": len(samples)}


def _ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def summarize_queries(raw: dict) -> dict:
    kinds = []
    ratios = {"p50_ms": [], "p95_ms": [], "p99_ms": []}
    for k in raw["kinds"]:
        e, b = _pcts(k["engine_s"]), _pcts(k["baseline_s"])
        row = {"label": k["label"], "role": k["role"], "term": k["term"], "variant": k["variant"],
               "engine_total": k["engine_total"], "engine_articles": k["engine_articles"],
               "baseline_total": k["baseline_total"] if b else None,
               "engine": e, "baseline": b,
               "ratio": {p: _ratio(e[p], b[p]) for p in ratios} if b else None}
        if b:
            for p in ratios:
                ratios[p].append(row["ratio"][p])
        kinds.append(row)
    everything = {who: _pcts([s for k in raw["kinds"] for s in k[f"{who}_s"]]) for who in ENGINES}
    pooled = {"engine": everything["engine"], "baseline": everything["baseline"],
              "ratio": ({p: _ratio(everything["engine"][p], everything["baseline"][p]) for p in ratios}
                        if everything["baseline"] else None)}
    geomean = {p: (math.exp(sum(math.log(r) for r in rs) / len(rs)) if rs else None) for p, rs in ratios.items()}
    return {"kinds": kinds, "pooled": pooled, "geomean_ratio": geomean}


# -- output ----------------------------------------------------------------

def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _percentile_cells(row: dict) -> str:
    """' | p E  p B  ratio' for p50, p95 and p99 of one row of the query table."""
    cells = ""
    for pct in ("p50_ms", "p95_ms", "p99_ms"):
        e = row["engine"][pct]
        b = row["baseline"][pct] if row["baseline"] else None
        r = row["ratio"][pct] if row["ratio"] else None
        cells += f" |{_num(e):>8}{_num(b):>8}{_num(r, 2):>7}"
    return cells


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _rjust(text: str, width: int) -> str:
    return " " * max(0, width - _width(text)) + text


def _num(value, digits=1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def print_build_table(corpus: str, posts: int, build: dict) -> None:
    e, b = build.get("engine"), build.get("baseline")
    rows = [
        ("posts indexed", "indexed", 1, 0),
        ("wall time, s", "seconds", 1, 1),
        ("posts/s", "posts_per_s", 1, 1),
        ("CPU time, s (all processes)", "cpu_s", 1, 1),
        ("writer processes", "procs", 1, 0),
        ("index size, MiB", "index_bytes", MIB, 1),
        ("peak RSS, process tree, MiB", "peak_rss_tree_bytes", MIB, 0),
        ("peak PSS, process tree, MiB", "peak_pss_tree_bytes", MIB, 0),
        ("ru_maxrss self, MiB", "ru_maxrss_self_bytes", MIB, 0),
        ("ru_maxrss largest child, MiB", "ru_maxrss_children_bytes", MIB, 0),
        ("load average at start (1 min)", "loadavg_before", 1, 2),
        ("load average at end (1 min)", "loadavg_after", 1, 2),
    ]
    rounds = max((r.get("rounds", 1) for r in build.values() if r), default=1)
    print(f"\nBUILD  corpus {corpus}: {posts:,} post files, full build from nothing"
          + (f"; medians of {rounds} builds each (ABBA order)" if rounds > 1 else "; one build each"))
    earlier = [f"{who} from {r['when']}" for who, r in build.items() if r and r.get("earlier")]
    if earlier:
        print("       (not rebuilt in this run: " + ", ".join(earlier) + ")")
    print(f"  {'':34}{'engine':>12}{'baseline':>12}{'ratio':>9}")
    for label, key, scale, digits in rows:
        ev = e[key] / scale if e and e.get(key) is not None else None
        bv = b[key] / scale if b and b.get(key) is not None else None
        r = None if key.startswith("loadavg") else _ratio(ev, bv)

        def fmt(v, digits=digits):
            return "–" if v is None else _num(int(round(v)), 0) if digits == 0 else _num(float(v), digits)
        print(f"  {label:34}{fmt(ev):>12}{fmt(bv):>12}{_num(r, 2) if r is not None else '–':>9}")


def print_query_table(corpus: str, raw: dict, summary: dict) -> None:
    p = raw["params"]
    print(f"\nQUERIES  corpus {corpus}: top 10 with snippets and facet counts, ms per query; "
          f"{raw['warmup']} warm-up rounds, then {raw['repeat']} rounds, engine and baseline interleaved")
    print(f"  dates = {p['date_from']} .. {p['date_to']}; category = {p['category']}; "
          f"rare word = {p['rare_word']}; engine's match cache: {p.get('engine_cache', 'none')}; "
          f"ratio = engine / baseline (below 1: engine faster)")
    kw = 36
    head = _ljust("  kind", kw + 2) + f"{'hits E':>7}{'hits B':>7}"
    for pct in ("p50", "p95", "p99"):
        head += f" |{pct + ' E':>8}{pct + ' B':>8}{'ratio':>7}"
    print(head)
    for row in summary["kinds"]:
        line = "  " + _ljust(row["label"], kw) + f"{row['engine_articles']:>7}"
        line += f"{row['baseline_total'] if row['baseline_total'] is not None else '–':>7}"
        print(line + _percentile_cells(row))
    print("  " + _ljust("all kinds pooled", kw) + f"{'':>7}{'':>7}" + _percentile_cells(summary["pooled"]))
    g = summary["geomean_ratio"]
    line = "  " + _ljust("geometric mean of the kinds' ratios", kw) + f"{'':>7}{'':>7}"
    for pct in ("p50_ms", "p95_ms", "p99_ms"):
        line += f" |{'':>8}{'':>8}{_num(g[pct], 2):>7}"
    print(line)
    o = raw["open_first_query_s"]
    print(f"  open index + first query, s:  engine {_num(o.get('engine'), 2)}   "
          f"baseline {_num(o.get('baseline'), 2)}   ratio {_num(_ratio(o.get('engine'), o.get('baseline')), 2)}")
    la = raw["loadavg"]
    print(f"  load average before/after: {la['before'][0]:.2f} / {la['after'][0]:.2f} (1 min)")


def _git(*args) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def environment() -> dict:
    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "whoosh": version("whoosh-reloaded") or version("Whoosh"), "jieba": version("jieba"),
            "numpy": version("numpy"), "git_commit": _git("rev-parse", "HEAD"),
            "git_dirty": bool(_git("status", "--porcelain")), "loadavg": list(os.getloadavg())}


# -- main ------------------------------------------------------------------

def bench_corpus(corpus: str, args) -> Path:
    engines = ("engine",) if args.skip_baseline else ENGINES
    archive = args.archive or ensure_corpus(corpus, args.work, args.shared)
    posts = count_posts(archive)
    print(f"\n== corpus {corpus}: {archive} ({posts:,} post files)", flush=True)
    paths = index_paths(args.work, corpus)
    build: dict[str, dict | None] = {}
    to_build = []
    for engine in engines:
        record = paths[engine].with_name(engine + ".build.json")
        if args.queries_only and record.exists() and index_usable(engine, paths[engine]):
            build[engine] = dict(json.loads(record.read_text()), earlier=True)
            continue
        if args.queries_only:
            print(f"  no usable {engine} index in the work dir (missing, or built with an older schema)")
        to_build.append(engine)
    if to_build:
        warm_jieba_caches()
        warm_page_cache(archive)
        runs: dict[str, list[dict]] = {engine: [] for engine in to_build}
        for round_no in range(args.build_rounds):
            # ABBA order over rounds, so a slow drift of the load hits both alike.
            for engine in (to_build if round_no % 2 == 0 else to_build[::-1]):
                runs[engine].append(measured_build(engine, archive, paths[engine], args.procs))
        for engine in to_build:
            build[engine] = combine_runs(runs[engine])
            paths[engine].with_name(engine + ".build.json").write_text(json.dumps(build[engine]))
    if "baseline" in build and build["engine"]["indexed"] != build["baseline"]["indexed"]:
        print(f"  warning: the engines indexed different numbers of posts "
              f"({build['engine']['indexed']} vs {build['baseline']['indexed']})")

    print(f"  queries: {args.warmup} warm-up + {args.repeat} rounds", flush=True)
    raw = run_queries(paths, engines, args.repeat, args.warmup, args.engine_cache)
    summary = summarize_queries(raw)

    print_build_table(corpus, posts, build)
    print_query_table(corpus, raw, summary)

    build_ratio = None
    if build.get("baseline"):
        keys = ("seconds", "posts_per_s", "cpu_s", "index_bytes", "peak_rss_tree_bytes",
                "peak_pss_tree_bytes", "ru_maxrss_self_bytes", "ru_maxrss_children_bytes")
        build_ratio = {k: _ratio(build["engine"][k], build["baseline"][k]) for k in keys}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {
        "corpus": corpus, "description": CORPORA.get(corpus, ("", None))[0], "archive": str(archive),
        "post_files": posts, "timestamp": stamp, "command": sys.argv, "environment": environment(),
        "ratio_means": "engine / baseline",
        "build": {**build, "ratio": build_ratio},
        "queries": {"params": raw["params"], "repeat": raw["repeat"], "warmup": raw["warmup"],
                    "open_first_query_s": raw["open_first_query_s"], "loadavg": raw["loadavg"],
                    "summary": summary,
                    "samples_s": {k["label"]: {"engine": k["engine_s"], "baseline": k["baseline_s"]}
                                  for k in raw["kinds"]}},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{corpus}-{stamp}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"\nwrote {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", choices=[*CORPORA, "all"], default="10k")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK,
                    help="cache of generated corpora and built indexes (default benchmarks/.work)")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="where the JSON goes")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="the shared folder with tools/make_corpus.py and tools/wire_to_posts.py")
    ap.add_argument("--archive", type=Path, default=None,
                    help="use this existing posts folder as the corpus instead of generating it "
                         "(one corpus only; the indexes still go to the work dir under the corpus name)")
    ap.add_argument("--queries-only", action="store_true",
                    help="reuse the indexes in the work dir (build only the missing ones)")
    ap.add_argument("--skip-baseline", action="store_true",
                    help="the engine alone (no baseline build or queries, no ratios)")
    ap.add_argument("--repeat", type=int, default=30, help="timed rounds of the query mix (default 30)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    ap.add_argument("--engine-cache", action="store_true",
                    help="keep the engine's per-query match cache across repetitions (measures repeated "
                         "queries: page 2, a facet click); default: emptied before every engine query")
    ap.add_argument("--build-rounds", type=int, default=1,
                    help="full builds of each engine, in ABBA order; the figures are medians (default 1)")
    ap.add_argument("--procs", type=int, default=None,
                    help="engine writer processes (default: the engine's own default)")
    args = ap.parse_args(argv)
    if args.archive and args.corpus == "all":
        ap.error("--archive needs a single --corpus")
    if args.repeat < 1 or args.warmup < 0 or args.build_rounds < 1:
        ap.error("--repeat and --build-rounds must be at least 1, --warmup at least 0")
    args.work = args.work.resolve()
    args.results = args.results.resolve()
    if args.archive:
        args.archive = args.archive.resolve()
    os.chdir(REPO)
    for corpus in (CORPORA if args.corpus == "all" else (args.corpus,)):
        bench_corpus(corpus, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
