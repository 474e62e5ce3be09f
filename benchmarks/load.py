"""The web app under load: `finsearch serve` on an index, wrk (a second process) requesting a query mix.

    .venv/bin/python -m benchmarks.load INDEX_DIR [--mix fixed|wide] [--target api|pages]
                                        [--connections 8] [--seconds 30] [--workers 2] [--threads N]

wrk is Debian's package `wrk` (apt-get install wrk). The mix cycles through
searches of the JSON API (`GET /api/search?q=…`; `--target pages`: the HTML
search pages, `GET /?q=…`): common and rare words, two- and three-word terms,
Latin/digit terms, with a date range, a category, sorted by date, a second page,
and the empty query (`--mix fixed`: 14 requests, so after the first round the
engine answers from its per-query cache, as it does for a reporter paging and
filtering); `--mix wide` adds every query of benchmarks/relevance_queries.tsv
(150 requests, more than the cache holds: every search is a cold one). Measures
from when the workers are done with their start-up work (the suggestion
vocabulary, built in the background: minutes at a million posts before FS1's
bulk read, which a load run then shared the cores with), and says when. Prints
requests/s, latency p50/p95/p99, the workers' CPU time a request, errors, and
each gunicorn worker's peak RSS, current PSS (file pages shared between workers
counted once) and its own anonymous memory (RssAnon: without the index files'
mapped pages); one JSON object at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.relevance import hand_written_queries
from benchmarks.run import proc_kib_field, process_children


def fixed_mix(stats: dict) -> list[dict]:
    """14 requests; the date range (the middle fifth of the archive's span) and the category (the
    largest) come from the served index's /api/stats, so the mix fits any corpus."""
    first, last = (dt.date.fromisoformat(stats[key][:10]) for key in ("first_date", "last_date"))
    span = last - first
    date_from, date_to = first + span * 2 / 5, first + span * 3 / 5
    category = max(stats["category"], key=lambda facet: facet["count"])["value"]
    return [
        {"q": "金融"}, {"q": "人工智能"}, {"q": "供应链金融"}, {"q": "新能源汽车产业"}, {"q": "ETF"},
        {"q": "600519"}, {"q": "凉爽"}, {"q": "银行", "from": date_from.isoformat(), "to": date_to.isoformat()},
        {"q": "基金", "category": category}, {"q": "芯片", "sort": "newest"}, {"q": "证券", "page": "2"},
        {"q": "央行 降准"}, {"q": "\"数字人民币\" OR 普惠金融"}, {},
    ]


LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "duration_s": %%.3f, "socket_errors": %%d, "non_2xx": %%d, ' ..
    '"p50_ms": %%.2f, "p95_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_memory(server_pid: int) -> list[tuple[int, int, int]]:
    """(peak RSS, PSS, private anonymous RSS) in bytes of each child (gunicorn worker) of the
    server process. RSS counts the pages of the memory-mapped index files a worker has touched,
    which are the page cache's, shared by the workers; RssAnon is the worker's own."""
    sizes = []
    for pid in process_children().get(server_pid, ()):
        try:
            hwm, pss = proc_kib_field(pid, "status", "VmHWM:"), proc_kib_field(pid, "smaps_rollup", "Pss:")
            anon = proc_kib_field(pid, "status", "RssAnon:")
        except (OSError, ValueError):
            continue
        if hwm is not None and pss is not None and anon is not None:
            sizes.append((hwm, pss, anon))
    return sizes


def cpu_seconds(pids: list[int]) -> float:
    """The user + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        total += sum(int(field) for field in stat[stat.rindex(b")") + 2:].split()[11:13])
    return total / os.sysconf("SC_CLK_TCK")


def wait_until_idle(server_pid: int, limit: float = 900) -> None:
    """Until the workers are done with their start-up work (the suggestion vocabulary is built in
    the background): a second in which they use under a tenth of a core."""
    deadline = time.time() + limit
    workers = process_children().get(server_pid, [])
    used = cpu_seconds(workers)
    while time.time() < deadline:
        time.sleep(1)
        now = cpu_seconds(workers)
        if now - used < 0.1:
            return
        used = now
    sys.exit(f"the workers were still busy {limit:g} s after start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--mix", choices=["fixed", "wide"], default="fixed")
    parser.add_argument("--target", choices=["api", "pages"], default="api")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the server's)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "finsearch", "serve", "--index", str(args.index),
                               "--port", str(port), "--workers", str(args.workers),
                               *(["--threads", str(args.threads)] if args.threads else [])],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.time()
    try:
        deadline = started + 60
        while True:
            try:
                stats = json.loads(urllib.request.urlopen(base + "/api/stats", timeout=5).read())
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("the server did not start")
                time.sleep(0.3)
        fixed = fixed_mix(stats)
        mix = fixed if args.mix == "fixed" else fixed + [{"q": query.text} for query in hand_written_queries()]
        prefix = "/api/search?" if args.target == "api" else "/?"
        paths = [prefix + urlencode(params) for params in mix]
        # How long a worker took from start to its first search answered (opening the generation,
        # jieba), with the suggestions' vocabulary being built beside it.
        urllib.request.urlopen(base + paths[0], timeout=30).read()
        first_search_s = time.time() - started
        for path in paths[:len(fixed)]:  # warm: jieba, OpenCC, the facet arrays in every worker
            for _ in range(args.workers * 2):
                urllib.request.urlopen(base + path, timeout=30).read()
        wait_until_idle(server.pid)
        ready_s = time.time() - started
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % ", ".join(json.dumps(p) for p in paths))
        workers = process_children().get(server.pid, [])
        cpu_before = cpu_seconds(workers)
        done = subprocess.run(["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s",
                               "--timeout", "10s", "-s", script.name, base], capture_output=True, text=True,
                              check=True)
        os.unlink(script.name)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["requests_per_s"] = round(figures["requests"] / figures["duration_s"], 1)
        figures["errors"] = figures["socket_errors"] + figures["non_2xx"]
        # What the workers spend on a request, whatever share of the cores wrk and others took.
        figures["worker_cpu_ms_per_request"] = round((cpu_seconds(workers) - cpu_before) / figures["requests"] * 1000, 2)
        memory = worker_memory(server.pid)
        figures["worker_peak_rss_mib"] = [round(rss / 2**20) for rss, _, _ in memory]
        figures["worker_pss_mib"] = [round(pss / 2**20) for _, pss, _ in memory]
        figures["worker_anon_mib"] = [round(anon / 2**20) for _, _, anon in memory]
        figures.update(ready_s=round(ready_s, 1), first_search_s=round(first_search_s, 2), mix=args.mix, target=args.target, connections=args.connections, seconds=args.seconds, workers=args.workers,
                       queries=len(paths))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{figures['mix']} mix of {figures['queries']} ({figures['target']}), {figures['connections']} connections, "
          f"{figures['seconds']} s, {figures['workers']} workers (first search {figures['first_search_s']} s, "
          f"ready {figures['ready_s']} s after start): "
          f"{figures['requests_per_s']} requests/s, p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
          f"p99 {figures['p99_ms']:.1f} ms, {figures['worker_cpu_ms_per_request']} ms of workers' CPU a request, "
          f"{figures['errors']} errors, worker peak RSS "
          f"{figures['worker_peak_rss_mib']} MiB, PSS {figures['worker_pss_mib']} MiB, "
          f"own (RssAnon) {figures['worker_anon_mib']} MiB")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
