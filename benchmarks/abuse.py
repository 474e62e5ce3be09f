"""Ordinary searches while the site is abused: alone, beside slow connections, beside exporters.

    .venv/bin/python -m benchmarks.abuse INDEX [--workers 2] [--threads N] [--heavy-requests N]
                                         [--seconds 20] [--slow 50] [--exporters 4]
    .venv/bin/python -m benchmarks.abuse INDEX --url http://127.0.0.1:8000   # a server already running on INDEX

Starts `finsearch serve --index INDEX` (unless --url) and runs three phases in one run, each
`--seconds` long, with one sequential client searching a mix of real queries (the fixed and
hand-written queries of benchmarks.load, /api/search, a new connection each, as a proxy or a
browser's fresh tab makes them; 10 s timeout):

1. alone;
2. beside `--slow` connections that dribble their request head one byte a second, as many that
   send a body one byte a second, and as many that read a large page 256 bytes a second through
   a small receive window (each reconnects when the server drops it, as an attacker would),
   measured from 10 s after they start (their fifty large pages are made first: real work);
3. beside `--exporters` clients each downloading every post (`/export.csv?q=`) again and
   again; a refused export (429) waits its Retry-After, as a polite script does.

A search fails when it times out, is not a 200, or its total differs from the total the
server gave before the phases. Each export is whole (its rows equal the search's `articles`,
its last line complete), cut visibly (the transfer broke off or its last line is broken),
cut silently (a complete transfer, fewer rows), refused (429) or failed (any other status);
the time a whole one took is printed too.
Prints the phases side by side and writes JSON to benchmarks/results/abuse-<time>.json.
Exits 2 without an index.
"""
from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import multiprocessing
import os
import select
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from benchmarks.load import fixed_mix, free_port, wait_until_idle
from benchmarks.relevance import hand_written_queries

RESULTS = Path(__file__).resolve().parent / "results"
SEARCH_TIMEOUT = 10  # s: a search slower than this counts as failed
EXPORT_TIMEOUT = 300  # s without a byte before an export counts as failed
SLOW_TICK = 1.0  # s between the slow clients' bytes
SLOW_READ_BYTES = 256
SLOW_BODY_LENGTH = 60_000  # announced, never sent: below the app's request body limit
SLOW_RECEIVE_WINDOW = 4096
SETTLE = 3  # s for the abusers to take hold before the searches are measured
# The slow readers' first requests are fifty large pages at once: real work, done before the
# searches are measured, which are to show what the held connections cost.
SLOW_SETTLE = 10  # s


# -- the searching client -------------------------------------------------

def search_paths(base: str) -> list[str]:
    stats = json.loads(urllib.request.urlopen(f"{base}/api/stats", timeout=60).read())
    mix = fixed_mix(stats) + [{"q": query.text} for query in hand_written_queries()]
    return ["/api/search?" + urlencode(params) for params in mix]


def expected_totals(base: str, paths: list[str]) -> dict[str, int]:
    """Each query's total on the quiet server (also warms the engine's caches)."""
    return {path: json.loads(urllib.request.urlopen(base + path, timeout=60).read())["total"] for path in paths}


def search_for(base: str, paths: list[str], expected: dict[str, int], seconds: float) -> dict:
    latencies, failures = [], []
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline:
        path = paths[number % len(paths)]
        number += 1
        started = time.monotonic()
        try:
            with urllib.request.urlopen(base + path, timeout=SEARCH_TIMEOUT) as response:
                total = json.loads(response.read())["total"]
        except (OSError, ValueError) as error:  # HTTPError, timeouts and resets are OSErrors
            failures.append(f"{path}: {type(error).__name__}: {str(error)[:80]}")
            continue
        if total != expected[path]:
            failures.append(f"{path}: total {total}, expected {expected[path]}")
            continue
        latencies.append((time.monotonic() - started) * 1000)
    ordered = sorted(latencies)
    return {"searches": number, "failed": len(failures), "failures": failures[:5],
            "p50_ms": round(statistics.median(ordered), 1) if ordered else None,
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1) if ordered else None,
            "max_ms": round(ordered[-1], 1) if ordered else None}


# -- slow connections -----------------------------------------------------

class SlowClient:
    """One connection that holds a server's attention as cheaply as possible; reconnects when dropped."""

    def __init__(self, kind: str, host: str, port: int):
        self.kind, self.host, self.port = kind, host, port
        self.sock: socket.socket | None = None
        self.head = b""  # sent as fast as the server takes it
        self.dribble = b""  # then one byte a tick
        self.drops = 0

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.kind == "reader":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_WINDOW)
        self.sock.setblocking(False)
        self.sock.connect_ex((self.host, self.port))
        host = f"Host: {self.host}:{self.port}\r\n"
        if self.kind == "header":  # a head that never ends
            self.head = b""
            self.dribble = f"GET /?q=%E9%93%B6%E8%A1%8C HTTP/1.1\r\n{host}X-Padding: ".encode() + b"a" * 100_000
        elif self.kind == "body":
            self.head = (f"GET /?q=%E9%93%B6%E8%A1%8C HTTP/1.1\r\n{host}Content-Type: text/plain\r\n"
                         f"Content-Length: {SLOW_BODY_LENGTH}\r\n\r\n").encode()
            self.dribble = b"x" * SLOW_BODY_LENGTH
        else:  # a large page, read slowly
            self.head = f"GET /?q=%E5%85%AC%E5%8F%B8&size=100 HTTP/1.1\r\n{host}\r\n".encode()
            self.dribble = b""

    def dropped(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.drops += 1

    def tick(self) -> None:
        if self.sock is None:
            self.connect()
            return
        try:
            if self.kind == "reader" and not self.head:
                if not self.sock.recv(SLOW_READ_BYTES):
                    self.dropped()
                return
            readable, writable, _ = select.select([self.sock], [self.sock], [], 0)
            if readable:  # an answer (408, 413 …) or a close: the server let go
                self.dropped()
            elif not writable:  # still connecting, or the window is full
                return
            elif self.head:
                self.head = self.head[self.sock.send(self.head):]
            elif self.dribble:
                self.sock.send(self.dribble[:1])
                self.dribble = self.dribble[1:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.dropped()


def run_slow_clients(host: str, port: int, count: int, stop, report) -> None:
    clients = [SlowClient(kind, host, port) for kind in ("header", "body", "reader") for _ in range(count)]
    while not stop.is_set():
        for client in clients:
            client.tick()
        stop.wait(SLOW_TICK)
    report.put({kind: sum(c.drops for c in clients if c.kind == kind) for kind in ("header", "body", "reader")})
    for client in clients:
        if client.sock is not None:
            client.sock.close()


# -- exporters ------------------------------------------------------------

def export_once(host: str, port: int, articles: int) -> tuple[str, float]:
    """(outcome, seconds to wait before the next one)."""
    connection = http.client.HTTPConnection(host, port, timeout=EXPORT_TIMEOUT)
    try:
        connection.request("GET", "/export.csv?q=")
        response = connection.getresponse()
        if response.status == 429:
            response.read()
            return "refused", float(response.headers.get("Retry-After") or 1)
        if response.status != 200:
            response.read()
            return "failed", 1.0
        promised = int(response.headers.get("X-Export-Rows") or -1)  # what a whole export holds
        try:
            body = response.read()
        except (http.client.IncompleteRead, OSError):
            return "cut visibly", 0.0
    except OSError:
        return "failed", 1.0
    finally:
        connection.close()
    if not body.endswith(b"\r\n"):
        return "cut visibly", 0.0
    rows = sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig", errors="replace")))) - 1
    if rows != promised:
        return "cut visibly", 0.0  # fewer rows than the X-Export-Rows header promised
    return ("whole" if rows == articles else "cut silently"), 0.0


def run_exporter(host: str, port: int, articles: int, stop, report) -> None:
    outcomes: dict[str, int] = {}
    whole_seconds = []
    while not stop.is_set():
        started = time.monotonic()
        outcome, wait = export_once(host, port, articles)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "whole":
            whole_seconds.append(time.monotonic() - started)
        stop.wait(wait)
    report.put({"outcomes": outcomes, "whole_seconds": whole_seconds})


# -- phases ---------------------------------------------------------------

def phase(name: str, base: str, paths, expected, seconds: float, abusers, settle: float = SETTLE) -> dict:
    """Searches for `seconds` while the abusers (functions of (stop, report)) run in processes."""
    stop, report = multiprocessing.Event(), multiprocessing.Queue()
    processes = [multiprocessing.Process(target=target, args=(stop, report), daemon=True) for target in abusers]
    for process in processes:
        process.start()
    if processes:
        time.sleep(settle)
    figures = search_for(base, paths, expected, seconds)
    stop.set()
    reports = [report.get(timeout=EXPORT_TIMEOUT + 60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    figures["abusers"] = reports
    print(f"  {name}: {figures['searches']} searches, p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
          f"{figures['failed']} failed", flush=True)
    return figures


def summed(reports: list[dict]) -> dict[str, int]:
    total: dict[str, int] = {}
    for report in reports:
        for key, value in report.items():
            total[key] = total.get(key, 0) + value
    return total


def is_index(path: Path) -> bool:
    return (path / "current").exists()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path, nargs="?")
    parser.add_argument("--url", help="a server already serving INDEX (default: start finsearch serve)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, help="finsearch serve's --threads (default: its own)")
    parser.add_argument("--heavy-requests", type=int, help="finsearch serve's --heavy-requests (default: its own)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--slow", type=int, default=50, help="slow connections of each kind")
    parser.add_argument("--exporters", type=int, default=4)
    args = parser.parse_args()
    if args.index is None or not is_index(args.index):
        print(f"benchmarks.abuse: no index at {args.index or '(none given)'}; build one with "
              "`finsearch index ARCHIVE --index DIR` (the wire archive: ../shared/tools/wire_to_posts.py)",
              file=sys.stderr)
        return 2

    server = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        base = f"http://127.0.0.1:{free_port()}"
        options = [("--threads", args.threads), ("--heavy-requests", args.heavy_requests)]
        server = subprocess.Popen([sys.executable, "-m", "finsearch", "serve", "--index", str(args.index),
                                   "--port", str(urlsplit(base).port), "--workers", str(args.workers),
                                   *(f"{name}={value}" for name, value in options if value is not None)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host, port = urlsplit(base).hostname or "127.0.0.1", urlsplit(base).port or 80
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                paths = search_paths(base)
                break
            except OSError:
                if time.monotonic() > deadline or (server is not None and server.poll() is not None):
                    print("benchmarks.abuse: the server did not answer", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        expected = expected_totals(base, paths)
        expected_totals(base, paths)  # a second round: both workers warm
        if server is not None:
            wait_until_idle(server.pid)
        articles = json.loads(urllib.request.urlopen(f"{base}/api/search?q=", timeout=60).read())["articles"]
        load_at_start = os.getloadavg()[0]
        print(f"{base}: {len(paths)} queries, every post = {articles} rows; {args.seconds:g} s a phase; "
              f"load average {load_at_start:.1f}", flush=True)

        def slow(stop, report):
            run_slow_clients(host, port, args.slow, stop, report)

        def exporter(stop, report):
            run_exporter(host, port, articles, stop, report)

        phases = {
            "alone": phase("alone", base, paths, expected, args.seconds, []),
            "slow": phase(f"{args.slow} slow connections of each kind", base, paths, expected, args.seconds, [slow],
                          SLOW_SETTLE),
            "exports": phase(f"{args.exporters} exporters", base, paths, expected, args.seconds,
                             [exporter] * args.exporters),
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    drops = summed(phases["slow"].pop("abusers"))
    exporters = phases["exports"].pop("abusers")
    exports = summed([report["outcomes"] for report in exporters])
    export_seconds = sorted(round(s, 1) for report in exporters for s in report["whole_seconds"])
    phases["alone"].pop("abusers")
    columns = ("alone", f"{args.slow}×3 slow", f"{args.exporters} exporters")
    rows = [("searches", "searches"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("max ms", "max_ms"),
            ("failed searches", "failed")]
    print()
    print(f"{'':<22}" + "".join(f"{c:>16}" for c in columns))
    for label, key in rows:
        print(f"{label:<22}" + "".join(f"{str(phases[p][key]):>16}" for p in phases))
    alone_p95 = phases["alone"]["p95_ms"] or 0
    for name in ("slow", "exports"):
        p95 = phases[name]["p95_ms"]
        phases[name]["p95_vs_alone"] = round(p95 / alone_p95, 2) if p95 and alone_p95 else None
    print(f"{'p95 / alone':<22}{'':>16}" + "".join(f"{str(phases[p]['p95_vs_alone']):>16}" for p in ("slow", "exports")))
    load_at_end = os.getloadavg()[0]
    print(f"load average at start / end: {load_at_start:.1f} / {load_at_end:.1f} (above the cores: shared, re-run)")
    print(f"slow connections dropped by the server: {drops}")
    print("exports: " + ", ".join(f"{outcome} {count}" for outcome, count in sorted(exports.items()))
          + f"; a whole one took {export_seconds} s")
    for name, figures in phases.items():
        for failure in figures["failures"]:
            print(f"  failed ({name}): {failure}")
    result = {"url": base, "index": str(args.index), "workers": args.workers, "threads": args.threads,
              "heavy_requests": args.heavy_requests, "seconds": args.seconds, "slow_each_kind": args.slow,
              "exporters": args.exporters, "articles": articles, "load_average": [load_at_start, load_at_end], "phases": phases, "slow_dropped": drops,
              "exports": exports, "whole_export_seconds": export_seconds}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"abuse-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
